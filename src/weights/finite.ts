/**
 * Weight values that cannot give a meaningful result: NaN or ±Inf anywhere, and a negative
 * BatchNorm variance (its square root is NaN). Checked when weights are bound, so the error
 * names the layer instead of the result silently turning into NaN.
 */

/** What is wrong with the values of weight `param`, or `undefined` when they are usable. */
export function weightValueProblem(param: string, data: Float32Array): string | undefined {
  // One branch-free pass over the values, and the index only when something is wrong: a loop
  // that also compared `param` per value was re-optimised on every new parameter name and
  // then ran ~100× slower (7.6 s of a 9 s Keras ResNet50 load, docs/benchmarks.md).
  if (!allFinite(data)) {
    const i = data.findIndex((v) => !Number.isFinite(v));
    return `holds ${data[i]} at index ${i} of ${data.length}: weights must be finite`;
  }
  if (param === 'movingVariance' && minimum(data) < 0) {
    const i = data.findIndex((v) => v < 0);
    return `variance ${data[i]} at index ${i} is negative`;
  }
  return undefined;
}

/** True when no value is NaN or ±Inf (v·0 is 0 for finite v, NaN otherwise). */
function allFinite(data: Float32Array): boolean {
  let sum = 0;
  for (let i = 0; i < data.length; i++) sum += data[i]! * 0;
  return sum === 0;
}

function minimum(data: Float32Array): number {
  let min = Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v < min) min = v;
  }
  return min;
}
