/**
 * A result with a non-finite number in it (NaN, ±Inf) is not an explanation: a NaN weight, an
 * overflowing rule (`gamma 1e308`) or an input of 3e38 produce them. Callers that report results
 * (the CLI, analyzeImage) refuse such a result instead of printing `NaN %`.
 */
import type { LrpResult } from './types.js';

/**
 * What is non-finite in `result`, e.g. `the logits hold NaN (at index 3)`; `undefined` when
 * every number is finite.
 */
export function nonFiniteIn(result: LrpResult): string | undefined {
  const arrays: [string, ArrayLike<number>][] = [
    ['the logits', result.logits],
    ['the probabilities', result.probabilities],
    ['the start relevance', [result.startRelevance]],
    ['the attribution map', result.attribution.data],
    ['the relevance', result.relevance.data],
  ];
  if (result.conservationError !== undefined) arrays.push(['the conservation error', [result.conservationError]]);
  for (const [what, values] of arrays) {
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (!Number.isFinite(v)) return `${what} ${values.length > 1 ? 'contains' : 'is'} ${v}${values.length > 1 ? ` (at index ${i})` : ''}`;
    }
  }
  return undefined;
}

/**
 * Throws when `result` holds a non-finite number.
 *
 * @throws Error `<what>: the result is not finite (… holds NaN …): the weights, rules or input overflow`.
 */
export function assertFiniteResult(result: LrpResult, what: string): void {
  const problem = nonFiniteIn(result);
  if (problem !== undefined) {
    throw new Error(`${what}: the result is not finite (${problem}): the weights, the rules (e.g. a huge gamma) or the input overflow float arithmetic`);
  }
}
