/**
 * LRP rules as data, in zennit's style. A rule for a linear layer (conv, dense, and the pools
 * treated as linear maps) is a list of terms plus a stabilizer, a reducer and bias use —
 * zennit's five knobs (the output modifier is the identity everywhere here):
 *
 *     z     = Σ_k  sign_k · layer(input_k, param_k(W))  (+ b)     input and parameter modifiers
 *     s     = R / stabilize(z)                                     gradient mapper (stabilizer)
 *     R_in  = Σ_k  input_k ⊙ layerᵀ(s, param_k(W))                 reducer `input`
 *          or Σ_k  layerᵀ(s, param_k(W))                           reducer `adjoint`
 *
 * With the stabilizer `none` (s = R, no z at all), reducer `adjoint` and the identity modifiers
 * this is the chain rule: the plain gradient is one more rule. The other layer kinds (ReLU,
 * batch norm, max pool, additions) and the start relevance get small rules of their own, so
 * one compiler serves LRP and gradient methods alike.
 *
 * {@link RULES} is the one registry: every rule's name, parameters with their defaults and
 * checks, description and data. The types, the validation, the CLI's choices and the
 * descriptions all derive from it, so adding a rule is adding one entry.
 */

// ---- the knobs of a linear rule ----

/** zennit's input modifier: what a term's weights multiply. */
export type InputModifier =
  /** The layer's input activation. */
  | 'activation'
  /** Its positive part a⁺ = max(a, 0) (z+ and gamma in their textbook form). */
  | 'activation+'
  /** Its negative part a⁻ = min(a, 0). */
  | 'activation-'
  /** Ones wherever the input has a value; zero where a zero-padding layer added positions. */
  | 'ones'
  /** z_b's bound images l and h (per channel at the model input, zero where padded). */
  | 'low'
  | 'high';

/** zennit's parameter modifier: how a term derives its weights from the layer's W. */
export type ParamModifier =
  | { readonly kind: 'identity' }
  | { readonly kind: 'positive' } // W⁺ = max(W, 0)
  | { readonly kind: 'negative' } // W⁻ = min(W, 0)
  | { readonly kind: 'gamma'; readonly gamma: number } // W + γ·W⁺
  | { readonly kind: 'gamma-negative'; readonly gamma: number } // W + γ·W⁻
  | { readonly kind: 'ones' } // 1 (zennit's Flat)
  | { readonly kind: 'square' }; // W² (zennit's WSquare)

/** How a stabilizer keeps `R / z` finite. */
export type StabilizerMode =
  /** z + ε·sign(z) with sign(0) = +1: the spec's and zennit's epsilon. */
  | 'signed'
  /** z + ε: the official implementation's (kaifishr/PyTorchRelevancePropagation). */
  | 'additive';

/**
 * zennit's gradient mapper: how the relevance R of the outputs becomes the signal s sent back
 * through the terms. `none` is the plain gradient, s = R (z is not even computed).
 */
export type Stabilizer = { readonly mode: StabilizerMode; readonly epsilon: number } | { readonly mode: 'none' };

/** zennit's reducer: `input` gives Σ_k input_k ⊙ c_k (LRP), `adjoint` Σ_k c_k (Flat, ones input, gradient). */
export type Reducer = 'input' | 'adjoint';

export interface RuleTerm {
  readonly input: InputModifier;
  readonly param: ParamModifier;
  /** Multiplies the term (z_b subtracts its bound terms). */
  readonly sign: 1 | -1;
}

/** A linear rule as data: what the compiler turns into ONNX ops. */
export interface LinearRule {
  readonly terms: readonly RuleTerm[];
  /** The rule's own stabilizer; undefined: the composite's (`stabilizer` and `epsilon` options). */
  readonly stabilizer?: Stabilizer;
  readonly reducer: Reducer;
  /** Whether z includes the layer's bias. */
  readonly bias: boolean;
  /**
   * The sign-aware gamma (gamma-signed): z_j = Σ_i z_ij + γ·Σ_i z⁺_ij where Σ_i z_ij ≥ 0, else
   * Σ_i z_ij + γ·Σ_i z⁻_ij (z_ij = a_i·w_ij), and R_i = Σ_j (z_ij + γ·z^±_ij)·R_j/z_j on the same
   * branch. Its terms are the plain [[a, W]]; the compiler adds the branch-dependent ones.
   */
  readonly signedGamma?: number;
}

