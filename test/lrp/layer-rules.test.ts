/**
 * Every rule of every layer kind, the stabilizers, the reducers and the composite's per-layer
 * overrides against the direct float64 implementation in `test/support/reference-lrp.ts`, on
 * tiny residual networks in the Keras layout (zero-padding layers) and the torchvision layout
 * (pools and convs padding themselves). The presets `official` and `gradient` are checked
 * against the semantics written out here, not against the preset table.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileExplainer } from '../../src/lrp/compiler.js';
import { resolveLrpOptions, type LrpOptions } from '../../src/lrp/presets.js';
import { layersToGraph } from '../../src/import/keras.js';
import type { Layer, LayerGraph, LayerParams } from '../../src/model/layers.js';
import type { LayerWeights } from '../../src/weights/types.js';
import { relativeL2 } from '../support/fixture.js';
import { referenceRelevance, type RefOptions, type RefRule } from '../support/reference-lrp.js';
import { BOUNDS, CLASSES, CHANNELS, SIZE, runExplainer, runExplainerBatch, tinyInput, tinyResNet, tinyWeights, toChw, type Stem } from '../support/tiny-nets.js';
import { CAFFE_INPUT } from '../../src/model/input.js';

/** Which rule the reference applies where: by kind, the stem conv `c1` as the first layer, and by name. */
interface Setup {
  first: RefRule;
  conv: RefRule;
  dense: RefRule;
  relu: string;
  batchNorm: string;
  maxPool: string;
  globalAvgPool: string;
  add: string;
  start: RefOptions['start'];
  stabilizer: RefOptions['stabilizer'];
  epsilon: number;
  layers?: Record<string, RefRule>;
}

const LRP: Setup = {
  first: { name: 'zb' }, conv: { name: 'zplus' }, dense: { name: 'zplus' }, relu: 'pass', batchNorm: 'pass',
  maxPool: 'window-average', globalAvgPool: 'zplus', add: 'ratio', start: 'logit', stabilizer: 'signed', epsilon: 1e-9,
};
/** The paper's released code, as docs/lrp-spec.md describes it. */
const OFFICIAL: Setup = {
  first: { name: 'zplus-ones' }, conv: { name: 'zplus' }, dense: { name: 'zplus' }, relu: 'pass', batchNorm: 'pass',
  maxPool: 'avg2x2', globalAvgPool: 'zplus-mean', add: 'ratio-no-fallback', start: 'softmax-predicted', stabilizer: 'additive', epsilon: 1e-5,
};
/** The chain rule everywhere, starting from ∂y_t/∂y_t = 1. */
const GRADIENT: Setup = {
  first: { name: 'gradient' }, conv: { name: 'gradient' }, dense: { name: 'gradient' }, relu: 'gradient', batchNorm: 'gradient',
  maxPool: 'gradient', globalAvgPool: 'gradient', add: 'gradient', start: 'gradient', stabilizer: 'signed', epsilon: 1e-9,
};

function refOptions(setup: Setup, target: number): RefOptions {
  const rule = (layer: Layer): RefRule => {
    const override = setup.layers?.[layer.name];
    if (override) return override;
    switch (layer.kind) {
      case 'conv': return layer.name === 'c1' ? setup.first : setup.conv;
      case 'dense': return setup.dense;
      case 'relu': case 'batchNorm': case 'maxPool': case 'globalAvgPool': return { name: setup[layer.kind as 'relu' | 'batchNorm' | 'maxPool' | 'globalAvgPool'] };
      case 'add': return { name: setup.add };
      default: throw new Error(`no rule for ${layer.kind}`);
    }
  };
  return { rule, start: setup.start, stabilizer: setup.stabilizer, epsilon: setup.epsilon, bounds: BOUNDS, target };
}

const STEMS: Stem[] = ['keras', 'torch'];
const nets = new Map(STEMS.map((stem) => {
  const graph = tinyResNet(stem);
  return [stem, { graph, weights: tinyWeights(graph, 7), input: tinyInput(11) }] as const;
}));
const inputChw = (input: Float32Array) => toChw(input, CHANNELS, SIZE * SIZE);

/** The reference's relevance for one setup. */
function reference(stem: Stem, setup: Setup, target: number) {
  const { graph, weights, input } = nets.get(stem)!;
  return referenceRelevance(graph, weights, inputChw(input), refOptions(setup, target));
}

interface Case {
  name: string;
  options: LrpOptions;
  setup: Setup;
  /** A plausible wrong implementation (one knob changed) that the comparison must tell apart. */
  mutant?: { what: string; setup: Setup };
  /** float32 tolerance (relative L2); float64 is 1e-7 throughout. */
  float32?: number;
}

