/**
 * Every rule's arithmetic against a direct float64 implementation written from docs/lrp-spec.md,
 * on a tiny network with a strided padded conv (biased), a stride-1 conv, a max pool,
 * global average pooling and a dense layer: z+, gamma, epsilon (with bias), z_b with custom
 * bounds (no additions here: the splits are checked by the fixture), in float64 and float32.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileExplainer } from '../../src/lrp/compiler.js';
import { layersToGraph } from '../../src/import/keras.js';
import { describeConfig, resolveLrpOptions, SPLIT_MODES, START_MODES, type LrpOptions } from '../../src/lrp/presets.js';
import { describeRule, resolveRule, ruleData, ruleNames, RULES, type Rule, type RuleKind } from '../../src/lrp/rules.js';
import type { Layer, LayerParams, LayerGraph } from '../../src/model/layers.js';
import { CAFFE_INPUT } from '../../src/model/input.js';
import { IO } from '../../src/onnx/classifier.js';
import type { Precision } from '../../src/onnx/graph-builder.js';
import { createSession, ort } from '../../src/runtime/session.js';
import { relativeL2 } from '../support/fixture.js';
import { random } from '../support/tiny-nets.js';

type Tensor3 = Float64Array; // C × H × W, row-major

interface ConvSpec { name: string; cin: number; cout: number; k: number; stride: number; pad: number; h: number; w: number; bias: boolean }

const C0 = 2;
const S0 = 7;
const c1: ConvSpec = { name: 'c1', cin: C0, cout: 3, k: 3, stride: 2, pad: 1, h: S0, w: S0, bias: true };
const out1 = Math.floor((S0 + 2 - 3) / 2) + 1; // 4
const c2: ConvSpec = { name: 'c2', cin: 3, cout: 4, k: 3, stride: 1, pad: 1, h: out1, w: out1, bias: true };
const pooled = out1 - 1; // max pool 2×2, stride 1
const CLASSES = 3;
const BOUNDS = { low: [-1.5, -2], high: [1.5, 2.5] };

const graph: LayerGraph = {
  name: 'tiny',
  input: 'in',
  output: 'fc',
  // Fed NHWC like a Keras model; its z_b bounds are given explicitly (BOUNDS), not derived.
  inputDescription: { ...CAFFE_INPUT, size: S0 },
  layers: [
    { kind: 'input', name: 'in', inputs: [], outputShape: [C0, S0, S0] },
    conv(c1, 'in'),
    { kind: 'relu', name: 'r1', inputs: ['c1'], outputShape: [3, out1, out1] },
    conv(c2, 'r1'),
    { kind: 'relu', name: 'r2', inputs: ['c2'], outputShape: [4, out1, out1] },
    { kind: 'maxPool', name: 'mp', inputs: ['r2'], pool: [2, 2], strides: [1, 1], pads: [0, 0, 0, 0], outputShape: [4, pooled, pooled] },
    { kind: 'globalAvgPool', name: 'gap', inputs: ['mp'], outputShape: [4] },
    { kind: 'dense', name: 'fc', inputs: ['gap'], units: CLASSES, activation: 'softmax', outputShape: [CLASSES] },
  ],
};

function conv(spec: ConvSpec, input: string): Layer {
  const o = Math.floor((spec.h + 2 * spec.pad - spec.k) / spec.stride) + 1;
  const p = spec.pad;
  return { kind: 'conv', name: spec.name, inputs: [input], filters: spec.cout, kernel: [spec.k, spec.k], strides: [spec.stride, spec.stride], pads: [p, p, p, p], useBias: spec.bias, outputShape: [spec.cout, o, o] };
}

const rand = random(42);
/** Float32-representable values, so both precisions see the same parameters. */
const values = (n: number, scale: number, offset = 0) => Float32Array.from({ length: n }, () => rand() * scale + offset);
const kernel1 = values(3 * 3 * C0 * 3, 1.2);
const kernel2 = values(3 * 3 * 3 * 4, 1.0);
const dense = values(4 * CLASSES, 1.0);
const params = new Map<string, LayerParams>([
  ['c1', { kernel: { data: kernel1, shape: [3, 3, C0, 3] }, bias: { data: values(3, 0.2, 0.05), shape: [3] } }],
  ['c2', { kernel: { data: kernel2, shape: [3, 3, 3, 4] }, bias: { data: values(4, 0.2, 0.05), shape: [4] } }],
  ['fc', { kernel: { data: dense, shape: [4, CLASSES] }, bias: { data: values(CLASSES, 0.4), shape: [CLASSES] } }],
]);
/** Input (H, W, C) within the z_b bounds. */
const input = Float32Array.from({ length: S0 * S0 * C0 }, (_, i) => {
  const c = i % C0;
  return Math.fround(BOUNDS.low[c]! + (rand() + 0.5) * (BOUNDS.high[c]! - BOUNDS.low[c]!));
});

