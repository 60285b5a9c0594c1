/**
 * LRP as an {@link AttributionMethod}: the model's compiled forward + relevance graph, one run
 * per batch, any preset or rules.
 */
import type { LrpOptions } from '../lrp/presets.js';
import type { Attribution, AttributionMethod } from './methods.js';

/** The part of a loaded model (an `LrpModel`) that LRP as an attribution method needs. */
export interface BatchLrpModel {
  computeLrpBatch(
    inputs: readonly Float32Array[],
    options: { classIndices: readonly (number | undefined)[] },
  ): Promise<{ attribution: { data: Float32Array }; relevance: { data: Float32Array }; targetClass: number; startRelevance: number }[]>;
}

/**
 * Wraps a model whose explainer was compiled with `rules` (the rules are only described here:
 * the model holds them).
 */
export function lrpMethod(name: string, model: BatchLrpModel, rules: LrpOptions = {}): AttributionMethod {
  return {
    name,
    description: `LRP (${JSON.stringify(rules)})`,
    async attribute(inputs, targets): Promise<Attribution[]> {
      if (inputs.length !== targets.length) throw new Error(`${name}: ${inputs.length} images but ${targets.length} targets`);
      if (inputs.length === 0) return [];
      const results = await model.computeLrpBatch(inputs, { classIndices: targets });
      return results.map((r, i) => {
        if (r.targetClass !== targets[i]) throw new Error(`${name}: explained class ${r.targetClass} instead of ${targets[i]} (image ${i})`);
        return { map: r.attribution.data, relevance: r.relevance.data, start: r.startRelevance };
      });
    },
    async dispose() {
      // The model belongs to whoever loaded it.
    },
  };
}
