/**
 * The composite: decides which rule each node gets, once, when the graph is compiled. Like
 * zennit's composites it maps nodes to rules by category and by name. Every op category that
 * propagates relevance in more than one way takes a rule (see `docs/lrp-spec.md`):
 *
 * | category   | ops                                                    | rule kind       |
 * | ---------- | ------------------------------------------------------ | --------------- |
 * | linear     | Conv (any groups, dilations), Gemm                     | `linear`        |
 * | maxPool    | MaxPool, GlobalMaxPool                                 | `maxPool`       |
 * | avgPool    | AveragePool, GlobalAveragePool                         | `globalAvgPool` |
 * | add        | Add / Sum of computed tensors                          | `add`           |
 * | affine     | BatchNormalization, Add/Sub/Mul/Div by a constant      | `batchNorm`     |
 * | activation | Relu, LeakyRelu, Clip, HardSwish, Sigmoid, HardSigmoid, Tanh | `relu`    |
 * | gate       | Mul(x, g) with g a Sigmoid/HardSigmoid of the network  | `relu`          |
 * | routing    | Concat, Split, Slice, Pad, Reshape, Transpose           | (exact adjoint) |
 */
import { GraphIndex, type GraphNode, type ModelGraph } from '../graph/graph.js';
import type { LayerRuleKind, LayerRuleSpec, LrpConfig } from './presets.js';
import { describeRule, listNames, resolveRule, ruleData, ruleNames, type AnyRule, type Rule, type RuleData, type RuleSpec } from './rules.js';

/** A node's rule with its kind, so the compiler knows which registry it comes from. */
export type AssignedRule = { [K in LayerRuleKind]: { readonly kind: K; readonly rule: Rule<K> } }[LayerRuleKind];

/** What an op does to relevance, by category. */
export type OpCategory = 'linear' | 'maxPool' | 'avgPool' | 'add' | 'affine' | 'activation' | 'gate' | 'routing';

const CATEGORY_OF_OP: Readonly<Record<string, OpCategory>> = {
  Conv: 'linear',
  Gemm: 'linear',
  MaxPool: 'maxPool',
  GlobalMaxPool: 'maxPool',
  AveragePool: 'avgPool',
  GlobalAveragePool: 'avgPool',
  BatchNormalization: 'affine',
  Sub: 'affine',
  Div: 'affine',
  Relu: 'activation',
  LeakyRelu: 'activation',
  Clip: 'activation',
  HardSwish: 'activation',
  Sigmoid: 'activation',
  HardSigmoid: 'activation',
  Tanh: 'activation',
  Concat: 'routing',
  Split: 'routing',
  Slice: 'routing',
  Pad: 'routing',
  Reshape: 'routing',
  Transpose: 'routing',
};

/** The category of a canonical node (Add and Mul depend on whether an operand is a parameter). */
export function categoryOf(node: GraphNode, index: GraphIndex): OpCategory {
  if (node.op === 'Add' || node.op === 'Sum') return node.inputs.every((i) => !index.isParameter(i)) ? 'add' : 'affine';
  if (node.op === 'Mul') return index.isParameter(node.inputs[1]!) ? 'affine' : 'gate';
  const category = CATEGORY_OF_OP[node.op];
  if (!category) throw new Error(`node ${node.name}: ${node.op} has no relevance rule`);
  return category;
}

/** The rule kind of each category that takes a rule. */
const RULE_KIND: Readonly<Partial<Record<OpCategory, LayerRuleKind>>> = {
  linear: 'linear',
  maxPool: 'maxPool',
  avgPool: 'globalAvgPool',
  add: 'add',
  affine: 'batchNorm',
  activation: 'relu',
  gate: 'relu',
};

/** The registry kind of a node's rules, or undefined for nodes without a choice (routing). */
export function ruleKind(node: GraphNode, index: GraphIndex): LayerRuleKind | undefined {
  return RULE_KIND[categoryOf(node, index)];
}

/** Ops that only move values: relevance of the input reaches a first layer through them. */
const ROUTING_OPS = new Set(['Concat', 'Split', 'Slice', 'Pad', 'Reshape', 'Transpose']);

/** Names of the linear nodes that read the model input, possibly through routing ops only. */
export function firstLayers(graph: ModelGraph): Set<string> {
  const index = new GraphIndex(graph);
  const readsInput = new Set([graph.input]);
  const first = new Set<string>();
  for (const node of graph.nodes) {
    if (!node.inputs.some((i) => readsInput.has(i))) continue;
    if (ROUTING_OPS.has(node.op)) for (const o of node.outputs) readsInput.add(o);
    else if (categoryOf(node, index) === 'linear') first.add(node.name);
  }
  return first;
}

/** The rule for every node of `graph` that takes one, under `config`. */
export function assignRules(graph: ModelGraph, config: LrpConfig): Map<string, AssignedRule> {
  const index = new GraphIndex(graph);
  const first = firstLayers(graph);
  const rules = new Map<string, AssignedRule>();
  for (const name of Object.keys(config.layers)) {
    const node = index.byName.get(name);
    if (!node) throw new Error(`rule override for "${name}": model ${graph.name} has no such node`);
    if (!ruleKind(node, index)) throw new Error(`rule override for "${name}": a ${node.op} node takes no rule (it routes relevance exactly)`);
  }
  for (const node of graph.nodes) {
    const kind = ruleKind(node, index);
    if (!kind) continue;
    const override = config.layers[node.name];
    const rule = override !== undefined ? resolveOverride(node, kind, override) : byKind(node, kind, config, first);
    rules.set(node.name, { kind, rule } as AssignedRule);
  }
  for (const [name, assigned] of rules) {
    if (assigned.kind !== 'linear' || first.has(name)) continue;
    const bounds = ruleData('linear', assigned.rule).terms.some((t) => t.input === 'low' || t.input === 'high');
    if (bounds) {
      throw new Error(`node ${name}: the ${describeRule(assigned.rule)} rule needs input bounds, so it only applies to the first layer (${[...first].join(', ')})`);
    }
  }
  return rules;
}

/** The data of an assigned rule. */
export function assignedData<K extends LayerRuleKind>(assigned: AssignedRule & { kind: K }): RuleData[K] {
  return ruleData(assigned.kind, assigned.rule as Rule<K>);
}

function byKind(node: GraphNode, kind: LayerRuleKind, config: LrpConfig, first: ReadonlySet<string>): AnyRule<LayerRuleKind> {
  switch (kind) {
    case 'linear':
      return first.has(node.name) ? config.first : node.op === 'Gemm' ? config.dense : config.conv;
    case 'add':
      return { name: config.split } as Rule<'add'>;
    default:
      return config[kind];
  }
}

function resolveOverride(node: GraphNode, kind: LayerRuleKind, spec: LayerRuleSpec): AnyRule<LayerRuleKind> {
  const name = typeof spec === 'string' ? spec : spec.name;
  const names: readonly string[] = ruleNames(kind);
  if (!names.includes(name)) {
    throw new Error(`rule override for "${node.name}": a ${node.op} node takes ${listNames(names)}, not "${name}"`);
  }
  return resolveRule(spec as RuleSpec<typeof kind>, `rule for node ${node.name}`, kind);
}
