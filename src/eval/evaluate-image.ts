/**
 * One image through every method: its prediction, the measured class (label, else predicted),
 * and per method the map and both curves. The loop the CLI and the benchmark share.
 */
import { performance } from 'node:perf_hooks';
import type { InsertionDeletionEvaluator, InsertionDeletionResult } from './insertion-deletion.js';
import { conservationOf, type AttributionMethod } from './methods.js';

/** One method's outcome on one image. */
export interface MethodOutcome extends InsertionDeletionResult {
  method: string;
  /** Wall seconds for the map and both curves. */
  seconds: number;
  /** Milliseconds of those spent computing the map. */
  mapMs: number;
  /** Σ input relevance / start relevance ({@link conservationOf}); null without input relevance. */
  conservation: number | null;
}

/**
 * Evaluates `methods` on one preprocessed image. `onOutcome` is called as soon as each method
 * is done (so results can be saved before the next one starts).
 *
 * @returns the predicted class and the measured class.
 */
export async function evaluateImage(
  evaluator: InsertionDeletionEvaluator,
  methods: readonly AttributionMethod[],
  input: Float32Array,
  label: number | undefined,
  onOutcome: (outcome: MethodOutcome, predicted: number, target: number) => Promise<void>,
): Promise<{ predicted: number; target: number }> {
  const predicted = await evaluator.predict(input);
  const target = label ?? predicted;
  for (const method of methods) {
    const start = performance.now();
    const [attribution] = await method.attribute([input], [target]);
    const mapped = performance.now();
    const result = await evaluator.evaluate(input, attribution!.map, target);
    const outcome = { ...result, method: method.name, seconds: (performance.now() - start) / 1000, mapMs: mapped - start, conservation: conservationOf(attribution!) };
    await onOutcome(outcome, predicted, target);
  }
  return { predicted, target };
}