const CASES: Case[] = [
  {
    name: 'official preset',
    options: { preset: 'official' },
    setup: OFFICIAL,
    // With ε = 1e-5 the global pool's ε on the sum instead of the mean moves the result by ~1e-6.
    mutant: { what: 'ε on the global pool’s sum', setup: { ...OFFICIAL, globalAvgPool: 'zplus' } },
  },
  {
    name: 'official preset, ε = 0.05',
    options: { preset: 'official', epsilon: 0.05 },
    setup: { ...OFFICIAL, epsilon: 0.05 },
    mutant: { what: 'the default composite’s first layer (z_b)', setup: { ...OFFICIAL, epsilon: 0.05, first: { name: 'zb' } } },
  },
  {
    name: 'additive stabilizer on gamma convs, z+ on ones first',
    options: { first: 'zplus-ones', conv: { name: 'gamma', gamma: 0.5 }, stabilizer: 'additive', epsilon: 0.05 },
    setup: { ...LRP, first: { name: 'zplus-ones' }, conv: { name: 'gamma', gamma: 0.5 }, stabilizer: 'additive', epsilon: 0.05 },
    // gamma's z can be negative, where z + ε and z + ε·sign(z) differ.
    mutant: { what: 'a signed ε', setup: { ...LRP, first: { name: 'zplus-ones' }, conv: { name: 'gamma', gamma: 0.5 }, stabilizer: 'signed', epsilon: 0.05 } },
  },
  {
    name: 'Flat first, W² convs, epsilon dense, avg2x2, z+ on the mean',
    options: { first: 'flat', conv: 'wsquare', dense: { name: 'epsilon', epsilon: 0.01 }, maxPool: 'avg2x2', globalAvgPool: 'zplus-mean', epsilon: 1e-3 },
    setup: { ...LRP, first: { name: 'flat' }, conv: { name: 'wsquare' }, dense: { name: 'epsilon', epsilon: 0.01 }, maxPool: 'avg2x2', globalAvgPool: 'zplus-mean', epsilon: 1e-3 },
    mutant: { what: 'the max pool’s own windows', setup: { ...LRP, first: { name: 'flat' }, conv: { name: 'wsquare' }, dense: { name: 'epsilon', epsilon: 0.01 }, globalAvgPool: 'zplus-mean', epsilon: 1e-3 } },
  },
  {
    name: 'gradient preset',
    options: { preset: 'gradient' },
    setup: GRADIENT,
    mutant: { what: 'ReLUs passing relevance', setup: { ...GRADIENT, relu: 'pass' } },
  },
  {
    name: 'guided-backprop preset',
    options: { preset: 'guided-backprop' },
    setup: { ...GRADIENT, relu: 'guided' },
    mutant: { what: 'plain gradient ReLUs', setup: GRADIENT },
  },
  {
    name: 'gradient ReLU and batch norm inside LRP, softmax start, ratio without fallback',
    options: { relu: 'gradient', batchNorm: 'gradient', split: 'ratio-no-fallback', start: 'softmax', maxPool: 'gradient' },
    setup: { ...LRP, relu: 'gradient', batchNorm: 'gradient', add: 'ratio-no-fallback', start: 'softmax', maxPool: 'gradient' },
    mutant: { what: 'batch norm passing relevance', setup: { ...LRP, relu: 'gradient', add: 'ratio-no-fallback', start: 'softmax', maxPool: 'gradient' } },
  },
  {
    name: 'per-layer overrides of every kind',
    options: { layers: { c2: 'gradient', r2: 'guided', bn3: 'gradient', add: 'symmetric', mp: 'gradient', gap: 'zplus-mean', fc: { name: 'epsilon', epsilon: 0.1 } } },
    setup: {
      ...LRP,
      layers: { c2: { name: 'gradient' }, r2: { name: 'guided' }, bn3: { name: 'gradient' }, add: { name: 'symmetric' }, mp: { name: 'gradient' }, gap: { name: 'zplus-mean' }, fc: { name: 'epsilon', epsilon: 0.1 } },
    },
    mutant: {
      what: 'the add override ignored',
      setup: { ...LRP, layers: { c2: { name: 'gradient' }, r2: { name: 'guided' }, bn3: { name: 'gradient' }, mp: { name: 'gradient' }, gap: { name: 'zplus-mean' }, fc: { name: 'epsilon', epsilon: 0.1 } } },
    },
  },
];

const FLOAT64_TOLERANCE = 1e-7;

