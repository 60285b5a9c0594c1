/**
 * Attribution methods behind one interface, so that the evaluation can compare them on equal
 * terms: each turns a batch of preprocessed images and their target classes into one
 * attribution map per image (and, where the method has one, the relevance of every input
 * value). Methods are entries of a registry ({@link METHODS}): LRP under every preset, the
 * gradient baselines, Integrated Gradients, Grad-CAM and the random floor.
 */
import type { ExplainerOptions } from '../lrp/compiler.js';
import type { ModelGraph } from '../graph/graph.js';
import type { InputDescription } from '../model/input.js';
import { PRESETS, type LrpOptions, type PresetName } from '../lrp/presets.js';
import type { ExplainerSession } from './explainer-session.js';
import { gradcamMethod } from './gradcam.js';
import { gradientTimesInputMethod, guidedBackpropMethod, saliencyMethod } from './gradient-methods.js';
import { DEFAULT_IG_STEPS, integratedGradientsMethod, type IntegratedGradientsOptions } from './integrated-gradients.js';
import { lrpMethod, type BatchLrpModel } from './lrp-method.js';
import { randomMethod } from './random-method.js';

/** What a method computes for one image. */
export interface Attribution {
  /** size × size, row-major: the map the metric ranks. */
  readonly map: Float32Array;
  /**
   * Relevance of every input value, in the model's input layout and channel order: LRP's, the
   * gradient (`gradient`, `gbp`), x ⊙ gradient (`gradxinput`), (x − b) ⊙ the integrated gradient (`ig`).
   */
  readonly relevance?: Float32Array;
  /**
   * What the relevance is measured against in {@link conservationOf}: LRP's start relevance
   * (the target's logit under the default start rule); the target's logit for the gradient
   * methods. Absent for methods without `relevance`.
   */
  readonly start?: number;
}

/**
 * Σ input relevance / start relevance (summed in float64): 1 for a conservative LRP, and a
 * number to compare for every other method with per-input relevance (the gradient methods
 * are not built to conserve: theirs is not expected to be 1). Null for a method without input
 * relevance (Grad-CAM, random) or with a zero start.
 */
export function conservationOf(attribution: Attribution): number | null {
  const { relevance, start } = attribution;
  if (relevance === undefined || start === undefined || start === 0) return null;
  let sum = 0;
  for (let i = 0; i < relevance.length; i++) sum += relevance[i]!;
  return sum / start;
}

/** An attribution method bound to a model. */
export interface AttributionMethod {
  /** Name as used on the command line and in reports (`lrp`, `lrp-symmetric`, `random`, …). */
  readonly name: string;
  /** One line: what the method is. */
  readonly description: string;
  /**
   * Maps for a batch: `inputs[i]` is one preprocessed image in the model's layout, `targets[i]`
   * the class to explain for it.
   */
  attribute(inputs: readonly Float32Array[], targets: readonly number[]): Promise<Attribution[]>;
  /** Releases what the method created (sessions); never the model it was given. */
  dispose(): Promise<void>;
}

/** What method factories may use. */
export interface MethodContext {
  /** The model's input description (layout, size, …). */
  readonly inputDescription: InputDescription;
  /** The model graph (Grad-CAM finds its last spatial layer there). */
  readonly graph: ModelGraph;
  /** The node Grad-CAM explains (default: the last node whose output has more than one position). */
  readonly gradcamNode?: string;
  /** The model with an LRP explainer compiled for these rules. */
  loadLrp(rules: LrpOptions): Promise<BatchLrpModel>;
  /**
   * The model's forward pass and a relevance pass under `rules`, with extra outputs, in a
   * session of its own: what the gradient-based methods run (`contextFromModel` gives it for a
   * loaded `LrpModel`).
   */
  compileExplainer(rules: LrpOptions, options?: ExplainerOptions): Promise<ExplainerSession>;
  /** Seed of the random baseline. Default 0. */
  readonly seed?: number;
  /** Integrated Gradients' steps and images per run. */
  readonly ig?: IntegratedGradientsOptions;
}

/** A registry entry. */
export interface MethodEntry {
  readonly description: string;
  create(context: MethodContext): Promise<AttributionMethod>;
}

function lrpEntry(preset: PresetName): MethodEntry {
  return {
    description: `LRP, ${PRESETS[preset].description}`,
    create: async (context) => lrpMethod(preset === 'default' ? 'lrp' : `lrp-${preset}`, await context.loadLrp({ preset }), { preset }),
  };
}

/**
 * Every method by name: `lrp` (the paper's rules), `lrp-<preset>` for the other LRP presets
 * (`lrp-symmetric` is LRP without the paper's split), the baselines `gradient` (saliency),
 * `gradxinput`, `ig`, `gbp` and `gradcam`, and `random` (the sanity floor).
 */
export const METHODS: Readonly<Record<string, MethodEntry>> = Object.freeze({
  lrp: lrpEntry('default'),
  ...Object.fromEntries(
    (Object.keys(PRESETS) as PresetName[]).filter((p) => p !== 'default').map((p) => [`lrp-${p}`, lrpEntry(p)]),
  ),
  gradient: {
    description: 'saliency: max over channels of |∂y_t/∂x| (Simonyan et al. 2014)',
    create: saliencyMethod,
  },
  gradxinput: {
    description: 'gradient × input: Σ over channels of x ⊙ ∂y_t/∂x (Shrikumar et al. 2016)',
    create: gradientTimesInputMethod,
  },
  ig: {
    description: `Integrated Gradients from the black image, ${DEFAULT_IG_STEPS} steps by default (Sundararajan et al. 2017)`,
    create: (context) => integratedGradientsMethod(context, context.ig),
  },
  gbp: {
    description: 'Guided Backprop, summed over channels (Springenberg et al. 2015)',
    create: guidedBackpropMethod,
  },
  gradcam: {
    description: 'Grad-CAM at the last residual stage, bilinear upsampling (Selvaraju et al. 2017)',
    create: gradcamMethod,
  },
  random: {
    description: 'uniform random map (seeded by the seed and the image): the floor every method must beat',
    create: async (context) => randomMethod({ size: context.inputDescription.size, seed: context.seed ?? 0 }),
  },
});

/** The registered method names, in registry order. */
export function methodNames(): string[] {
  return Object.keys(METHODS);
}

/**
 * Creates the named method for a model.
 *
 * @throws Error naming the unknown method and listing the known ones.
 */
export async function createMethod(name: string, context: MethodContext): Promise<AttributionMethod> {
  const entry = Object.hasOwn(METHODS, name) ? METHODS[name] : undefined;
  if (!entry) throw new Error(`unknown method "${name}" (methods: ${methodNames().join(', ')})`);
  return entry.create(context);
}