/**
 * The pools as linear maps. Their weights are uniform and non-negative: ones (z is the window
 * sum, the stabilizer acts on the sum) or 1/n (z is the window mean, as in an average pool
 * layer: the stabilizer acts on the mean, i.e. n·ε on the sum).
 */
export type PoolWeights = 'ones' | 'mean';

// ---- what each layer kind's rules are ----

/** The rules' data for each kind of rule. */
export interface RuleData {
  /** conv and dense layers. */
  linear: LinearRule;
  /** R ⊙ mask: `none` passes R through (LRP), `active` keeps it where the ReLU's output is > 0, `guided` also where R > 0. */
  relu: { readonly mask: 'none' | 'active' | 'guided' };
  /** `pass` (LRP) or `scale` by γ/√(var + ε) (the gradient). */
  batchNorm: { readonly propagate: 'pass' | 'scale' };
  /**
   * A linear rule over windows: the pool's own (`same`) or 2×2/2 windows over the unpadded
   * input (`2x2`); or `argmax`: everything to the first maximum of each window (the gradient).
   */
  maxPool:
    | { readonly propagate: 'windows'; readonly windows: 'same' | '2x2'; readonly weights: PoolWeights; readonly rule: LinearRule }
    | { readonly propagate: 'argmax' };
  globalAvgPool: { readonly weights: PoolWeights; readonly rule: LinearRule };
  /**
   * How relevance at an addition is divided among its inputs: `ratio` by |x_k| / Σ|x| (1/K
   * where all are zero), `ratio-no-fallback` the same with 0 where all are zero, `equal`
   * R/K each, `copy` R to every input (the gradient).
   */
  add: { readonly split: 'ratio' | 'ratio-no-fallback' | 'equal' | 'copy' };
  /** The start relevance: one-hot of the target times its logit, its probability, or 1 (the gradient). */
  start: { readonly score: 'logit' | 'probability' | 'one'; readonly target: 'requested' | 'predicted' };
}

export type RuleKind = keyof RuleData;

// ---- the registry ----

/** A numeric parameter: its default, the range it must lie in, and its symbol for descriptions. */
export interface ParamSpec {
  readonly default: number;
  readonly min: number;
  /** Whether `min` itself is excluded. */
  readonly exclusive: boolean;
  readonly symbol: string;
}
type ParamSpecs = Readonly<Record<string, ParamSpec>>;
type ParamValues<P extends ParamSpecs> = { readonly [K in keyof P]: number };

export interface RuleEntry<P extends ParamSpecs, T> {
  readonly description: string;
  readonly params: P;
  /** Method syntax on purpose: entries with their own parameters must fit the registry's constraint. */
  build(params: ParamValues<P>): T;
}

function entry<T, P extends ParamSpecs = {}>(description: string, build: (p: ParamValues<P>) => T, params: P = {} as P): RuleEntry<P, T> {
  return { description, params, build };
}

const term = (input: InputModifier, param: ParamModifier['kind'] | ParamModifier, sign: 1 | -1 = 1): RuleTerm =>
  ({ input, param: typeof param === 'string' ? ({ kind: param } as ParamModifier) : param, sign });
const linear = (terms: RuleTerm[], knobs: Partial<Omit<LinearRule, 'terms'>> = {}): LinearRule =>
  ({ terms, reducer: 'input', bias: false, ...knobs });
/** The chain rule through a linear map: R_in = Wᵀ R. */
const GRADIENT: LinearRule = linear([term('activation', 'identity')], { stabilizer: { mode: 'none' }, reducer: 'adjoint' });
/**
 * z+ in its textbook form (zennit's ZPlus, LRP-α1β0): only positive contributions a_i·w_ij count,
 * [[a⁺, W⁺], [a⁻, W⁻]]. On a non-negative input the compiler keeps only a·W⁺.
 */
const ZPLUS: LinearRule = linear([term('activation+', 'positive'), term('activation-', 'negative')]);