for (const c of CASES) {
  describe(`layer rules: ${c.name}`, () => {
    for (const stem of STEMS) {
      test(`${stem} layout`, async () => {
        const { graph, weights, input } = nets.get(stem)!;
        for (const target of [-1, 1]) {
          const ref = reference(stem, c.setup, target);
          assert.ok(ref.relevance.some((v) => v !== 0) && ref.relevance.every(Number.isFinite), 'the reference propagates something finite');
          if (c.mutant) {
            const apart = relativeL2(reference(stem, c.mutant.setup, target).relevance, ref.relevance);
            assert.ok(apart > 10 * FLOAT64_TOLERANCE, `${c.mutant.what} is only ${apart} away: the comparison could not tell`);
          }
          for (const [precision, tolerance] of [['float64', FLOAT64_TOLERANCE], ['float32', c.float32 ?? 1e-5]] as const) {
            const got = await runExplainer(graph, weights, c.options, precision, input, target);
            assert.equal(got.explained, ref.explained, `${precision}, target ${target}: explained class`);
            for (let j = 0; j < CLASSES; j++) assert.ok(Math.abs(got.logits[j]! - ref.logits[j]!) < 1e-5, `logit ${j}`);
            const error = relativeL2(got.relevance, ref.relevance);
            assert.ok(error < tolerance, `${precision}, target ${target}: relative L2 error ${error}`);
            if (process.env.RESNET_LRP_TEST_VERBOSE) console.log(`${c.name} | ${stem} | ${precision} | target ${target} | ${error.toExponential(1)}`);
          }
        }
      });
    }
  });
}

test('softmax-predicted explains the predicted class even when another is asked for', async () => {
  const { graph, weights, input } = nets.get('torch')!;
  const predicted = reference('torch', OFFICIAL, -1).explained;
  const other = (predicted + 1) % CLASSES;
  const got = await runExplainer(graph, weights, { preset: 'official' }, 'float32', input, other);
  assert.equal(got.explained, predicted);
  const softmax = await runExplainer(graph, weights, { preset: 'official', start: 'softmax' }, 'float32', input, other);
  assert.equal(softmax.explained, other);
});

test('a batch equals single runs for the new rules (argmax routing, ones input, 2×2 windows, the split)', async () => {
  for (const stem of STEMS) {
    const { graph, weights, input } = nets.get(stem)!;
    const inputs = [input, tinyInput(12), tinyInput(13)];
    const targets = [2, -1, 0];
    for (const options of [{ preset: 'gradient' }, { preset: 'official' }, { first: 'flat', globalAvgPool: 'zplus-mean', split: 'ratio-no-fallback' }] as LrpOptions[]) {
      const batch = await runExplainerBatch(graph, weights, options, 'float64', inputs, targets);
      for (let i = 0; i < inputs.length; i++) {
        const single = await runExplainer(graph, weights, options, 'float64', inputs[i]!, targets[i]!);
        assert.equal(batch[i]!.explained, single.explained);
        assert.deepEqual(batch[i]!.relevance, single.relevance, `${stem}, ${JSON.stringify(options)}, image ${i}`);
      }
      assert.notDeepEqual(batch[0]!.relevance, batch[1]!.relevance);
    }
  }
});

// ---- the split rules where both inputs of an addition are zero ----

/** Two 1×1 convs pick one input channel each; where both are negative, both ReLUs give 0 and the add sees 0 + 0. */
function splitNet(): { graph: LayerGraph; weights: LayerWeights; input: Float32Array } {
  const s = 3;
  const conv = (name: string): Layer => ({ kind: 'conv', name, inputs: ['in'], filters: 1, kernel: [1, 1], strides: [1, 1], pads: [0, 0, 0, 0], useBias: false, outputShape: [1, s, s] });
  const graph: LayerGraph = {
    name: 'split', input: 'in', output: 'fc', inputDescription: { ...CAFFE_INPUT, size: s },
    layers: [
      { kind: 'input', name: 'in', inputs: [], outputShape: [2, s, s] },
      conv('ca'), conv('cb'),
      { kind: 'relu', name: 'ra', inputs: ['ca'], outputShape: [1, s, s] },
      { kind: 'relu', name: 'rb', inputs: ['cb'], outputShape: [1, s, s] },
      { kind: 'add', name: 'add', inputs: ['ra', 'rb'], outputShape: [1, s, s] },
      { kind: 'globalAvgPool', name: 'gap', inputs: ['add'], outputShape: [1] },
      { kind: 'dense', name: 'fc', inputs: ['gap'], units: 2, activation: 'linear', outputShape: [2] },
    ],
  };
  const weights: LayerWeights = new Map<string, LayerParams>([
    ['ca', { kernel: { data: Float32Array.of(1, 0), shape: [1, 1, 2, 1] } }],
    ['cb', { kernel: { data: Float32Array.of(0, 1), shape: [1, 1, 2, 1] } }],
    ['fc', { kernel: { data: Float32Array.of(0.75, -0.5), shape: [1, 2] }, bias: { data: Float32Array.of(0.1, 0.2), shape: [2] } }],
  ]);
  // (H, W, C): position 4 has both channels negative: 0/0 at the add.
  const input = Float32Array.of(1, -1, -2, 3, 0.5, 0.5, 2, -1, -1, -3, 4, -2, -1, 1, 3, 0, 0.25, 2);
  return { graph, weights, input };
}

