/**
 * Named rule configurations and the user-facing options that select and override them.
 * The `default` preset is the contract of `docs/lrp-spec.md`; the others are common alternatives.
 */
import {
  describeRule, listNames, resolveRule, ruleNames, RULES, type Rule, type RuleKind, type RuleName, type RuleSpec, type StabilizerMode,
} from './rules.js';

/** How relevance is divided among the inputs of an addition (a skip connection): the add rules. */
export const SPLIT_MODES = ruleNames('add');
export type SplitMode = RuleName<'add'>;
/** What relevance the target class starts with: the start rules. */
export const START_MODES = ruleNames('start');
export type StartMode = RuleName<'start'>;
/** How every stabilized division R / z avoids zero. */
export const STABILIZER_MODES: readonly StabilizerMode[] = ['signed', 'additive'];

/** Kinds of layers that take a rule (the start is not a layer). */
export type LayerRuleKind = Exclude<RuleKind, 'start'>;
/** A rule for one named layer: its name is looked up among the rules of that layer's kind. */
export type LayerRuleSpec = { [K in LayerRuleKind]: RuleSpec<K> }[LayerRuleKind];

/** Which rule goes where: by kind, by the first conv (reading the image), or by layer name. */
export interface RuleAssignments {
  /** The conv layer(s) that read the model input. */
  first?: RuleSpec;
  /** Every other conv layer. */
  conv?: RuleSpec;
  /** Dense layers (the classifier). */
  dense?: RuleSpec;
  /** ReLU layers: `pass` (LRP), `gradient` or `guided`. */
  relu?: RuleSpec<'relu'>;
  /** Batch norm layers: `pass` (LRP) or `gradient`. */
  batchNorm?: RuleSpec<'batchNorm'>;
  /** Max pool layers: `window-average` (the spec), `avg2x2` (the official code) or `gradient`. */
  maxPool?: RuleSpec<'maxPool'>;
  /** Global average pooling: `zplus`, `zplus-mean` or `gradient`. */
  globalAvgPool?: RuleSpec<'globalAvgPool'>;
  /**
   * Per-layer overrides by layer name, for any layer kind, e.g.
   * `{ conv5_block3_3_conv: 'epsilon', conv5_block3_add: 'symmetric', conv1_relu: 'gradient' }`.
   */
  layers?: Record<string, LayerRuleSpec>;
}

/** User options for the relevance pass; every field is optional and overrides the preset. */
export interface LrpOptions extends RuleAssignments {
  /** Named starting configuration (default `'default'`, the paper's method). */
  preset?: PresetName;
  /** The rule of every addition (skip connection): `ratio` (the paper, default), `symmetric`, … */
  split?: SplitMode;
  /** Start relevance of the target class: its `logit` (default), its `softmax` probability, … */
  start?: StartMode;
  /** Stabilizer of every division: `signed` z + ε·sign(z) (default) or `additive` z + ε. */
  stabilizer?: StabilizerMode;
  /** The stabilizer's ε. Default 1e-9. */
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
  readonly relu: Rule<'relu'>;
  readonly batchNorm: Rule<'batchNorm'>;
  readonly maxPool: Rule<'maxPool'>;
  readonly globalAvgPool: Rule<'globalAvgPool'>;
  /** Overrides by layer name; the composite resolves each against its layer's kind. */
  readonly layers: Readonly<Record<string, LayerRuleSpec>>;
  readonly split: SplitMode;
  readonly start: StartMode;
  readonly stabilizer: StabilizerMode;
  readonly epsilon: number;
  /** The user's z_b bounds; undefined: the model's input description decides. */
  readonly inputBounds?: { readonly low: readonly number[]; readonly high: readonly number[] };
}

interface Preset {
  readonly description: string;
  readonly first: RuleSpec;
  readonly conv: RuleSpec;
  readonly dense: RuleSpec;
  readonly relu: RuleSpec<'relu'>;
  readonly batchNorm: RuleSpec<'batchNorm'>;
  readonly maxPool: RuleSpec<'maxPool'>;
  readonly globalAvgPool: RuleSpec<'globalAvgPool'>;
  readonly split: SplitMode;
  readonly start: StartMode;
  readonly stabilizer: StabilizerMode;
  readonly epsilon: number;
}

/** The stabilizer ε of `docs/lrp-spec.md`. */
export const DEFAULT_STABILIZER = 1e-9;

const DEFAULT: Preset = {
  description: 'the paper: z_b first layer, z+ elsewhere, ratio split at skips, logit start',
  first: 'zb',
  conv: 'zplus',
  dense: 'zplus',
  relu: 'pass',
  batchNorm: 'pass',
  maxPool: 'window-average',
  globalAvgPool: 'zplus',
  split: 'ratio',
  start: 'logit',
  stabilizer: 'signed',
  epsilon: DEFAULT_STABILIZER,
};

const GRADIENT: Preset = {
  description: 'the plain gradient ∂y_t/∂x of the target logit (a baseline, not LRP)',
  first: 'gradient',
  conv: 'gradient',
  dense: 'gradient',
  relu: 'gradient',
  batchNorm: 'gradient',
  maxPool: 'gradient',
  globalAvgPool: 'gradient',
  split: 'gradient',
  start: 'gradient',
  stabilizer: 'signed',
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
  official: {
    description: 'the paper’s released code (LRP-for-ResNet, flows_skip): softmax of the predicted class, z+ everywhere ' +
      '(bias zeroed), z+ on ones at the first conv, 2×2/2 average pool for the max pool, ratio split without fallback, z + ε, ε = 1e-5',
    first: 'zplus-ones',
    conv: 'zplus',
    dense: 'zplus',
    relu: 'pass',
    batchNorm: 'pass',
    maxPool: 'avg2x2',
    globalAvgPool: 'zplus-mean',
    split: 'ratio-no-fallback',
    start: 'softmax-predicted',
    stabilizer: 'additive',
    epsilon: 1e-5,
  },
  gradient: GRADIENT,
  'guided-backprop': { ...GRADIENT, relu: 'guided', description: 'Guided Backprop: the gradient with ReLUs passing only positive signal' },
} as const satisfies Record<string, Preset>;