// ---- the reference, straight from the spec (float64, explicit loops) ----

/** Keras kernel (kh, kw, in, out) entry. */
const kw = (k: Float32Array, s: ConvSpec, o: number, c: number, y: number, x: number) => k[((y * s.k + x) * s.cin + c) * s.cout + o]!;

function convForward(s: ConvSpec, k: Float32Array, b: Float32Array | undefined, x: Tensor3): Tensor3 {
  const o = Math.floor((s.h + 2 * s.pad - s.k) / s.stride) + 1;
  const y = new Float64Array(s.cout * o * o);
  for (let m = 0; m < s.cout; m++) {
    for (let oy = 0; oy < o; oy++) {
      for (let ox = 0; ox < o; ox++) {
        let acc = b ? b[m]! : 0;
        for (let c = 0; c < s.cin; c++) {
          for (let ky = 0; ky < s.k; ky++) {
            for (let kx = 0; kx < s.k; kx++) {
              const iy = oy * s.stride - s.pad + ky;
              const ix = ox * s.stride - s.pad + kx;
              if (iy < 0 || ix < 0 || iy >= s.h || ix >= s.w) continue;
              acc += x[(c * s.h + iy) * s.w + ix]! * kw(k, s, m, c, ky, kx);
            }
          }
        }
        y[(m * o + oy) * o + ox] = acc;
      }
    }
  }
  return y;
}

const stab = (z: number, eps: number) => z + (z < 0 ? -eps : eps);
const plus = (w: number) => Math.max(w, 0);
const minus = (w: number) => Math.min(w, 0);