const LINEAR_RULES = {
  zplus: entry('z+: positive contributions only (a⁺W⁺ and a⁻W⁻), no bias', () => ZPLUS),
  gamma: entry('gamma: [[a⁺, W + γW⁺], [a⁻, W + γW⁻]], no bias', (p) =>
    linear([term('activation+', { kind: 'gamma', gamma: p.gamma }), term('activation-', { kind: 'gamma-negative', gamma: p.gamma })]),
    { gamma: { default: 0.25, min: 0, exclusive: false, symbol: 'γ' } }),
  'gamma-signed': entry('gamma, sign-aware: z + γ·(positive contributions) where z ≥ 0, z + γ·(negative ones) where z < 0, no bias', (p) =>
    linear([term('activation', 'identity')], { signedGamma: p.gamma }),
  { gamma: { default: 0.25, min: 0, exclusive: false, symbol: 'γ' } }),
  epsilon: entry('epsilon: W with bias, z + ε·sign(z) with its own ε', (p) =>
    linear([term('activation', 'identity')], { bias: true, stabilizer: { mode: 'signed', epsilon: p.epsilon } }),
  { epsilon: { default: 1e-6, min: 0, exclusive: true, symbol: 'ε' } }),
  zb: entry('z_b (box): x·W − l·W⁺ − h·W⁻ with the input bounds l, h (first layer only)', () =>
    linear([term('activation', 'identity'), term('low', 'positive', -1), term('high', 'negative', -1)])),
  'zplus-ones': entry('z+ on an input of ones: R_i = Σ_j w⁺_ij R_j / Σ_i w⁺_ij (the official first layer)', () =>
    linear([term('ones', 'positive')], { reducer: 'adjoint' })),
  flat: entry('Flat: ones input and ones weights, R spread evenly over each window', () =>
    linear([term('ones', 'ones')], { reducer: 'adjoint' })),
  wsquare: entry('W²: R_i = Σ_j w²_ij R_j / Σ_i w²_ij', () => linear([term('ones', 'square')], { reducer: 'adjoint' })),
  gradient: entry('the gradient: R_in = Wᵀ R', () => GRADIENT),
};

const RELU_RULES = {
  pass: entry('LRP: relevance passes unchanged', () => ({ mask: 'none' as const })),
  gradient: entry('the gradient: R where the output is > 0', () => ({ mask: 'active' as const })),
  guided: entry('Guided Backprop: R where the output is > 0 and R > 0', () => ({ mask: 'guided' as const })),
};

const BATCH_NORM_RULES = {
  pass: entry('LRP: relevance passes unchanged', () => ({ propagate: 'pass' as const })),
  gradient: entry('the gradient: R·γ/√(var + ε)', () => ({ propagate: 'scale' as const })),
};

const MAX_POOL_RULES = {
  'window-average': entry('z+ as average pooling over the same windows (ε on the window sum)', () =>
    ({ propagate: 'windows' as const, windows: 'same' as const, weights: 'ones' as const, rule: ZPLUS })),
  avg2x2: entry('z+ as a 2×2/2 average pool over the unpadded input, ε on the mean (the official code)', () =>
    ({ propagate: 'windows' as const, windows: '2x2' as const, weights: 'mean' as const, rule: ZPLUS })),
  gradient: entry('the gradient: R to the first maximum of each window', () => ({ propagate: 'argmax' as const })),
};

const GLOBAL_AVG_POOL_RULES = {
  zplus: entry('z+ with uniform weights (ε on the sum)', () => ({ weights: 'ones' as const, rule: ZPLUS })),
  'zplus-mean': entry('z+ with uniform weights, ε on the mean (the official code)', () => ({ weights: 'mean' as const, rule: ZPLUS })),
  gradient: entry('the gradient: R/(H·W) at every position', () => ({ weights: 'mean' as const, rule: GRADIENT })),
};

const ADD_RULES = {
  ratio: entry('the paper: R·|x_k|/Σ|x|, 0.5/0.5 where all inputs are 0', () => ({ split: 'ratio' as const })),
  'ratio-no-fallback': entry('the official code: R·|x_k|/Σ|x|, nothing where all inputs are 0', () => ({ split: 'ratio-no-fallback' as const })),
  symmetric: entry('0.5/0.5 (1/K each)', () => ({ split: 'equal' as const })),
  gradient: entry('the gradient: R to every input', () => ({ split: 'copy' as const })),
};

const START_RULES = {
  logit: entry('the target’s logit', () => ({ score: 'logit' as const, target: 'requested' as const })),
  softmax: entry('the target’s softmax probability', () => ({ score: 'probability' as const, target: 'requested' as const })),
  'softmax-predicted': entry('the softmax probability of the predicted class, whatever the target (the official code)', () =>
    ({ score: 'probability' as const, target: 'predicted' as const })),
  gradient: entry('1 for the target (∂y_t/∂y: the one-hot of the target)', () => ({ score: 'one' as const, target: 'requested' as const })),
};

