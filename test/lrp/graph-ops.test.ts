/**
 * The relevance of each op category of docs/lrp-spec.md ("Any CNN in an ONNX file") on small
 * graphs written node by node:
 * - under the `gradient` preset the compiled pass is the chain rule, so every op's backward
 *   step (routing adjoints, grouped and dilated convs, ceil_mode pools, activations, gates,
 *   affine ops) is checked against finite differences of onnxruntime running the file itself;
 * - under the LRP rules, routing ops, additions, gates and z+ conserve relevance exactly where no
 *   denominator vanishes (positive weights and inputs make sure none does).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LrpModel } from '../../src/lrp-model.js';
import type { LrpOptions } from '../../src/lrp/presets.js';
import { ort } from '../../src/runtime/session.js';
import { relativeL2 } from '../support/fixture.js';
import { intInit, opGraphInput, opGraphOnnx, param, type OpGraph } from '../support/graph-onnx.js';

const SIZE = 6;
const TARGET = 1;

/** ∂logit_t/∂x by central differences of onnxruntime on the file (float32, one batch). */
async function finiteDifferences(bytes: Uint8Array, x: Float32Array, target: number, h: number): Promise<Float64Array> {
  const n = x.length;
  const batch = new Float32Array(2 * n * n);
  for (let i = 0; i < n; i++) {
    batch.set(x, 2 * i * n);
    batch.set(x, (2 * i + 1) * n);
    batch[2 * i * n + i] = x[i]! + h;
    batch[(2 * i + 1) * n + i] = x[i]! - h;
  }
  const session = await ort.InferenceSession.create(bytes);
  try {
    const out = await session.run({ input: new ort.Tensor('float32', batch, [2 * n, 3, SIZE, SIZE]) });
    const logits = out.logits!.data as Float32Array;
    const classes = logits.length / (2 * n);
    return Float64Array.from({ length: n }, (_, i) => (logits[2 * i * classes + target]! - logits[(2 * i + 1) * classes + target]!) / (2 * h));
  } finally {
    await session.release();
  }
}

async function explain(bytes: Uint8Array, x: Float32Array, rules: LrpOptions) {
  const model = await LrpModel.load({ weights: bytes, rules, precision: 'float64' });
  try {
    return await model.computeLrp(x, { classIndex: TARGET, debug: true });
  } finally {
    await model.dispose();
  }
}

/** A 1×1 conv 3 → 4 channels (so that channel ops have something to move), then the case's nodes. */
function withStem(spec: OpGraph, stem: { lo: number; hi: number } = { lo: -1, hi: 1 }): OpGraph {
  return {
    ...spec,
    nodes: [{ name: 'stem', op: 'Conv', inputs: ['input', 'stem.weight', 'stem.bias'], outputs: ['s'], attributes: { kernel_shape: [1, 1] } }, ...spec.nodes],
    initializers: [param('stem.weight', [4, 3, 1, 1], 7, stem.lo, stem.hi), param('stem.bias', [4], 8, 0, 0.2), ...(spec.initializers ?? [])],
  };
}

/** Routing ops: each moves values, so its adjoint moves relevance back exactly. */
const ROUTING: Record<string, OpGraph> = {
  'strided Slice (option-A shortcut) and channel Pad': {
    nodes: [
      { name: 'slice', op: 'Slice', inputs: ['s', 'starts', 'ends', 'axes', 'steps'], outputs: ['sliced'] },
      { name: 'pad', op: 'Pad', inputs: ['sliced', 'pads'], outputs: ['features'], attributes: { mode: 'constant' } },
    ],
    initializers: [intInit('starts', [1, 0]), intInit('ends', [2 ** 62, 2 ** 62]), intInit('axes', [2, 3]), intInit('steps', [2, 2]), intInit('pads', [0, 2, 0, 0, 0, 2, 0, 0])],
    features: [8, 3, 3],
  },
  'Slice with a negative step, Pad that crops': {
    nodes: [
      { name: 'flip', op: 'Slice', inputs: ['s', 'fstarts', 'fends', 'faxes', 'fsteps'], outputs: ['flipped'] },
      { name: 'crop', op: 'Pad', inputs: ['flipped', 'cpads'], outputs: ['features'], attributes: { mode: 'constant' } },
    ],
    initializers: [intInit('fstarts', [-2]), intInit('fends', [-(2 ** 62)]), intInit('faxes', [3]), intInit('fsteps', [-1]), intInit('cpads', [0, 0, -1, 1, 0, 0, 0, -2])],
    features: [4, 5, 4],
  },
  'Concat of overlapping channel slices, Split, Transpose': {
    nodes: [
      { name: 'a', op: 'Slice', inputs: ['s', 'a0', 'a1', 'ax'], outputs: ['sa'] },
      { name: 'b', op: 'Slice', inputs: ['s', 'b0', 'b1', 'ax'], outputs: ['sb'] },
      { name: 'cat', op: 'Concat', inputs: ['sb', 'sa', 'sb'], outputs: ['cat'], attributes: { axis: 1 } },
      { name: 'split', op: 'Split', inputs: ['cat', 'parts'], outputs: ['p0', 'p1'], attributes: { axis: 2 } },
      { name: 'tr', op: 'Transpose', inputs: ['p1'], outputs: ['features'], attributes: { perm: [0, 1, 3, 2] } },
    ],
    initializers: [intInit('a0', [0]), intInit('a1', [3]), intInit('b0', [2]), intInit('b1', [4]), intInit('ax', [1]), intInit('parts', [2, 4])],
    features: [7, 6, 4],
  },
  'channel shuffle (Reshape, Transpose, Reshape) and Squeeze/Unsqueeze': {
    nodes: [
      { name: 'groups', op: 'Reshape', inputs: ['s', 'g5'], outputs: ['g'] },
      { name: 'swap', op: 'Transpose', inputs: ['g'], outputs: ['gt'], attributes: { perm: [0, 2, 1, 3, 4] } },
      { name: 'merge', op: 'Reshape', inputs: ['gt', 'g4'], outputs: ['shuffled'] },
      { name: 'unsq', op: 'Unsqueeze', inputs: ['shuffled', 'uaxes'], outputs: ['u'] },
      { name: 'sq', op: 'Squeeze', inputs: ['u', 'uaxes'], outputs: ['features'] },
    ],
    initializers: [intInit('g5', [0, 2, 2, SIZE, SIZE]), intInit('g4', [-1, 4, SIZE, SIZE]), intInit('uaxes', [2])],
    features: [4, SIZE, SIZE],
  },
};