/** One conv rule: returns R at the conv input. Terms follow docs/lrp-spec.md literally. */
function convLrp(s: ConvSpec, k: Float32Array, b: Float32Array, x: Tensor3, r: Tensor3, rule: Rule, eps: number): Tensor3 {
  type Term = [(c: number, i: number) => number, (w: number) => number];
  const low = (c: number) => BOUNDS.low[c]!;
  const high = (c: number) => BOUNDS.high[c]!;
  const act = (c: number, i: number) => x[c * s.h * s.w + i]!;
  const actPlus = (c: number, i: number) => plus(act(c, i));
  const actMinus = (c: number, i: number) => minus(act(c, i));
  // z+ and gamma in their textbook form: positive contributions (a⁺ with W⁺, a⁻ with W⁻) only.
  const terms: Term[] = rule.name === 'zplus' ? [[actPlus, plus], [actMinus, minus]]
    : rule.name === 'gamma' ? [[actPlus, (w) => w + rule.gamma * plus(w)], [actMinus, (w) => w + rule.gamma * minus(w)]]
    : rule.name === 'epsilon' ? [[act, (w) => w]]
    : [[act, (w) => w], [(c) => low(c), (w) => -plus(w)], [(c) => high(c), (w) => -minus(w)]];
  const useBias = rule.name === 'epsilon';
  const e = rule.name === 'epsilon' ? rule.epsilon : eps;
  const o = Math.floor((s.h + 2 * s.pad - s.k) / s.stride) + 1;
  const rIn = new Float64Array(s.cin * s.h * s.w);
  for (let m = 0; m < s.cout; m++) {
    for (let oy = 0; oy < o; oy++) {
      for (let ox = 0; ox < o; ox++) {
        const window: [number, number, number, number][] = [];
        for (let c = 0; c < s.cin; c++) {
          for (let ky = 0; ky < s.k; ky++) {
            for (let kx = 0; kx < s.k; kx++) {
              const iy = oy * s.stride - s.pad + ky;
              const ix = ox * s.stride - s.pad + kx;
              if (iy >= 0 && ix >= 0 && iy < s.h && ix < s.w) window.push([c, iy * s.w + ix, ky, kx]);
            }
          }
        }
        let z = useBias ? b[m]! : 0;
        for (const [c, i, ky, kx] of window) for (const [inp, wt] of terms) z += inp(c, i) * wt(kw(k, s, m, c, ky, kx));
        const q = r[(m * o + oy) * o + ox]! / stab(z, e);
        for (const [c, i, ky, kx] of window) {
          for (const [inp, wt] of terms) rIn[c * s.h * s.w + i] = rIn[c * s.h * s.w + i]! + inp(c, i) * wt(kw(k, s, m, c, ky, kx)) * q;
        }
      }
    }
  }
  return rIn;
}

function reference(rules: { first: Rule; conv: Rule; dense: Rule }, eps: number, target: number): { logits: Float64Array; relevance: Float64Array } {
  const x = new Float64Array(C0 * S0 * S0);
  for (let i = 0; i < S0 * S0; i++) for (let c = 0; c < C0; c++) x[c * S0 * S0 + i] = input[i * C0 + c]!;
  const b1 = params.get('c1')!.bias!.data;
  const b2 = params.get('c2')!.bias!.data;
  const bd = params.get('fc')!.bias!.data;
  const a1 = convForward(c1, kernel1, b1, x).map((v) => Math.max(v, 0));
  const a2 = convForward(c2, kernel2, b2, a1).map((v) => Math.max(v, 0));
  const mp = new Float64Array(4 * pooled * pooled);
  for (let c = 0; c < 4; c++) for (let y = 0; y < pooled; y++) for (let xx = 0; xx < pooled; xx++) {
    const at = (dy: number, dx: number) => a2[(c * out1 + y + dy) * out1 + xx + dx]!;
    mp[(c * pooled + y) * pooled + xx] = Math.max(at(0, 0), at(0, 1), at(1, 0), at(1, 1));
  }
  const gap = Float64Array.from({ length: 4 }, (_, c) => mp.slice(c * pooled * pooled, (c + 1) * pooled * pooled).reduce((p, v) => p + v, 0) / (pooled * pooled));
  const logits = Float64Array.from({ length: CLASSES }, (_, j) => gap.reduce((p, v, i) => p + v * dense[i * CLASSES + j]!, bd[j]!));

  // dense
  const d = rules.dense;
  const wd = (w: number) => (d.name === 'zplus' ? plus(w) : d.name === 'gamma' ? w + d.gamma * plus(w) : w);
  const z = logits.map((_, j) => gap.reduce((p, v, i) => p + v * wd(dense[i * CLASSES + j]!), d.name === 'epsilon' ? bd[j]! : 0));
  const q = z.map((zj, j) => (j === target ? logits[j]! : 0) / stab(zj, d.name === 'epsilon' ? d.epsilon : eps));
  const rGap = gap.map((v, i) => v * q.reduce((p, qj, j) => p + wd(dense[i * CLASSES + j]!) * qj, 0));
  // global average pool: z+ with uniform weights
  const rMp = mp.map((v, i) => {
    const c = Math.floor(i / (pooled * pooled));
    const total = mp.slice(c * pooled * pooled, (c + 1) * pooled * pooled).reduce((p, u) => p + u, 0);
    return (v * rGap[c]!) / stab(total, eps);
  });
  // max pool as average pool over the same windows
  const rA2 = new Float64Array(a2.length);
  for (let c = 0; c < 4; c++) for (let y = 0; y < pooled; y++) for (let xx = 0; xx < pooled; xx++) {
    const cells = [[0, 0], [0, 1], [1, 0], [1, 1]].map(([dy, dx]) => (c * out1 + y + dy!) * out1 + xx + dx!);
    const total = cells.reduce((p, i) => p + a2[i]!, 0);
    for (const i of cells) rA2[i] = rA2[i]! + (a2[i]! * rMp[(c * pooled + y) * pooled + xx]!) / stab(total, eps);
  }
  const rA1 = convLrp(c2, kernel2, b2, a1, rA2, rules.conv, eps);
  return { logits, relevance: convLrp(c1, kernel1, b1, x, rA1, rules.first, eps) };
}

