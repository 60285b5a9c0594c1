/**
 * Weight values that cannot give a meaningful result: NaN or ±Inf anywhere, and a negative
 * BatchNorm variance (its square root is NaN). Checked when weights are bound, so the error
 * names the layer instead of the result silently turning into NaN.
 */

import type { LayerWeights } from './types.js';

/** What is wrong with the values of weight `param`, or `undefined` when they are usable. */
export function weightValueProblem(param: string, data: Float32Array): string | undefined {
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (!Number.isFinite(v)) return `holds ${v} at index ${i} of ${data.length}: weights must be finite`;
    if (param === 'movingVariance' && v < 0) return `variance ${v} at index ${i} is negative`;
  }
  return undefined;
}

/**
 * Checks every weight of a model (for weights that did not come through {@link bindWeights},
 * e.g. an ONNX import).
 *
 * @throws Error `<source>: layer <name> <param> <problem>` for the first unusable weight.
 */
export function checkWeightValues(weights: LayerWeights, source: string): void {
  for (const [layer, params] of weights) {
    for (const [param, tensor] of Object.entries(params)) {
      const problem = weightValueProblem(param, tensor.data);
      if (problem) throw new Error(`${source}: layer ${layer} ${param} ${problem}`);
    }
  }
}