/** Every rule of every kind: name → description, parameters (defaults, checks) and data. */
export const RULES = {
  linear: LINEAR_RULES,
  relu: RELU_RULES,
  batchNorm: BATCH_NORM_RULES,
  maxPool: MAX_POOL_RULES,
  globalAvgPool: GLOBAL_AVG_POOL_RULES,
  add: ADD_RULES,
  start: START_RULES,
} as const satisfies { readonly [K in RuleKind]: Readonly<Record<string, RuleEntry<ParamSpecs, RuleData[K]>>> };

type Registry = typeof RULES;
/** Names of the rules of one kind (default: conv and dense). */
export type RuleName<K extends RuleKind = 'linear'> = keyof Registry[K] & string;
type ParamsOf<K extends RuleKind, N extends RuleName<K>> = Registry[K][N] extends RuleEntry<infer P, unknown> ? P : never;

/** A fully specified rule: its name and every parameter. */
export type Rule<K extends RuleKind = 'linear'> = {
  [N in RuleName<K>]: { readonly name: N } & { readonly [P in keyof ParamsOf<K, N>]: number };
}[RuleName<K>];

/** A resolved rule of any of the given kinds (one union member per kind). */
export type AnyRule<K extends RuleKind = RuleKind> = { [Q in K]: Rule<Q> }[K];

/** A rule as a user writes it: a name (defaults for its parameters) or an object. */
export type RuleSpec<K extends RuleKind = 'linear'> = {
  [N in RuleName<K>]: N | ({ name: N } & { [P in keyof ParamsOf<K, N>]?: number });
}[RuleName<K>];

/** Default parameters of the parametrised linear rules (zennit's defaults). */
export const RULE_DEFAULTS = {
  gamma: RULES.linear.gamma.params.gamma.default,
  epsilon: RULES.linear.epsilon.params.epsilon.default,
} as const;

/** The rule names of one kind, in registry order. */
export function ruleNames<K extends RuleKind>(kind: K): RuleName<K>[] {
  return Object.keys(RULES[kind]) as RuleName<K>[];
}

function lookup(kind: RuleKind, name: string): RuleEntry<ParamSpecs, unknown> | undefined {
  const rules = RULES[kind] as Readonly<Record<string, RuleEntry<ParamSpecs, unknown>>>;
  return Object.hasOwn(rules, name) ? rules[name] : undefined;
}

/** Normalises a user's rule spec of one kind, filling defaults and validating parameters. */
export function resolveRule<K extends RuleKind = 'linear'>(spec: RuleSpec<K>, where: string, kind: K = 'linear' as K): Rule<K> {
  const s: Record<string, unknown> = typeof spec === 'string' ? { name: spec } : { ...(spec as object) };
  const name = String(s.name);
  const found = lookup(kind, name);
  if (!found) throw new Error(`${where}: unknown rule "${name}" (expected ${listNames(ruleNames(kind))})`);
  const rule: Record<string, unknown> = { name };
  for (const key of Object.keys(s)) {
    if (key !== 'name' && !Object.hasOwn(found.params, key)) throw new Error(`${where}: the ${name} rule takes no parameter "${key}"`);
  }
  for (const [key, p] of Object.entries(found.params)) {
    const value = s[key] === undefined ? p.default : s[key];
    const ok = typeof value === 'number' && Number.isFinite(value) && (p.exclusive ? value > p.min : value >= p.min);
    if (!ok) throw new Error(`${where}: ${key} must be a finite number ${p.exclusive ? '>' : '≥'} ${p.min}, got ${String(value)}`);
    rule[key] = value;
  }
  return rule as Rule<K>;
}

/** The data of a resolved rule, for the compiler. */
export function ruleData<K extends RuleKind>(kind: K, rule: Rule<K>): RuleData[K] {
  return lookup(kind, rule.name)!.build(rule as never) as RuleData[K];
}

/** A short human-readable form, e.g. `gamma(γ=0.25)`. */
export function describeRule<K extends RuleKind>(rule: Rule<K>, kind: K = 'linear' as K): string {
  const params = Object.entries(lookup(kind, rule.name)!.params);
  if (params.length === 0) return rule.name;
  return `${rule.name}(${params.map(([key, p]) => `${p.symbol}=${(rule as Record<string, unknown>)[key]}`).join(', ')})`;
}

/** `a, b or c`. */
export function listNames(names: readonly string[]): string {
  return names.length <= 1 ? names.join('') : `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`;
}