// ---- the compiled graph ----

async function compiled(options: LrpOptions, precision: Precision, target: number) {
  const config = resolveLrpOptions({ ...options, inputBounds: BOUNDS });
  const model = layersToGraph(graph, params);
  const session = await createSession(compileExplainer(model.graph, model.weights, config, precision).model);
  try {
    const out = await session.run({
      [IO.input]: new ort.Tensor('float32', input, [1, S0, S0, C0]),
      [IO.target]: new ort.Tensor('int64', BigInt64Array.of(BigInt(target)), [1]),
    });
    const nhwc = out[IO.relevance]!.data as Float32Array;
    const relevance = new Float64Array(nhwc.length);
    for (let i = 0; i < S0 * S0; i++) for (let c = 0; c < C0; c++) relevance[c * S0 * S0 + i] = nhwc[i * C0 + c]!;
    return { logits: out[IO.logits]!.data as Float32Array, relevance };
  } finally {
    await session.release();
  }
}

const CASES: [string, LrpOptions][] = [
  ['z_b first, z+ conv, z+ dense', { first: 'zb', conv: 'zplus', dense: 'zplus' }],
  ['z_b first, gamma conv, epsilon dense', { first: 'zb', conv: { name: 'gamma', gamma: 0.5 }, dense: { name: 'epsilon', epsilon: 0.1 } }],
  ['z+ first, epsilon conv, gamma dense', { first: 'zplus', conv: { name: 'epsilon', epsilon: 0.01 }, dense: { name: 'gamma', gamma: 0.25 } }],
  ['gamma first, z+ conv, z+ dense, larger stabilizer', { first: { name: 'gamma', gamma: 1 }, conv: 'zplus', dense: 'zplus', epsilon: 1e-3 }],
];

for (const [name, options] of CASES) {
  test(`rule arithmetic: ${name}`, async () => {
    const config = resolveLrpOptions({ ...options, inputBounds: BOUNDS });
    for (const target of [0, 2]) {
      const ref = reference({ first: config.first, conv: config.conv, dense: config.dense }, config.epsilon, target);
      assert.ok(ref.relevance.some((v) => v !== 0), 'the reference propagates something');
      // float64 computes in double; its outputs are float32, so ~6e-8 is the rounding of the result.
      for (const [precision, tolerance] of [['float64', 1e-7], ['float32', 1e-4]] as const) {
        const got = await compiled(options, precision, target);
        for (let j = 0; j < CLASSES; j++) assert.ok(Math.abs(got.logits[j]! - ref.logits[j]!) < 1e-5, `logit ${j}`);
        const error = relativeL2(got.relevance, ref.relevance);
        assert.ok(error < tolerance, `${precision}, target ${target}: relative L2 error ${error}`);
      }
    }
  });
}

