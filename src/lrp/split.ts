/**
 * Relevance at an addition (a skip connection), by the add rule's split:
 * - `ratio`, the ECCV 2024 paper's rule: each input gets R·|x_k| / Σ_j |x_j| (elementwise; 1/K
 *   where all inputs are zero), so relevance is conserved through the block;
 * - `ratio-no-fallback`, the paper's released code: the same ratio with no fallback. There the
 *   ratio is 0/0 = NaN where all inputs are zero, and the NaN spreads through the rest of the
 *   backward pass; here those positions pass no relevance (0), so one degenerate position
 *   cannot blank out the map. Under z+-type rules the relevance there is 0 anyway.
 * - `equal`: R/K to every input; `copy`: R to every input (the gradient of a sum).
 */
import type { OnnxGraphBuilder } from '../onnx/graph-builder.js';
import type { RuleData } from './rules.js';

/** Returns the relevance of each input of the addition, in input order. */
export function emitSplit(g: OnnxGraphBuilder, split: RuleData['add']['split'], name: string, inputs: readonly string[], relevance: string): string[] {
  const k = inputs.length;
  if (split === 'copy') return inputs.map(() => relevance);
  if (split === 'equal') {
    const share = g.op('Mul', [relevance, g.scalar(1 / k)], `${name}/R_share`);
    return inputs.map(() => share);
  }
  const magnitudes = inputs.map((x) => g.op('Abs', [x], `${x}/abs`));
  const total = k === 2 ? g.op('Add', magnitudes, `${name}/abs_sum`) : g.op('Sum', magnitudes, `${name}/abs_sum`);
  const zero = g.op('Equal', [total, g.scalar(0)], `${name}/abs_sum_is_0`);
  if (split === 'ratio-no-fallback') {
    // |x_k| = 0 wherever the total is, so dividing by 1 there gives every input 0.
    const safeTotal = g.op('Where', [zero, g.scalar(1), total], `${name}/abs_sum_safe`);
    return magnitudes.map((m, i) => g.op('Mul', [relevance, g.op('Div', [m, safeTotal], `${name}/ratio${i}`)], `${name}/R${i}`));
  }
  const shares = magnitudes.slice(0, -1).map((m, i) => {
    const ratio = g.op('Where', [zero, g.scalar(1 / k), g.op('Div', [m, total], `${name}/ratio${i}`)], `${name}/ratio${i}_safe`);
    return g.op('Mul', [relevance, ratio], `${name}/R${i}`);
  });
  // The last input takes the remainder, so the split conserves relevance exactly.
  const rest = shares.length === 1 ? shares[0]! : g.op('Sum', shares, `${name}/R_others`);
  return [...shares, g.op('Sub', [relevance, rest], `${name}/R${k - 1}`)];
}