/** Ops with weights, pools, activations, gates and affine ops. */
const OTHERS: Record<string, OpGraph> = {
  'grouped and dilated convs': {
    nodes: [
      { name: 'grouped', op: 'Conv', inputs: ['s', 'gw'], outputs: ['g'], attributes: { kernel_shape: [3, 3], group: 2, pads: [1, 1, 1, 1] } },
      { name: 'depthwise', op: 'Conv', inputs: ['g', 'dw', 'db'], outputs: ['features'], attributes: { kernel_shape: [3, 3], group: 4, dilations: [2, 2], strides: [1, 1], pads: [2, 1, 2, 2] } },
    ],
    initializers: [param('gw', [4, 2, 3, 3], 21), param('dw', [4, 1, 3, 3], 22), param('db', [4], 23)],
    features: [4, 6, 5],
  },
  'ceil_mode pools, strided conv': {
    nodes: [
      { name: 'avg', op: 'AveragePool', inputs: ['s'], outputs: ['a'], attributes: { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1, pads: [1, 1, 0, 0] } },
      { name: 'strided', op: 'Conv', inputs: ['a', 'cw'], outputs: ['c'], attributes: { kernel_shape: [2, 2], strides: [2, 2], pads: [1, 1, 0, 0] } },
      { name: 'max', op: 'MaxPool', inputs: ['c'], outputs: ['features'], attributes: { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 } },
    ],
    initializers: [param('cw', [4, 4, 2, 2], 24)],
    features: [4, 1, 1],
  },
  'activations': {
    nodes: [
      { name: 'leaky', op: 'LeakyRelu', inputs: ['s'], outputs: ['l'], attributes: { alpha: { float: 0.2 } } },
      { name: 'clip', op: 'Clip', inputs: ['l', 'lo', 'hi'], outputs: ['c'] },
      { name: 'hswish', op: 'HardSwish', inputs: ['c'], outputs: ['h'] },
      { name: 'tanh', op: 'Tanh', inputs: ['h'], outputs: ['t'] },
      { name: 'hsig', op: 'HardSigmoid', inputs: ['t'], outputs: ['features'], attributes: { alpha: { float: 0.3 }, beta: { float: 0.4 } } },
    ],
    initializers: [param('lo', [], 1, -0.4, -0.4), param('hi', [], 1, 0.9, 0.9)],
    features: [4, SIZE, SIZE],
    // HardSwish is an op from opset 14 on.
    opset: 14,
  },
  'squeeze-and-excitation gate, SiLU, BatchNorm and constant scaling': {
    nodes: [
      { name: 'bn', op: 'BatchNormalization', inputs: ['s', 'bn.scale', 'bn.bias', 'bn.mean', 'bn.var'], outputs: ['b'], attributes: { epsilon: { float: 1e-3 } } },
      { name: 'sig', op: 'Sigmoid', inputs: ['b'], outputs: ['sb'] },
      { name: 'silu', op: 'Mul', inputs: ['b', 'sb'], outputs: ['act'] },
      { name: 'squeeze', op: 'GlobalAveragePool', inputs: ['act'], outputs: ['pooled'] },
      { name: 'excite', op: 'Conv', inputs: ['pooled', 'ew', 'eb'], outputs: ['e'], attributes: { kernel_shape: [1, 1] } },
      { name: 'gate', op: 'HardSigmoid', inputs: ['e'], outputs: ['gv'] },
      { name: 'scale', op: 'Mul', inputs: ['act', 'gv'], outputs: ['gated'] },
      { name: 'halve', op: 'Mul', inputs: ['half', 'gated'], outputs: ['hv'] },
      { name: 'shift', op: 'Sub', inputs: ['hv', 'shiftc'], outputs: ['features'] },
    ],
    initializers: [
      param('bn.scale', [4], 31, 0.5, 1.5), param('bn.bias', [4], 32), param('bn.mean', [4], 33), param('bn.var', [4], 34, 0.5, 2),
      param('ew', [4, 4, 1, 1], 35), param('eb', [4], 36), param('half', [1, 4, 1, 1], 37, 0.5, 2), param('shiftc', [4, 1, 1], 38),
    ],
    features: [4, SIZE, SIZE],
  },
};

