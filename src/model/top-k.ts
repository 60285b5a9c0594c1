/**
 * Top-k ranking of a model's output (browser-safe: the names are passed in).
 */

/** One entry of a {@link rankClasses} ranking. */
export interface ClassScore {
  classIndex: number;
  className: string;
  probability: number;
}

/**
 * The k highest-scoring classes, best first (ties: lower class index first; NaN ranks last).
 * Works on probabilities or logits alike — `probability` is just the input value.
 *
 * @param names class names; must cover every class.
 * @throws Error if k is not a positive integer or there are fewer names than classes.
 */
export function rankClasses(probabilities: Float32Array, k: number, names: readonly string[]): ClassScore[] {
  if (!Number.isInteger(k) || k < 1) throw new Error(`topK: k must be a positive integer, got ${String(k)}`);
  if (names.length < probabilities.length) {
    throw new Error(`topK: ${probabilities.length} classes but only ${names.length} labels`);
  }
  const score = (i: number): number => (Number.isNaN(probabilities[i]) ? -Infinity : probabilities[i]!);
  const order = Array.from(probabilities.keys()).sort((a, b) => score(b) - score(a) || a - b);
  return order.slice(0, k).map((classIndex) => ({
    classIndex,
    className: names[classIndex]!,
    probability: probabilities[classIndex]!,
  }));
}
