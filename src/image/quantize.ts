/**
 * Heat quantization as in Otsuki et al. (ECCV 2024): the attribution map is reduced to a few
 * levels so that figures show where relevance concentrates rather than pixel noise.
 */

/** The paper's default number of levels. */
export const DEFAULT_QUANTIZE_LEVELS = 8;

/**
 * Most levels accepted: 65 536, more than a 224 × 224 map has values (50 176), so every value
 * can already keep its own level; beyond it quantizing only costs time.
 */
export const MAX_QUANTIZE_LEVELS = 65_536;

/**
 * Quantizes `map` to `levels` values. With `b = linspace(min, max, levels)` (numpy's
 * definition: b_k = min + k·(max − min)/(levels − 1), b_last = max exactly), every value in
 * [b_k, b_{k+1}) becomes b_k, and the maximum stays the maximum — the same as
 * `b[np.digitize(x, b) - 1]`. A constant map is returned unchanged (as a copy).
 *
 * Memory and time do not depend on `levels` (bin edges are computed, not stored).
 *
 * @throws RangeError if `levels` is not an integer in 2..{@link MAX_QUANTIZE_LEVELS}; Error if the
 *   map holds a non-finite value.
 */
export function quantizeHeat(map: Float32Array | Float64Array, levels: number = DEFAULT_QUANTIZE_LEVELS): Float32Array {
  if (!Number.isInteger(levels) || levels < 2 || levels > MAX_QUANTIZE_LEVELS) {
    throw new RangeError(`quantizeHeat: levels must be an integer in 2..${MAX_QUANTIZE_LEVELS}, got ${String(levels)}`);
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
  // Bin edges in float64, as numpy computes them; computed when needed, never stored.
  const step = (max - min) / (levels - 1);
  const edge = (k: number): number => (k === levels - 1 ? max : min + k * step);

  for (let i = 0; i < map.length; i++) {
    const v = map[i]!;
    let k = Math.min(Math.floor((v - min) / step), levels - 1);
    // The division can land one bin off at an edge; settle it against the edges themselves.
    while (k > 0 && v < edge(k)) k--;
    while (k < levels - 1 && v >= edge(k + 1)) k++;
    out[i] = edge(k);
  }
  return out;
}