describe('the gradient through every op category equals finite differences of onnxruntime on the file', () => {
  for (const [name, spec] of Object.entries({ ...ROUTING, ...OTHERS })) {
    test(name, async () => {
      const bytes = opGraphOnnx(withStem(spec));
      const x = opGraphInput(5);
      const ours = await explain(bytes, x, { preset: 'gradient' });
      // Routing ops and convs are linear (h = 1 is exact); max pools and activations need a small h.
      const linear = name in ROUTING || name === 'grouped and dilated convs';
      const fd = await finiteDifferences(bytes, x, TARGET, linear ? 1 : 1e-3);
      const error = relativeL2(ours.relevance.data, fd);
      assert.ok(error < (linear ? 1e-5 : 5e-3), `relative L2 ${error}`);
      assert.ok(fd.some((v) => v !== 0));
    });
  }
});

describe('LRP conserves relevance through routing ops, additions, gates, pools and z+', () => {
  const cases: Record<string, OpGraph> = {
    ...ROUTING,
    'ceil_mode pools, strided conv': OTHERS['ceil_mode pools, strided conv']!,
    'additions (ratio split) of three branches and a constant': {
      nodes: [
        { name: 'r', op: 'Relu', inputs: ['s'], outputs: ['a'] },
        { name: 'c1', op: 'Conv', inputs: ['a', 'w1'], outputs: ['b1'], attributes: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
        { name: 'c2', op: 'Conv', inputs: ['a', 'w2'], outputs: ['b2'], attributes: { kernel_shape: [1, 1] } },
        { name: 'sum', op: 'Sum', inputs: ['a', 'b1', 'b2'], outputs: ['t'] },
        { name: 'bias', op: 'Add', inputs: ['t', 'c'], outputs: ['features'] },
      ],
      initializers: [param('w1', [4, 4, 3, 3], 41, 0, 1), param('w2', [4, 4, 1, 1], 42, 0, 1), param('c', [4, 1, 1], 43, 0, 1)],
      features: [4, SIZE, SIZE],
    },
  };
  for (const [name, spec] of Object.entries(cases)) {
    test(name, async () => {
      // Positive weights on a positive image: no z+ denominator vanishes.
      const bytes = opGraphOnnx(withStem(spec, { lo: 0.1, hi: 1 }), { lo: 0.1, hi: 1 });
      const result = await explain(bytes, opGraphInput(5, SIZE, 0.05, 1), { first: 'zplus' });
      const total = result.attribution.data.reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(total / result.startRelevance - 1) < 1e-6, `${total} of ${result.startRelevance}`);
      // Every traced node conserves too.
      for (const entry of result.trace!) assert.ok(Math.abs(entry.sum / result.startRelevance - 1) < 1e-6 || entry.name !== 'input', `${entry.name}: ${entry.sum}`);
    });
  }

  test('a gate sends nothing to its gating branch, and relevance passes BatchNorm, SiLU, the gate and constant scaling unchanged', async () => {
    const spec = OTHERS['squeeze-and-excitation gate, SiLU, BatchNorm and constant scaling']!;
    const bytes = opGraphOnnx(withStem(spec));
    const x = opGraphInput(5);
    const lrp = await explain(bytes, x, { first: 'zplus' });
    const at = (result: typeof lrp, node: string) => result.trace!.find((t) => t.name === node)?.sum;
    // Everything reaches the stem's output; the gating branch's conv gets nothing.
    assert.ok(Math.abs(at(lrp, 'stem')! / lrp.startRelevance - 1) < 1e-6, `relevance at the stem's output ${at(lrp, 'stem')} of ${lrp.startRelevance}`);
    assert.equal(at(lrp, 'excite'), undefined);
    // The gradient does flow into the gating branch: the trace point exists when relevance arrives.
    const gradient = await explain(bytes, x, { preset: 'gradient' });
    assert.ok(Math.abs(at(gradient, 'excite')!) > 0);
  });
});