test('split rules at 0/0: ratio falls back to halves, ratio-no-fallback passes nothing, gradient copies', async () => {
  const { graph, weights, input } = splitNet();
  // The gradient downstream gives every position of the add relevance w_t/9, even where it outputs 0.
  const downstream: LrpOptions = { first: 'gradient', relu: 'pass', globalAvgPool: 'gradient', dense: 'gradient', start: 'gradient' };
  const r = 0.75 / 9;
  const expectedAt4: Record<string, [number, number]> = { ratio: [r / 2, r / 2], 'ratio-no-fallback': [0, 0], symmetric: [r / 2, r / 2], gradient: [r, r] };
  for (const split of ['ratio', 'ratio-no-fallback', 'symmetric', 'gradient'] as const) {
    const ref = referenceRelevance(graph, weights, toChw(input, 2, 9), {
      rule: (l) => ({ name: l.kind === 'conv' || l.kind === 'dense' || l.kind === 'globalAvgPool' ? 'gradient' : l.kind === 'add' ? split : 'pass' }),
      start: 'gradient', stabilizer: 'signed', epsilon: 1e-9, target: 0,
    });
    for (const precision of ['float64', 'float32'] as const) {
      const got = await runExplainer(graph, weights, { ...downstream, split }, precision, input, 0);
      assert.ok(relativeL2(got.relevance, ref.relevance) < 1e-6, `${split}, ${precision}: relative L2 error ${relativeL2(got.relevance, ref.relevance)}`);
      // Channel-major (C, 9): position 4 of each channel.
      assert.ok(Math.abs(got.relevance[4]! - expectedAt4[split]![0]) < 1e-7 && Math.abs(got.relevance[9 + 4]! - expectedAt4[split]![1]) < 1e-7,
        `${split}, ${precision}: at 0/0 got ${got.relevance[4]}, ${got.relevance[13]}`);
    }
  }
});

// ---- the composite's checks ----

test('rules are checked against their layer kind, once, when the graph is compiled', () => {
  const net = nets.get('keras')!;
  const { graph, weights } = layersToGraph(net.graph, net.weights);
  const compile = (options: LrpOptions) => compileExplainer(graph, weights, resolveLrpOptions({ inputBounds: BOUNDS, ...options }));
  assert.throws(() => compile({ layers: { r1: 'zplus' } }), /rule override for "r1": a Relu node takes pass, gradient or guided, not "zplus"/);
  assert.throws(() => compile({ layers: { pad0: 'gradient' } }), /rule override for "pad0": a Pad node takes no rule/);
  assert.throws(() => compile({ layers: { c2: 'zb' } }), /node c2: the zb rule needs input bounds, so it only applies to the first layer \(c1\)/);
  assert.throws(() => compile({ layers: { fc: { name: 'gamma', gamma: -1 } } }), /rule for layer fc: gamma must be a finite number ≥ 0, got -1/);
  const compiled = compile({ layers: { add: 'symmetric', mp: 'gradient' } });
  assert.deepEqual(compiled.rules.get('add'), { kind: 'add', rule: { name: 'symmetric' } });
  assert.deepEqual(compiled.rules.get('mp'), { kind: 'maxPool', rule: { name: 'gradient' } });
  assert.deepEqual(compiled.rules.get('c1'), { kind: 'linear', rule: { name: 'zb' } });
  assert.deepEqual(compiled.rules.get('bn1'), { kind: 'batchNorm', rule: { name: 'pass' } });
});

test('avg2x2 needs 2×2/2 windows that fit the max pool’s output', () => {
  const graph = tinyResNet('torch');
  // A 3×3/1 pool keeps 4×4 → 4×4, which 2×2/2 windows (2×2) cannot produce.
  const layers = graph.layers.map((l) => (l.name === 'mp' ? { ...l, strides: [1, 1], outputShape: [3, 8, 8] } : l)) as Layer[];
  const odd: LayerGraph = { ...graph, layers: layers.map((l) => (l.name === 'c2' || l.name === 'bn2' || l.name === 'r2' || l.name === 'c3' || l.name === 'bn3' || l.name === 'add' || l.name === 'r3'
    ? { ...l, outputShape: [3, 8, 8] } : l)) as Layer[] };
  const model = layersToGraph(odd, tinyWeights(odd, 1));
  assert.throws(() => compileExplainer(model.graph, model.weights, resolveLrpOptions({ preset: 'official' })),
    /node mp: the avg2x2 rule's 2×2\/2 windows over its unpadded 8×8 input give 4×4, but the max pool outputs 8×8/);
});
