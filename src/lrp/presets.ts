/**
 * Named rule configurations and the user-facing options that select and override them.
 * The `default` preset is the contract of `lrp-spec.md`; the others are common alternatives.
 */
import { describeRule, resolveRule, type Rule, type RuleSpec } from './rules.js';

/** How relevance is divided among the inputs of an addition (a skip connection). */
export const SPLIT_MODES = ['ratio', 'symmetric'] as const;
export type SplitMode = (typeof SPLIT_MODES)[number];
/** What relevance the target class starts with. */
export const START_MODES = ['logit', 'softmax'] as const;
export type StartMode = (typeof START_MODES)[number];

/** Which rule goes where: by kind, by the first conv (reading the image), or by layer name. */
export interface RuleAssignments {
  /** The conv layer(s) that read the model input. */
  first?: RuleSpec;
  /** Every other conv layer. */
  conv?: RuleSpec;
  /** Dense layers (the classifier). */
  dense?: RuleSpec;
  /** Per-layer overrides by Keras layer name, e.g. `{ conv5_block3_3_conv: 'epsilon' }`. */
  layers?: Record<string, RuleSpec>;
}

/** User options for the relevance pass; every field is optional and overrides the preset. */
export interface LrpOptions extends RuleAssignments {
  /** Named starting configuration (default `'default'`, the paper's method). */
  preset?: PresetName;
  /** Skip-connection split: `ratio` (the paper, default) or `symmetric` (0.5/0.5). */
  split?: SplitMode;
  /** Start relevance of the target class: its `logit` (default) or its `softmax` probability. */
  start?: StartMode;
  /** Stabilizer of every division: z + ε·sign(z). Default 1e-9. */
  epsilon?: number;
  /**
   * Per-channel bounds of the model input for the z_b rule (model channel order). Default:
   * the model's input description (pixel 0 and 255 preprocessed; caffe for Keras files).
   */
  inputBounds?: { low: readonly number[]; high: readonly number[] };
}

/** Fully resolved configuration: every choice made, rules validated. */
export interface LrpConfig {
  readonly preset: PresetName;
  readonly first: Rule;
  readonly conv: Rule;
  readonly dense: Rule;
  readonly layers: Readonly<Record<string, Rule>>;
  readonly split: SplitMode;
  readonly start: StartMode;
  readonly epsilon: number;
  /** The user's z_b bounds; undefined: the model's input description decides. */
  readonly inputBounds?: { readonly low: readonly number[]; readonly high: readonly number[] };
}

interface Preset {
  readonly description: string;
  readonly first: RuleSpec;
  readonly conv: RuleSpec;
  readonly dense: RuleSpec;
  readonly split: SplitMode;
  readonly start: StartMode;
  readonly epsilon: number;
}

/** The stabilizer ε of `lrp-spec.md`. */
export const DEFAULT_STABILIZER = 1e-9;

const DEFAULT: Preset = {
  description: 'the paper: z_b first layer, z+ elsewhere, ratio split at skips, logit start',
  first: 'zb',
  conv: 'zplus',
  dense: 'zplus',
  split: 'ratio',
  start: 'logit',
  epsilon: DEFAULT_STABILIZER,
};

/** The named presets. */
export const PRESETS = {
  default: DEFAULT,
  symmetric: { ...DEFAULT, split: 'symmetric', description: 'baseline without the paper’s split: 0.5/0.5 at every skip connection' },
  gamma: { ...DEFAULT, conv: 'gamma', description: 'gamma rule (γ=0.25) on the convs, otherwise the default' },
  'epsilon-gamma-box': {
    ...DEFAULT,
    conv: 'gamma',
    dense: 'epsilon',
    description: 'zennit’s EpsilonGammaBox: z_b first, gamma convs, epsilon (with bias) on the classifier',
  },
} as const satisfies Record<string, Preset>;

export type PresetName = keyof typeof PRESETS;

/** Resolves user options against their preset, validating every value. */
export function resolveLrpOptions(options: LrpOptions = {}): LrpConfig {
  const presetName = options.preset ?? 'default';
  const preset: Preset | undefined = (PRESETS as Record<string, Preset>)[presetName];
  if (!preset) throw new Error(`unknown LRP preset "${presetName}" (choose one of ${Object.keys(PRESETS).join(', ')})`);
  const split = options.split ?? preset.split;
  if (!SPLIT_MODES.includes(split)) throw new Error(`split must be "ratio" or "symmetric", got "${split}"`);
  const start = options.start ?? preset.start;
  if (!START_MODES.includes(start)) throw new Error(`start must be "logit" or "softmax", got "${start}"`);
  const epsilon = options.epsilon ?? preset.epsilon;
  if (!Number.isFinite(epsilon) || epsilon <= 0) throw new Error(`epsilon (the stabilizer) must be a finite number > 0, got ${epsilon}`);
  const inputBounds = options.inputBounds;
  if (inputBounds && (inputBounds.low.length !== inputBounds.high.length || inputBounds.low.some((l, c) => !(l < inputBounds.high[c]!)))) {
    throw new Error('inputBounds: low and high need one value per input channel, with low < high');
  }
  const layers: Record<string, Rule> = {};
  for (const [name, spec] of Object.entries(options.layers ?? {})) layers[name] = resolveRule(spec, `rule for layer ${name}`);
  return {
    preset: presetName,
    first: resolveRule(options.first ?? preset.first, 'rule for the first layer'),
    conv: resolveRule(options.conv ?? preset.conv, 'rule for conv layers'),
    dense: resolveRule(options.dense ?? preset.dense, 'rule for dense layers'),
    layers,
    split,
    start,
    epsilon,
    ...(inputBounds ? { inputBounds: { low: [...inputBounds.low], high: [...inputBounds.high] } } : {}),
  };
}

/** One line describing a configuration, for logs and figure captions. */
export function describeConfig(config: LrpConfig): string {
  const overrides = Object.entries(config.layers).map(([n, r]) => ` ${n}=${describeRule(r)}`).join('');
  return `first=${describeRule(config.first)} conv=${describeRule(config.conv)} dense=${describeRule(config.dense)}` +
    ` split=${config.split} start=${config.start} ε=${config.epsilon}${overrides}`;
}
