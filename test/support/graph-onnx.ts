/**
 * Small ONNX classifiers written node by node, for tests of single ops: the image (N, 3, S, S)
 * goes through the given nodes to a tensor the test names, then Flatten and a dense layer give
 * the logits. Parameters are seeded; `positive` ones make every LRP denominator non-zero.
 */
import { encodeModel, floatInit, intInit, type NodeSpec } from './torch-onnx.js';
import { random } from './tiny-nets.js';

export { intInit };

export interface OpGraph {
  /** Nodes from the input tensor `input` to `features`. */
  nodes: NodeSpec[];
  /** Per-example shape of `features`. */
  features: number[];
  /** Extra initializers the nodes read (see {@link param}). */
  initializers?: ReturnType<typeof floatInit>[];
  classes?: number;
  size?: number;
  opset?: number;
}

/** A float parameter: seeded values in [lo, hi). */
export function param(name: string, dims: number[], seed: number, lo = -1, hi = 1): ReturnType<typeof floatInit> {
  const next = random(seed);
  const n = dims.reduce((a, b) => a * b, 1);
  return floatInit(name, Float32Array.from({ length: n }, () => lo + (hi - lo) * (next() + 0.5)), dims);
}

/** The ONNX bytes of `x → nodes → features → Flatten → Gemm`. */
export function opGraphOnnx(spec: OpGraph, head: { lo: number; hi: number } = { lo: -1, hi: 1 }): Uint8Array {
  const classes = spec.classes ?? 4;
  const size = spec.size ?? 6;
  const units = spec.features.reduce((a, b) => a * b, 1);
  return encodeModel({
    nodes: [
      ...spec.nodes,
      { name: 'flatten', op: 'Flatten', inputs: ['features'], outputs: ['flat'], attributes: { axis: 1 } },
      { name: 'fc', op: 'Gemm', inputs: ['flat', 'fc.weight', 'fc.bias'], outputs: ['logits'], attributes: { transB: 1 } },
    ],
    initializers: [...(spec.initializers ?? []), param('fc.weight', [classes, units], 99, head.lo, head.hi), param('fc.bias', [classes], 98, 0, 0.1)],
    input: { name: 'input', dims: ['batch', 3, size, size] },
    output: { name: 'logits', dims: ['batch', classes] },
    opset: spec.opset ?? 13,
  });
}

/** A seeded image (3, S, S), values in [lo, hi). */
export function opGraphInput(seed: number, size = 6, lo = -1, hi = 1): Float32Array {
  const next = random(seed);
  return Float32Array.from({ length: 3 * size * size }, () => lo + (hi - lo) * (next() + 0.5));
}
