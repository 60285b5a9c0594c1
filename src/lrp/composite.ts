/**
 * The composite: decides which rule each layer gets, once, when the graph is compiled.
 * Like zennit's composites it maps layers to rules by kind and by name: every layer kind that
 * propagates relevance in more than one way (conv, dense, ReLU, batch norm, pools, additions)
 * takes a rule; only the input and zero padding (whose padded positions are dropped, for LRP
 * and the gradient alike) have fixed handling.
 */
import type { Layer, ModelGraph } from '../model/graph.js';
import type { LayerRuleKind, LayerRuleSpec, LrpConfig } from './presets.js';
import { describeRule, listNames, resolveRule, ruleData, ruleNames, type AnyRule, type Rule, type RuleData, type RuleSpec } from './rules.js';

/** A layer's rule with its kind, so the compiler knows which registry it comes from. */
export type AssignedRule = { [K in LayerRuleKind]: { readonly kind: K; readonly rule: Rule<K> } }[LayerRuleKind];

/** The registry kind of a layer's rules, or undefined for layers without a choice. */
export function ruleKind(layer: Layer): LayerRuleKind | undefined {
  switch (layer.kind) {
    case 'conv':
    case 'dense':
      return 'linear';
    case 'relu':
    case 'batchNorm':
    case 'maxPool':
    case 'globalAvgPool':
    case 'add':
      return layer.kind;
    default:
      return undefined;
  }
}

/** Names of the conv layers that read the model input, possibly through zero padding. */
export function firstLayers(graph: ModelGraph): Set<string> {
  const readsInput = new Set([graph.input]);
  const first = new Set<string>();
  for (const layer of graph.layers) {
    if (!layer.inputs.some((i) => readsInput.has(i))) continue;
    if (layer.kind === 'zeroPad') readsInput.add(layer.name);
    else if (layer.kind === 'conv') first.add(layer.name);
  }
  return first;
}

/** The rule for every layer of `graph` that takes one, under `config`. */
export function assignRules(graph: ModelGraph, config: LrpConfig): Map<string, AssignedRule> {
  const first = firstLayers(graph);
  const rules = new Map<string, AssignedRule>();
  for (const name of Object.keys(config.layers)) {
    const layer = graph.layers.find((l) => l.name === name);
    if (!layer) throw new Error(`rule override for "${name}": model ${graph.name} has no such layer`);
    if (!ruleKind(layer)) throw new Error(`rule override for "${name}": a ${layer.kind} layer takes no rule`);
  }
  for (const layer of graph.layers) {
    const kind = ruleKind(layer);
    if (!kind) continue;
    const override = config.layers[layer.name];
    const rule = override !== undefined ? resolveOverride(layer, kind, override) : byKind(layer, kind, config, first);
    rules.set(layer.name, { kind, rule } as AssignedRule);
  }
  for (const [name, assigned] of rules) {
    if (assigned.kind !== 'linear' || first.has(name)) continue;
    const bounds = ruleData('linear', assigned.rule).terms.some((t) => t.input === 'low' || t.input === 'high');
    if (bounds) {
      throw new Error(`layer ${name}: the ${describeRule(assigned.rule)} rule needs input bounds, so it only applies to the first layer (${[...first].join(', ')})`);
    }
  }
  return rules;
}

/** The data of an assigned rule. */
export function assignedData<K extends LayerRuleKind>(assigned: AssignedRule & { kind: K }): RuleData[K] {
  return ruleData(assigned.kind, assigned.rule as Rule<K>);
}

function byKind(layer: Layer, kind: LayerRuleKind, config: LrpConfig, first: ReadonlySet<string>): AnyRule<LayerRuleKind> {
  switch (kind) {
    case 'linear':
      return layer.kind === 'dense' ? config.dense : first.has(layer.name) ? config.first : config.conv;
    case 'add':
      return { name: config.split } as Rule<'add'>;
    default:
      return config[kind];
  }
}

function resolveOverride(layer: Layer, kind: LayerRuleKind, spec: LayerRuleSpec): AnyRule<LayerRuleKind> {
  const name = typeof spec === 'string' ? spec : spec.name;
  const names: readonly string[] = ruleNames(kind);
  if (!names.includes(name)) {
    throw new Error(`rule override for "${layer.name}": a ${layer.kind} layer takes ${listNames(names)}, not "${name}"`);
  }
  return resolveRule(spec as RuleSpec<typeof kind>, `rule for layer ${layer.name}`, kind);
}
