/**
 * The arithmetic of the patch insertion / deletion metric (Otsuki et al., ECCV 2024;
 * docs/lrp-spec.md "Patch insertion / deletion"): patch scores, the thresholds of every step and
 * the normalised AUC. The perturbed images themselves are built inside onnxruntime
 * (`perturbation.ts`); this module only handles the P ≤ 50 176 patch scores. Browser-safe.
 */
import { quantizeHeat } from '../image/quantize.js';
import { mulberry32 } from './random-method.js';

/**
 * How patches of equal score are ordered (docs/evaluation.md, "Ties"):
 * - `paper`: the paper's metric — step i takes every patch whose score is ≥ the threshold
 *   τ_i, so all patches tying with τ_i enter at once (a heat-quantized map, where most
 *   patches tie, then runs ahead of its x-axis);
 * - `stable`: one patch after another, equal scores in patch index order (row-major, lower first);
 * - `random`: equal scores in the order of a permutation drawn from `tieSeed` (the same for
 *   every map of an evaluator, so a run is reproducible).
 * Without ties the three give the same curves.
 */
export const TIE_RULES = ['paper', 'stable', 'random'] as const;
export type TieRule = (typeof TIE_RULES)[number];

/** Options of the metric; every field has the paper's default. */
export interface InsertionDeletionOptions {
  /** Side of the square patches in pixels; must divide the image side. Default 1. */
  patch?: number;
  /** Patches added (insertion) or removed (deletion) per step. Default 500. */
  step?: number;
  /** Heat-quantize the map to this many levels first (the paper evaluates its method so); `false` (default) keeps it. */
  quantize?: number | false;
  /** How patches of equal score are ordered ({@link TIE_RULES}). Default `paper`. */
  ties?: TieRule;
  /** Seed of the `random` tie rule's permutation. Default 0. */
  tieSeed?: number;
}

/** The options with every default applied and checked. */
export interface ResolvedInsertionDeletionOptions {
  readonly patch: number;
  readonly step: number;
  readonly quantize: number | false;
  readonly ties: TieRule;
  readonly tieSeed: number;
}

export const INSDEL_DEFAULTS: ResolvedInsertionDeletionOptions = { patch: 1, step: 500, quantize: false, ties: 'paper', tieSeed: 0 };

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
  const ties = options.ties ?? INSDEL_DEFAULTS.ties;
  if (!TIE_RULES.includes(ties)) throw new Error(`ties must be one of ${TIE_RULES.join(', ')}, got ${String(ties)}`);
  const tieSeed = options.tieSeed ?? INSDEL_DEFAULTS.tieSeed;
  if (!Number.isSafeInteger(tieSeed) || tieSeed < 0) throw new Error(`tieSeed must be an integer ≥ 0, got ${String(tieSeed)}`);
  return { patch, step, quantize, ties, tieSeed };
}

/** Number of steps (points of each curve): ceil(P / step). */
export function stepCount(size: number, options: ResolvedInsertionDeletionOptions): number {
  return Math.ceil((size / options.patch) ** 2 / options.step);
}

/** How much a map ties at the step thresholds (whatever the tie rule). */
export interface TieStats {
  /** Patches whose score equals the step's threshold score v_k, mean over the steps. */
  tied: number;
  /**
   * Share of all patches that the `paper` rule takes beyond the step's nominal k + 1 (the
   * patches tying with v_k behind it), mean over the steps: how far a curve under that rule
   * runs ahead of its x-axis. 0 for a map without ties.
   */
  paperLead: number;
}

/** A map prepared for the perturbation graph: ranks instead of scores. */
export interface PatchRanking {
  /**
   * size × size: every pixel carries its patch's rank (higher = inserted earlier). `paper`:
   * the dense rank of the patch score (0 = the lowest; equal scores share a rank); `stable` and
   * `random`: the patch's place in the tie-broken order (P − 1 = first). Ranks are integers
   * below 2^24, exact in float32, so the comparison "rank ≥ τ" runs exactly inside onnxruntime
   * whatever the map's precision.
   */
  readonly pixelRanks: Float32Array;
  /** The rank of every step's threshold τ_i (n = ceil(P / step) values). */
  readonly thresholds: Float32Array;
  readonly ties: TieStats;
}

/**
 * Patch scores and step thresholds of a map (docs/lrp-spec.md): patch score = the maximum of its
 * `patch × patch` pixels (after the optional heat quantization); with the P scores sorted
 * descending (v_0 ≥ … ≥ v_{P−1}), step i keeps (insertion) or removes (deletion) the patches
 * down to position k_i = min(step·(i+1), P−1). Under the `paper` rule that is every patch with
 * score ≥ τ_i = v_{k_i}, ties included; under `stable` and `random` exactly k_i + 1 patches, ties
 * broken by patch index or by a seeded permutation ({@link TIE_RULES}).
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
  const count = scores.length;
  const ascending = scores.slice().sort();
  /** First index in `ascending` whose value is ≥ v (strict: > v). */
  const bound = (v: number, strict: boolean): number => {
    let lo = 0;
    let hi = count;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ascending[mid]! < v || (strict && ascending[mid] === v)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const n = Math.ceil(count / options.step);
  // k_i, and v_{k_i} = ascending[P − 1 − k_i].
  const positions = Array.from({ length: n }, (_, i) => Math.min(options.step * (i + 1), count - 1));
  let tied = 0;
  let lead = 0;
  for (const k of positions) {
    const v = ascending[count - 1 - k]!;
    const first = bound(v, false);
    tied += bound(v, true) - first;
    lead += (count - first - (k + 1)) / count;
  }
  const ties: TieStats = { tied: tied / n, paperLead: lead / n };

  let patchRanks: Float32Array;
  let thresholds: Float32Array;
  if (options.ties === 'paper') {
    let distinct = 0;
    const unique = ascending.slice();
    for (let i = 0; i < count; i++) if (i === 0 || unique[i] !== unique[i - 1]) unique[distinct++] = unique[i]!;
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
    patchRanks = Float32Array.from(scores, rankOf);
    thresholds = Float32Array.from(positions, (k) => rankOf(ascending[count - 1 - k]!));
  } else {
    // Tie-break key per patch: its index, or its place in a seeded permutation.
    const key = Uint32Array.from({ length: count }, (_, i) => i);
    if (options.ties === 'random') {
      const next = mulberry32(options.tieSeed);
      for (let i = count - 1; i > 0; i--) {
        const j = next() % (i + 1);
        [key[i], key[j]] = [key[j]!, key[i]!];
      }
    }
    const order = Uint32Array.from({ length: count }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]! || key[a]! - key[b]!);
    patchRanks = new Float32Array(count);
    order.forEach((patch, position) => (patchRanks[patch] = count - 1 - position));
    thresholds = Float32Array.from(positions, (k) => count - 1 - k);
  }
  const pixelRanks = new Float32Array(size * size);
  for (let y = 0; y < size; y++) {
    const row = Math.floor(y / p) * side;
    for (let x = 0; x < size; x++) pixelRanks[y * size + x] = patchRanks[row + Math.floor(x / p)]!;
  }
  return { pixelRanks, thresholds, ties };
}

/** Normalised area under a curve of n ≥ 2 evenly spaced points: (Σy − y_0/2 − y_{n−1}/2) / (n − 1). */
export function normalizedAuc(curve: ArrayLike<number>): number {
  const n = curve.length;
  if (n < 2) throw new Error(`normalizedAuc: a curve needs at least 2 points, got ${n}`);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += curve[i]!;
  return (sum - curve[0]! / 2 - curve[n - 1]! / 2) / (n - 1);
}
