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

/**
 * The smallest positive value of the precision (a subnormal): max(Σ|x|, it) is Σ|x| wherever
 * that is not 0, and |x_k| / it = 0 where it is (there every |x_k| is 0). onnxruntime's CPU
 * kernels keep subnormals unless `set_denormal_as_zero` is set, which this project never does.
 */
const TINY = { float32: 2 ** -149, float64: 2 ** -1074 } as const;

/**
 * Returns the relevance of each input of the addition, in input order.
 *
 * `zeroWhereZero`: the caller has proved that the relevance arriving at the addition's output
 * is 0 wherever the output is 0 (every consumer multiplies by that activation, see the
 * compiler). Where Σ|x| = 0 the output is 0, so the fallback's shares are R/K = 0 there, the
 * same as the ratio with a safe denominator: the Equal + Where pair (the slowest elementwise
 * ops onnxruntime runs here) is then left out, with bit-identical results.
 */
export function emitSplit(g: OnnxGraphBuilder, split: RuleData['add']['split'], name: string, inputs: readonly string[], relevance: string, zeroWhereZero = false): string[] {
  const k = inputs.length;
  if (split === 'copy') return inputs.map(() => relevance);
  if (split === 'equal') {
    const share = g.op('Mul', [relevance, g.scalar(1 / k)], `${name}/R_share`);
    return inputs.map(() => share);
  }
  const magnitudes = inputs.map((x) => g.op('Abs', [x], `${x}/abs`));
  const total = k === 2 ? g.op('Add', magnitudes, `${name}/abs_sum`) : g.op('Sum', magnitudes, `${name}/abs_sum`);
  // |x_k| = 0 wherever the total is, so a positive denominator there gives every input 0.
  const safeTotal = () => g.op('Max', [total, g.scalar(TINY[g.precision])], `${name}/abs_sum_safe`);
  if (split === 'ratio-no-fallback') {
    const denominator = safeTotal();
    return magnitudes.map((m, i) => g.op('Mul', [relevance, g.op('Div', [m, denominator], `${name}/ratio${i}`)], `${name}/R${i}`));
  }
  let ratios: string[];
  if (zeroWhereZero) {
    const denominator = safeTotal();
    ratios = magnitudes.slice(0, -1).map((m, i) => g.op('Div', [m, denominator], `${name}/ratio${i}`));
  } else {
    const zero = g.op('Equal', [total, g.scalar(0)], `${name}/abs_sum_is_0`);
    ratios = magnitudes.slice(0, -1).map((m, i) => g.op('Where', [zero, g.scalar(1 / k), g.op('Div', [m, total], `${name}/ratio${i}`)], `${name}/ratio${i}_safe`));
  }
  const shares = ratios.map((ratio, i) => g.op('Mul', [relevance, ratio], `${name}/R${i}`));
  // The last input takes the remainder, so the split conserves relevance exactly.
  const rest = shares.length === 1 ? shares[0]! : g.op('Sum', shares, `${name}/R_others`);
  return [...shares, g.op('Sub', [relevance, rest], `${name}/R${k - 1}`)];
}
