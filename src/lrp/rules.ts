/**
 * LRP rules as data. Every rule for a linear layer (conv, dense) is a list of terms
 * `[input, kernel transform]` plus a stabilizer, in zennit's style:
 *
 *     z     = Σ_k  layer(input_k, W_k)  (+ bias for the epsilon rule)
 *     s     = R / (z + ε·sign(z))
 *     R_in  = Σ_k  input_k ⊙ layerᵀ(s, W_k)
 *
 * The compiler turns the terms into ONNX ops; a new rule is a new entry here.
 */

/** Names of the rules a user can choose for conv and dense layers. */
export type RuleName = 'zplus' | 'gamma' | 'epsilon' | 'zb';

/** A fully specified rule. */
export type Rule =
  | { readonly name: 'zplus' }
  | { readonly name: 'gamma'; readonly gamma: number }
  | { readonly name: 'epsilon'; readonly epsilon: number }
  | { readonly name: 'zb' };

/** A rule as a user writes it: a name (defaults for its parameters) or an object. */
export type RuleSpec = RuleName | { name: 'zplus' } | { name: 'gamma'; gamma?: number } | { name: 'epsilon'; epsilon?: number } | { name: 'zb' };

/** Default parameters of the parametrised rules (zennit's defaults). */
export const RULE_DEFAULTS = { gamma: 0.25, epsilon: 1e-6 } as const;

/** Where a term's input comes from: the layer's input activation or the z_b bound images. */
export type TermInput = 'activation' | 'low' | 'high';

/** How a term derives its kernel from the layer's kernel W. */
export type KernelTransform =
  | { readonly kind: 'identity' }
  | { readonly kind: 'positive' } // W⁺ = max(W, 0)
  | { readonly kind: 'negative' } // W⁻ = min(W, 0)
  | { readonly kind: 'gamma'; readonly gamma: number }; // W + γ·W⁺

export interface RuleTerm {
  readonly input: TermInput;
  readonly kernel: KernelTransform;
  /** Multiplies the term (z_b subtracts its bound terms). */
  readonly sign: 1 | -1;
}

/** The terms, bias use and stabilizer of a rule, ready for the compiler. */
export interface RuleTerms {
  readonly terms: readonly RuleTerm[];
  readonly useBias: boolean;
  /** Overrides the global stabilizer ε (the epsilon rule's own ε). */
  readonly epsilon?: number;
  /** True when z ≥ 0 is guaranteed for non-negative inputs, so sign(z) needs no evaluation. */
  readonly nonNegativeForNonNegativeInput: boolean;
}

/** Expands a rule to its terms. */
export function ruleTerms(rule: Rule): RuleTerms {
  switch (rule.name) {
    case 'zplus':
      return { terms: [{ input: 'activation', kernel: { kind: 'positive' }, sign: 1 }], useBias: false, nonNegativeForNonNegativeInput: true };
    case 'gamma':
      return { terms: [{ input: 'activation', kernel: { kind: 'gamma', gamma: rule.gamma }, sign: 1 }], useBias: false, nonNegativeForNonNegativeInput: false };
    case 'epsilon':
      return { terms: [{ input: 'activation', kernel: { kind: 'identity' }, sign: 1 }], useBias: true, epsilon: rule.epsilon, nonNegativeForNonNegativeInput: false };
    case 'zb':
      return {
        terms: [
          { input: 'activation', kernel: { kind: 'identity' }, sign: 1 },
          { input: 'low', kernel: { kind: 'positive' }, sign: -1 },
          { input: 'high', kernel: { kind: 'negative' }, sign: -1 },
        ],
        useBias: false,
        nonNegativeForNonNegativeInput: false,
      };
  }
}

/** Normalises a user's rule spec, filling defaults and validating parameters. */
export function resolveRule(spec: RuleSpec, where: string): Rule {
  const s = typeof spec === 'string' ? { name: spec } : spec;
  switch (s.name) {
    case 'zplus':
    case 'zb':
      return { name: s.name };
    case 'gamma': {
      const gamma = 'gamma' in s && s.gamma !== undefined ? s.gamma : RULE_DEFAULTS.gamma;
      if (!Number.isFinite(gamma) || gamma < 0) throw new Error(`${where}: gamma must be a finite number ≥ 0, got ${gamma}`);
      return { name: 'gamma', gamma };
    }
    case 'epsilon': {
      const epsilon = 'epsilon' in s && s.epsilon !== undefined ? s.epsilon : RULE_DEFAULTS.epsilon;
      if (!Number.isFinite(epsilon) || epsilon <= 0) throw new Error(`${where}: epsilon must be a finite number > 0, got ${epsilon}`);
      return { name: 'epsilon', epsilon };
    }
    default:
      throw new Error(`${where}: unknown rule "${(s as { name: string }).name}" (expected zplus, gamma, epsilon or zb)`);
  }
}

/** A short human-readable form, e.g. `gamma(γ=0.25)`. */
export function describeRule(rule: Rule): string {
  switch (rule.name) {
    case 'gamma':
      return `gamma(γ=${rule.gamma})`;
    case 'epsilon':
      return `epsilon(ε=${rule.epsilon})`;
    default:
      return rule.name;
  }
}
