/**
 * The composite: decides which rule each layer gets, once, when the graph is compiled.
 * Like zennit's composites it maps layers to rules by kind and by name; layers without a
 * choice (pools, batch norm, ReLU, padding, additions) have fixed handling in the compiler.
 */
import type { Layer, ModelGraph } from '../model/graph.js';
import type { LrpConfig } from './presets.js';
import type { Rule } from './rules.js';

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

/** The rule for every conv and dense layer of `graph` under `config`. */
export function assignRules(graph: ModelGraph, config: LrpConfig): Map<string, Rule> {
  const first = firstLayers(graph);
  const rules = new Map<string, Rule>();
  const ruled = (l: Layer) => l.kind === 'conv' || l.kind === 'dense';
  for (const layer of graph.layers) {
    if (!ruled(layer)) continue;
    const byKind = layer.kind === 'dense' ? config.dense : first.has(layer.name) ? config.first : config.conv;
    rules.set(layer.name, config.layers[layer.name] ?? byKind);
  }
  for (const name of Object.keys(config.layers)) {
    const layer = graph.layers.find((l) => l.name === name);
    if (!layer) throw new Error(`rule override for "${name}": model ${graph.name} has no such layer`);
    if (!ruled(layer)) throw new Error(`rule override for "${name}": a ${layer.kind} layer takes no rule (only conv and dense do)`);
  }
  for (const [name, rule] of rules) {
    if (rule.name === 'zb' && !first.has(name)) {
      throw new Error(`layer ${name}: the z_b rule needs input bounds, so it only applies to the first layer (${[...first].join(', ')})`);
    }
  }
  return rules;
}
