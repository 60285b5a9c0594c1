/**
 * Relevance at an addition (a skip connection). `ratio` is the ECCV 2024 paper's rule: each
 * input gets R·|x_k| / Σ_j |x_j| (elementwise; 1/K where all inputs are zero), so relevance
 * is conserved through the block. `symmetric` gives every input R/K.
 */
import type { OnnxGraphBuilder } from '../onnx/graph-builder.js';
import type { SplitMode } from './presets.js';

/** Returns the relevance of each input of the addition, in input order. */
export function emitSplit(g: OnnxGraphBuilder, mode: SplitMode, name: string, inputs: readonly string[], relevance: string): string[] {
  const k = inputs.length;
  if (mode === 'symmetric') {
    const share = g.op('Mul', [relevance, g.scalar(1 / k)], `${name}/R_share`);
    return inputs.map(() => share);
  }
  const magnitudes = inputs.map((x) => g.op('Abs', [x], `${x}/abs`));
  const total = k === 2 ? g.op('Add', magnitudes, `${name}/abs_sum`) : g.op('Sum', magnitudes, `${name}/abs_sum`);
  const zero = g.op('Equal', [total, g.scalar(0)], `${name}/abs_sum_is_0`);
  const shares = magnitudes.slice(0, -1).map((m, i) => {
    const ratio = g.op('Where', [zero, g.scalar(1 / k), g.op('Div', [m, total], `${name}/ratio${i}`)], `${name}/ratio${i}_safe`);
    return g.op('Mul', [relevance, ratio], `${name}/R${i}`);
  });
  // The last input takes the remainder, so the split conserves relevance exactly.
  const rest = shares.length === 1 ? shares[0]! : g.op('Sum', shares, `${name}/R_others`);
  return [...shares, g.op('Sub', [relevance, rest], `${name}/R${k - 1}`)];
}
