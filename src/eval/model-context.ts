/**
 * The {@link MethodContext} of a loaded `LrpModel`: every method of the registry runs on it.
 */
import type { LrpModel } from '../lrp-model.js';
import { resolveLrpOptions, type LrpOptions } from '../lrp/presets.js';
import { explainerSession } from './explainer-session.js';
import type { BatchLrpModel } from './lrp-method.js';
import type { MethodContext } from './methods.js';

export interface ModelContextOptions {
  /** Loads the model under other LRP rules than its own (without it, other rules are refused). */
  loadLrp?(rules: LrpOptions): Promise<BatchLrpModel>;
  seed?: number;
  ig?: MethodContext['ig'];
  /** The node Grad-CAM explains (default: the last spatial layer). */
  gradcamNode?: string;
}

/**
 * A context on `model`: LRP methods with the model's own rules use it, other rules go to
 * `options.loadLrp`; the gradient-based methods compile their explainers from it.
 */
export function contextFromModel(model: LrpModel, options: ModelContextOptions = {}): MethodContext {
  const own = JSON.stringify(model.config);
  return {
    inputDescription: model.inputDescription,
    graph: model.graph,
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
    ...(options.ig ? { ig: options.ig } : {}),
    ...(options.gradcamNode !== undefined ? { gradcamNode: options.gradcamNode } : {}),
    async loadLrp(rules) {
      if (JSON.stringify(resolveLrpOptions(rules)) === own) return model;
      if (!options.loadLrp) throw new Error(`the model was loaded with other rules (${model.info.rules}); no loader for ${JSON.stringify(rules)}`);
      return options.loadLrp(rules);
    },
    async compileExplainer(rules, extras) {
      return explainerSession(await model.createExplainerSession(rules, extras), model.inputDescription);
    },
  };
}