export type PresetName = keyof typeof PRESETS;

/** Resolves user options against their preset, validating every value. */
export function resolveLrpOptions(options: LrpOptions = {}): LrpConfig {
  const presetName = options.preset ?? 'default';
  const preset: Preset | undefined = Object.hasOwn(PRESETS, presetName) ? (PRESETS as Record<string, Preset>)[presetName] : undefined;
  if (!preset) throw new Error(`unknown LRP preset "${presetName}" (choose one of ${Object.keys(PRESETS).join(', ')})`);
  const split = oneOf('split', options.split ?? preset.split, SPLIT_MODES);
  const start = oneOf('start', options.start ?? preset.start, START_MODES);
  const stabilizer = oneOf('stabilizer', options.stabilizer ?? preset.stabilizer, STABILIZER_MODES);
  const epsilon = options.epsilon ?? preset.epsilon;
  if (!Number.isFinite(epsilon) || epsilon <= 0) throw new Error(`epsilon (the stabilizer) must be a finite number > 0, got ${epsilon}`);
  const inputBounds = options.inputBounds;
  if (inputBounds && (inputBounds.low.length !== inputBounds.high.length || inputBounds.low.some((l, c) => !(l < inputBounds.high[c]!)))) {
    throw new Error('inputBounds: low and high need one value per input channel, with low < high');
  }
  const layers: Record<string, LayerRuleSpec> = {};
  for (const [name, spec] of Object.entries(options.layers ?? {})) {
    checkLayerRule(spec, `rule for layer ${name}`);
    layers[name] = spec;
  }
  return {
    preset: presetName,
    first: resolveRule(options.first ?? preset.first, 'rule for the first layer'),
    conv: resolveRule(options.conv ?? preset.conv, 'rule for conv layers'),
    dense: resolveRule(options.dense ?? preset.dense, 'rule for dense layers'),
    relu: resolveRule(options.relu ?? preset.relu, 'rule for ReLU layers', 'relu'),
    batchNorm: resolveRule(options.batchNorm ?? preset.batchNorm, 'rule for batch norm layers', 'batchNorm'),
    maxPool: resolveRule(options.maxPool ?? preset.maxPool, 'rule for max pool layers', 'maxPool'),
    globalAvgPool: resolveRule(options.globalAvgPool ?? preset.globalAvgPool, 'rule for global average pool layers', 'globalAvgPool'),
    layers,
    split,
    start,
    stabilizer,
    epsilon,
    ...(inputBounds ? { inputBounds: { low: [...inputBounds.low], high: [...inputBounds.high] } } : {}),
  };
}

/** Whether the start rule explains the predicted class whatever target is asked for. */
export function explainsPredictedOnly(config: LrpConfig): boolean {
  return config.start === 'softmax-predicted';
}

/** One line describing a configuration, for logs and figure captions; kinds at their LRP default are left out. */
export function describeConfig(config: LrpConfig): string {
  const kinds = (['relu', 'batchNorm', 'maxPool', 'globalAvgPool'] as const)
    .filter((k) => config[k].name !== DEFAULT[k])
    .map((k) => ` ${k}=${describeRule(config[k] as Rule<typeof k>, k)}`).join('');
  const overrides = Object.entries(config.layers).map(([n, r]) => ` ${n}=${describeSpec(r)}`).join('');
  const stabilizer = config.stabilizer === 'signed' ? '' : ` ${config.stabilizer}`;
  return `first=${describeRule(config.first)} conv=${describeRule(config.conv)} dense=${describeRule(config.dense)}${kinds}` +
    ` split=${config.split} start=${config.start} ε=${config.epsilon}${stabilizer}${overrides}`;
}

/** A per-layer spec as written, e.g. `epsilon(epsilon=0.1)`. */
function describeSpec(spec: LayerRuleSpec): string {
  if (typeof spec === 'string') return spec;
  const params = Object.entries(spec).filter(([key]) => key !== 'name').map(([key, value]) => `${key}=${value}`);
  return params.length === 0 ? spec.name : `${spec.name}(${params.join(', ')})`;
}

function oneOf<T extends string>(option: string, value: string, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) throw new Error(`${option} must be one of ${allowed.map((a) => `"${a}"`).join(', ')}, got "${value}"`);
  return value as T;
}

/** A per-layer rule must name a rule of some layer kind, with valid parameters; its layer's kind is checked at compile time. */
function checkLayerRule(spec: LayerRuleSpec, where: string): void {
  const name = typeof spec === 'string' ? spec : spec.name;
  const kinds = (Object.keys(RULES) as RuleKind[]).filter((k) => k !== 'start' && Object.hasOwn(RULES[k], name)) as LayerRuleKind[];
  if (kinds.length === 0) {
    const all = [...new Set((Object.keys(RULES) as RuleKind[]).filter((k) => k !== 'start').flatMap((k) => ruleNames(k)))];
    throw new Error(`${where}: unknown rule "${name}" (expected ${listNames(all)})`);
  }
  resolveRule(spec as RuleSpec<LayerRuleKind>, where, kinds[0]!);
}
