/**
 * The arithmetic of the patch insertion / deletion metric (Otsuki et al., ECCV 2024;
 * docs/lrp-spec.md "Patch insertion / deletion"): patch scores, the thresholds of every step and
 * the normalised AUC. The perturbed images themselves are built inside onnxruntime
 * (`perturbation.ts`); this module only handles the P ≤ 50 176 patch scores. Browser-safe.
 */
import { quantizeHeat } from '../image/quantize.js';

/** Options of the metric; every field has the paper's default. */
export interface InsertionDeletionOptions {
  /** Side of the square patches in pixels; must divide the image side. Default 1. */
  patch?: number;
  /** Patches added (insertion) or removed (deletion) per step. Default 500. */
  step?: number;
  /** Heat-quantize the map to this many levels first (the paper evaluates its method so); `false` (default) keeps it. */
  quantize?: number | false;
}

/** The options with every default applied and checked. */
export interface ResolvedInsertionDeletionOptions {
  readonly patch: number;
  readonly step: number;
  readonly quantize: number | false;
}

export const INSDEL_DEFAULTS: ResolvedInsertionDeletionOptions = { patch: 1, step: 500, quantize: false };

/**
 * Applies the defaults and validates the options for a `size × size` image.
 *
 * @throws Error naming the option and value.
 */
export function resolveInsertionDeletionOptions(options: InsertionDeletionOptions, size: number): ResolvedInsertionDeletionOptions {
  const patch = options.patch ?? INSDEL_DEFAULTS.patch;
  const step = options.step ?? INSDEL_DEFAULTS.step;
  const quantize = options.quantize ?? INSDEL_DEFAULTS.quantize;
  if (!Number.isInteger(patch) || patch < 1 || size % patch !== 0) {
    throw new Error(`patch size must be a positive integer that divides the image side ${size}, got ${String(patch)}`);
  }
  const patches = (size / patch) ** 2;
  if (!Number.isInteger(step) || step < 1) throw new Error(`step must be a positive integer (patches per step), got ${String(step)}`);
  if (Math.ceil(patches / step) < 2) {
    throw new Error(`step ${step} leaves fewer than 2 steps for ${patches} patches of ${patch}×${patch}: the AUC needs at least 2 points`);
  }
  if (quantize !== false && (!Number.isInteger(quantize) || quantize < 2)) {
    throw new Error(`quantize must be false or an integer ≥ 2 (levels), got ${String(quantize)}`);
  }
  return { patch, step, quantize };
}

/** Number of steps (points of each curve): ceil(P / step). */
export function stepCount(size: number, options: ResolvedInsertionDeletionOptions): number {
  return Math.ceil((size / options.patch) ** 2 / options.step);
}

/** A map prepared for the perturbation graph: ranks instead of scores. */
export interface PatchRanking {
  /**
   * size × size: every pixel carries the dense rank of its patch's score (0 = the lowest
   * score; equal scores share a rank). Ranks are small integers, exact in float32, so the
   * comparison "patch score ≥ τ" runs exactly inside onnxruntime whatever the map's precision.
   */
  readonly pixelRanks: Float32Array;
  /** The rank of every step's threshold τ_i (n = ceil(P / step) values). */
  readonly thresholds: Float32Array;
}

/**
 * Patch scores and step thresholds of a map (docs/lrp-spec.md): patch score = the maximum of its
 * `patch × patch` pixels (after the optional heat quantization); with the P scores sorted
 * descending (v_0 ≥ … ≥ v_{P−1}), step i keeps (insertion) or removes (deletion) every patch
 * with score ≥ τ_i = v_{min(step·(i+1), P−1)}, ties included.
 *
 * @param map size × size, row-major; float64 maps keep their precision (ties are ties of the
 *   given values, not of their float32 roundings).
 * @throws Error if the map is not size × size or holds a non-finite value.
 */
export function rankPatches(map: Float32Array | Float64Array, size: number, options: ResolvedInsertionDeletionOptions): PatchRanking {
  if (map.length !== size * size) throw new Error(`attribution map has ${map.length} values, expected ${size}×${size} = ${size * size}`);
  for (let i = 0; i < map.length; i++) {
    if (!Number.isFinite(map[i]!)) throw new Error(`attribution map holds ${map[i]} at index ${i}: maps must be finite`);
  }
  const heat = options.quantize === false ? map : quantizeHeat(map, options.quantize);
  const p = options.patch;
  const side = size / p;
  const scores = new Float64Array(side * side).fill(-Infinity);
  for (let y = 0; y < size; y++) {
    const row = Math.floor(y / p) * side;
    for (let x = 0; x < size; x++) {
      const k = row + Math.floor(x / p);
      if (heat[y * size + x]! > scores[k]!) scores[k] = heat[y * size + x]!;
    }
  }
  const sorted = scores.slice().sort(); // ascending: v_k = sorted[P − 1 − k]
  const count = sorted.length;
  let distinct = 0;
  for (let i = 0; i < count; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) sorted[distinct++] = sorted[i]!;
  const unique = sorted.subarray(0, distinct);
  const rankOf = (v: number): number => {
    let lo = 0;
    let hi = distinct - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (unique[mid]! < v) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const patchRanks = Float32Array.from(scores, rankOf);
  const pixelRanks = new Float32Array(size * size);
  for (let y = 0; y < size; y++) {
    const row = Math.floor(y / p) * side;
    for (let x = 0; x < size; x++) pixelRanks[y * size + x] = patchRanks[row + Math.floor(x / p)]!;
  }
  // v_k is the score of descending position k; its rank follows from the sorted scores.
  const descending = scores.slice().sort().reverse();
  const n = Math.ceil(count / options.step);
  const thresholds = Float32Array.from({ length: n }, (_, i) => rankOf(descending[Math.min(options.step * (i + 1), count - 1)]!));
  return { pixelRanks, thresholds };
}

/** Normalised area under a curve of n ≥ 2 evenly spaced points: (Σy − y_0/2 − y_{n−1}/2) / (n − 1). */
export function normalizedAuc(curve: ArrayLike<number>): number {
  const n = curve.length;
  if (n < 2) throw new Error(`normalizedAuc: a curve needs at least 2 points, got ${n}`);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += curve[i]!;
  return (sum - curve[0]! / 2 - curve[n - 1]! / 2) / (n - 1);
}
