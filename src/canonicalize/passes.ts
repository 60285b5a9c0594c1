/**
 * Exact rewrites of an imported graph before rules are assigned (see `docs/lrp-spec.md`,
 * "Canonicalisation"): each pass takes a graph and returns an equivalent one.
 */
import type { GraphNode, ModelGraph, ParamTensor, Shape } from '../graph/graph.js';
import { GraphIndex } from '../graph/graph.js';
import type { InputDescription } from '../model/input.js';

/** A dense layer without bias (MatMul) whose only reader adds a constant vector: one Gemm with that bias. */
export function fuseDenseBias(graph: ModelGraph, weights: Map<string, ParamTensor>): ModelGraph {
  const index = new GraphIndex(graph);
  const removed = new Set<GraphNode>();
  const replaced = new Map<GraphNode, GraphNode>();
  for (const node of graph.nodes) {
    if (node.op !== 'Gemm' || node.inputs.length !== 2) continue;
    const readers = index.consumers.get(node.outputs[0]!) ?? [];
    const add = readers[0];
    if (readers.length !== 1 || add?.op !== 'Add' || node.outputs[0] === graph.output) continue;
    const bias = add.inputs[1]!;
    const param = weights.get(bias);
    const units = index.shape(node.outputs[0]!)[0]!;
    if (!param || add.inputs[0] !== node.outputs[0] || param.data.length !== units && param.data.length !== 1) continue;
    let name = bias;
    if (param.shape.length !== 1 || param.data.length !== units) {
      name = `${bias}:bias`;
      weights.set(name, { data: Float32Array.from({ length: units }, (_, j) => param.data[param.data.length === 1 ? 0 : j]!), shape: [units] });
    }
    replaced.set(node, { ...node, inputs: [...node.inputs, name], outputs: add.outputs });
    removed.add(add);
  }
  if (removed.size === 0) return graph;
  return { ...graph, nodes: graph.nodes.filter((n) => !removed.has(n)).map((n) => replaced.get(n) ?? n) };
}

/** The description of a file whose graph normalises its own input: pixels in [0, 1]. */
const PIXELS: Pick<InputDescription, 'name' | 'scale' | 'mean' | 'std'> = { name: 'pixels', scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] };

/**
 * Per-channel (or scalar) Sub/Div/Add/Mul by constants applied directly to the input are the
 * model's preprocessing: they are removed and folded into the input description, so the image
 * loader, the z_b bounds and "black" follow them. The file's input is then taken to be pixels in
 * [0, 1] unless the user described it (`userDescribed`).
 */
export function absorbInputNormalisation(graph: ModelGraph, weights: ReadonlyMap<string, ParamTensor>, userDescribed: boolean): ModelGraph {
  const index = new GraphIndex(graph);
  let input = graph.input;
  let desc: InputDescription = graph.inputDescription;
  const removed = new Set<GraphNode>();
  for (;;) {
    const readers = index.consumers.get(input) ?? [];
    const node = readers[0];
    if (readers.length !== 1 || !node || !['Sub', 'Div', 'Add', 'Mul'].includes(node.op) || node.inputs[0] !== input) break;
    const param = weights.get(node.inputs[1]!);
    const perChannel = param && (param.data.length === 1 || (param.data.length === 3 && param.shape.length === 3 && param.shape[0] === 3));
    if (!param || !perChannel || node.outputs[0] === graph.output) break;
    if (removed.size === 0 && !userDescribed) desc = { ...desc, ...PIXELS };
    const c = (k: number) => param.data[param.data.length === 1 ? 0 : k]!;
    const mean = [0, 1, 2].map((k) => {
      switch (node.op) {
        case 'Sub': return desc.mean[k]! + c(k) * desc.std[k]!;
        case 'Add': return desc.mean[k]! - c(k) * desc.std[k]!;
        default: return desc.mean[k]!;
      }
    }) as [number, number, number];
    const std = [0, 1, 2].map((k) => {
      switch (node.op) {
        case 'Div': return desc.std[k]! * c(k);
        case 'Mul': return desc.std[k]! / c(k);
        default: return desc.std[k]!;
      }
    }) as [number, number, number];
    if (std.some((s) => !Number.isFinite(s) || s === 0)) break;
    desc = { ...desc, mean, std, name: desc.name.endsWith('(normalised in the graph)') ? desc.name : `${desc.name} (normalised in the graph)` };
    removed.add(node);
    input = node.outputs[0]!;
  }
  if (removed.size === 0) return graph;
  return { ...graph, input, inputDescription: desc, nodes: graph.nodes.filter((n) => !removed.has(n)) };
}

/** Only the nodes the output depends on (shape arithmetic and dead branches go). */
export function keepReachable(graph: ModelGraph): ModelGraph {
  const index = new GraphIndex(graph);
  const needed = new Set([graph.output]);
  const keep = new Set<GraphNode>();
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const node = graph.nodes[i]!;
    if (!node.outputs.some((o) => needed.has(o))) continue;
    keep.add(node);
    for (const input of node.inputs) if (input) needed.add(input);
  }
  if (keep.size === graph.nodes.length) return graph;
  const shapes = new Map<string, Shape>();
  for (const node of keep) for (const t of [...node.inputs, ...node.outputs]) if (t && graph.shapes.has(t)) shapes.set(t, index.shape(t));
  shapes.set(graph.input, index.shape(graph.input));
  return { ...graph, nodes: graph.nodes.filter((n) => keep.has(n)), shapes };
}
