/**
 * The random baseline: a map of uniform values in [0, 1). Any method that does not beat it
 * explains nothing. Seeded by the user's seed and the image's own values, so a map never
 * depends on the order, batch or shard in which images are evaluated.
 */
import type { Attribution, AttributionMethod } from './methods.js';

export interface RandomMethodOptions {
  /** Side of the square map. */
  readonly size: number;
  /** Default 0. */
  readonly seed?: number;
}

export function randomMethod(options: RandomMethodOptions): AttributionMethod {
  const seed = options.seed ?? 0;
  if (!Number.isSafeInteger(seed)) throw new Error(`random: seed must be an integer, got ${String(seed)}`);
  const pixels = options.size * options.size;
  return {
    name: 'random',
    description: `uniform random map (seed ${seed})`,
    async attribute(inputs, targets): Promise<Attribution[]> {
      if (inputs.length !== targets.length) throw new Error(`random: ${inputs.length} images but ${targets.length} targets`);
      return inputs.map((input) => ({ map: uniformMap(pixels, mix(seed, contentHash(input))) }));
    },
    async dispose() {},
  };
}

/** FNV-1a over the image's bytes (32 bits). */
export function contentHash(values: Float32Array): number {
  const words = new Uint32Array(values.buffer, values.byteOffset, values.length);
  let h = 0x811c9dc5;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    h = Math.imul(h ^ (w & 0xff), 0x01000193);
    h = Math.imul(h ^ ((w >>> 8) & 0xff), 0x01000193);
    h = Math.imul(h ^ ((w >>> 16) & 0xff), 0x01000193);
    h = Math.imul(h ^ (w >>> 24), 0x01000193);
  }
  return h >>> 0;
}

function mix(seed: number, hash: number): number {
  return (Math.imul((seed % 0x100000000) ^ 0x9e3779b9, 0x85ebca6b) ^ hash) >>> 0;
}

/** mulberry32: a generator of 32-bit unsigned integers from a 32-bit state. */
export function mulberry32(state: number): () => number {
  let a = state | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** `count` values k / 2^24 (exact in float32) from mulberry32. */
function uniformMap(count: number, state: number): Float32Array {
  const out = new Float32Array(count);
  const next = mulberry32(state);
  for (let i = 0; i < count; i++) out[i] = (next() >>> 8) / 2 ** 24;
  return out;
}
