/**
 * Heat quantization as in Otsuki et al. (ECCV 2024): the attribution map is reduced to a few
 * levels so that figures show where relevance concentrates rather than pixel noise.
 */

/** The paper's default number of levels. */
export const DEFAULT_QUANTIZE_LEVELS = 8;

/**
 * Quantizes `map` to `levels` values. With `b = linspace(min, max, levels)` (numpy's
 * definition: b_k = min + k·(max − min)/(levels − 1), b_last = max exactly), every value in
 * [b_k, b_{k+1}) becomes b_k, and the maximum stays the maximum — the same as
 * `b[np.digitize(x, b) - 1]`. A constant map is returned unchanged (as a copy).
 *
 * @throws Error if `levels` is not an integer ≥ 2 or the map holds a non-finite value.
 */
export function quantizeHeat(map: Float32Array | Float64Array, levels: number = DEFAULT_QUANTIZE_LEVELS): Float32Array {
  if (!Number.isInteger(levels) || levels < 2) {
    throw new Error(`quantizeHeat: levels must be an integer ≥ 2, got ${String(levels)}`);
  }
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < map.length; i++) {
    const v = map[i]!;
    if (!Number.isFinite(v)) throw new Error(`quantizeHeat: the map holds a non-finite value (${v}) at index ${i}`);
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const out = new Float32Array(map.length);
  if (!(max > min)) {
    out.set(map);
    return out;
  }
  // Bin edges in float64, as numpy computes them.
  const step = (max - min) / (levels - 1);
  const edges = new Float64Array(levels);
  for (let k = 0; k < levels; k++) edges[k] = min + k * step;
  edges[levels - 1] = max;

  for (let i = 0; i < map.length; i++) {
    const v = map[i]!;
    let k = Math.min(Math.floor((v - min) / step), levels - 1);
    // The division can land one bin off at an edge; settle it against the edges themselves.
    while (k > 0 && v < edges[k]!) k--;
    while (k < levels - 1 && v >= edges[k + 1]!) k++;
    out[i] = edges[k]!;
  }
  return out;
}