test('rule specs resolve with their defaults', () => {
  assert.deepEqual(resolveRule('gamma', 'x'), { name: 'gamma', gamma: 0.25 });
  assert.deepEqual(resolveRule({ name: 'epsilon' }, 'x'), { name: 'epsilon', epsilon: 1e-6 });
  assert.throws(() => resolveRule('nope' as never, 'rule for conv layers'), /rule for conv layers: unknown rule "nope"/);
});

test('the registry: every rule of every kind resolves with its defaults and has a description; parameters reach the data', () => {
  for (const kind of Object.keys(RULES) as RuleKind[]) {
    for (const name of ruleNames(kind)) {
      const rule = resolveRule(name as never, 'x', kind);
      assert.equal(rule.name, name);
      assert.ok((RULES[kind] as Record<string, { description: string }>)[name]!.description.length > 10, `${kind} ${name}: description`);
    }
  }
  const gamma = ruleData('linear', resolveRule({ name: 'gamma', gamma: 0.5 }, 'x'));
  // The textbook form: γ on the positive weights for positive inputs, on the negative ones for negative inputs.
  assert.deepEqual(gamma.terms, [
    { input: 'activation+', param: { kind: 'gamma', gamma: 0.5 }, sign: 1 },
    { input: 'activation-', param: { kind: 'gamma-negative', gamma: 0.5 }, sign: 1 },
  ]);
  assert.deepEqual(ruleData('linear', resolveRule({ name: 'epsilon', epsilon: 0.1 }, 'x')).stabilizer, { mode: 'signed', epsilon: 0.1 });
  assert.deepEqual(SPLIT_MODES, ['ratio', 'ratio-no-fallback', 'symmetric', 'gradient']);
  assert.deepEqual(START_MODES, ['logit', 'softmax', 'softmax-predicted', 'gradient']);
  assert.deepEqual(ruleData('linear', resolveRule('gradient', 'x')), {
    terms: [{ input: 'activation', param: { kind: 'identity' }, sign: 1 }], reducer: 'adjoint', bias: false, stabilizer: { mode: 'none' },
  });
  assert.equal(describeRule(resolveRule({ name: 'gamma', gamma: 0.5 }, 'x')), 'gamma(γ=0.5)');
  assert.throws(() => resolveRule({ name: 'zplus', gamma: 1 } as never, 'rule for conv layers'), /rule for conv layers: the zplus rule takes no parameter "gamma"/);
  assert.throws(() => resolveRule({ name: 'epsilon', epsilon: 0 }, 'x'), /x: epsilon must be a finite number > 0, got 0/);
  assert.throws(() => resolveRule('window-average' as never, 'rule for conv layers'), /unknown rule "window-average" \(expected zplus, gamma, gamma-signed, epsilon, zb, zplus-ones, flat, wsquare or gradient\)/);
});

test('options: stabilizer, per-layer rules of any kind, and the official preset in one line', () => {
  assert.equal(describeConfig(resolveLrpOptions({ preset: 'official' })),
    'first=zplus-ones conv=zplus dense=zplus maxPool=avg2x2 globalAvgPool=zplus-mean split=ratio-no-fallback start=softmax-predicted ε=0.00001 additive');
  assert.equal(describeConfig(resolveLrpOptions({})), 'first=zb conv=zplus dense=zplus split=ratio start=logit ε=1e-9');
  assert.throws(() => resolveLrpOptions({ stabilizer: 'sign' as never }), /stabilizer must be one of "signed", "additive", got "sign"/);
  assert.throws(() => resolveLrpOptions({ layers: { x: 'nope' as never } }), /rule for layer x: unknown rule "nope" \(expected zplus, .*, pass, .*ratio-no-fallback/);
  assert.throws(() => resolveLrpOptions({ layers: { x: { name: 'gamma', gamma: Number.NaN } } }), /rule for layer x: gamma must be a finite number ≥ 0, got NaN/);
  assert.equal(resolveLrpOptions({ layers: { pool1_pool: 'gradient' } }).layers.pool1_pool, 'gradient');
});
