/**
 * The model graph: the network as ONNX-style nodes (op type, attributes, named input and output
 * tensors) in topological order, with every tensor's shape per example. Importers produce it
 * (ONNX files after canonicalisation, Keras files through their layer list), the compiler turns
 * it into a forward + relevance ONNX model. Parameters live beside it in {@link ModelWeights},
 * keyed by tensor name, in ONNX layouts.
 *
 * Nodes are in canonical form (see `docs/lrp-spec.md`, "Any CNN in an ONNX file"): every
 * shape-like operand (pads, axes, slice bounds, reshape targets, clip bounds) is an attribute,
 * so that a node's inputs are computed tensors and parameters only. The batch axis is never
 * part of a shape here: `[C, H, W]` for feature maps, `[units]` for vectors.
 *
 * Browser-safe: no Node imports.
 */
import type { InputDescription } from '../model/input.js';

/** Shape of one example's tensor (no batch dimension). */
export type Shape = readonly number[];

/** Attribute values: integers, integer lists, strings, or `{ float }` for float attributes. */
export type AttributeValue = number | readonly number[] | string | { readonly float: number };

/** One operation of the graph. */
export interface GraphNode {
  /** Unique node name (the ONNX node name, or the Keras layer name). */
  readonly name: string;
  /** ONNX op type of the canonical form, e.g. `Conv`, `Add`, `Reshape`. */
  readonly op: string;
  /** Input tensor names: computed tensors first, then parameters (as in ONNX). */
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes: Readonly<Record<string, AttributeValue>>;
  /**
   * The trace unit the node belongs to (e.g. a residual block `conv2_block1` of a Keras
   * ResNet). Units group the relevance trace; nodes without one are traced on their own.
   */
  readonly group?: string;
}

/** A float parameter with its ONNX dims. */
export interface ParamTensor {
  readonly data: Float32Array;
  readonly shape: readonly number[];
}

/** Parameters by tensor name (ONNX layouts: conv kernels (M, C/group, kh, kw), dense kernels (in, out)). */
export type ModelWeights = ReadonlyMap<string, ParamTensor>;

/**
 * Where the relevance trace records a sum: the total relevance at `tensors` once every consumer
 * of them has been processed.
 */
export interface TracePoint {
  readonly name: string;
  readonly tensors: readonly string[];
}

/** A network: nodes in topological order plus what is needed to read them. */
export interface ModelGraph {
  /** Architecture name for messages and metadata, e.g. `resnet50` or the file's graph name. */
  readonly name: string;
  readonly nodes: readonly GraphNode[];
  /** The image tensor (NCHW inside the graph, whatever layout the user feeds). */
  readonly input: string;
  /** The logits tensor, (classes). */
  readonly output: string;
  /** Shape of every tensor, parameters included. */
  readonly shapes: ReadonlyMap<string, Shape>;
  /**
   * How images become the input tensor (layout, channel order, normalisation, size). The
   * compiled graph takes its input in this layout, the z_b bounds and "black" derive from it,
   * and the image loader preprocesses with it.
   */
  readonly inputDescription: InputDescription;
  /**
   * The relevance trace, from the output down (the start relevance comes first on its own).
   * Undefined: one point per weighted layer, addition and concatenation (its output), then
   * the input.
   */
  readonly trace?: readonly TracePoint[];
}

/** Output length of a windowed op (conv, pool) along one axis. */
export function windowOutputSize(size: number, k: number, stride: number, padBefore: number, padAfter: number, dilation = 1, ceil = false): number {
  const span = (k - 1) * dilation + 1;
  const steps = (size + padBefore + padAfter - span) / stride;
  let out = (ceil ? Math.ceil(steps) : Math.floor(steps)) + 1;
  // ceil_mode: the last window must start inside the input or its leading padding (PyTorch, onnxruntime).
  if (ceil && (out - 1) * stride >= size + padBefore) out -= 1;
  return out;
}

/** Lookups over a graph, built once (graphs may have tens of thousands of nodes). */
export class GraphIndex {
  /** Producer node of each computed tensor. */
  readonly producer = new Map<string, GraphNode>();
  /** Nodes reading each tensor, in graph order. */
  readonly consumers = new Map<string, GraphNode[]>();
  readonly byName = new Map<string, GraphNode>();
  /** Position of each node in topological order. */
  readonly position = new Map<GraphNode, number>();

  constructor(readonly graph: ModelGraph) {
    graph.nodes.forEach((node, i) => {
      this.byName.set(node.name, node);
      this.position.set(node, i);
      for (const out of node.outputs) this.producer.set(out, node);
      for (const input of node.inputs) {
        if (!input) continue;
        const list = this.consumers.get(input);
        if (list) list.push(node);
        else this.consumers.set(input, [node]);
      }
    });
  }

  /** The shape of a tensor, or an error naming it. */
  shape(tensor: string): Shape {
    const shape = this.graph.shapes.get(tensor);
    if (!shape) throw new Error(`model ${this.graph.name}: no tensor named "${tensor}"`);
    return shape;
  }

  /** A node by name, or an error naming it. */
  node(name: string): GraphNode {
    const node = this.byName.get(name);
    if (!node) throw new Error(`model ${this.graph.name} has no node named "${name}"`);
    return node;
  }

  /** Whether a tensor is a parameter (not produced by a node and not the input). */
  isParameter(tensor: string): boolean {
    return tensor !== this.graph.input && !this.producer.has(tensor);
  }
}

/** Number of classes of a graph (the length of its logits). */
export function classCount(graph: ModelGraph): number {
  const shape = graph.shapes.get(graph.output);
  if (!shape || shape.length !== 1) throw new Error(`model ${graph.name}: the output ${graph.output} is not a vector of logits`);
  return shape[0]!;
}

/** (C, H, W) of the model input. */
export function inputShape(graph: ModelGraph): [number, number, number] {
  const shape = graph.shapes.get(graph.input);
  if (!shape || shape.length !== 3) throw new Error(`model ${graph.name}: the input is not an image (C, H, W)`);
  return shape as [number, number, number];
}

/** Reads an integer-list attribute (or its default). */
export function intsAttr(node: GraphNode, name: string, fallback?: readonly number[]): readonly number[] {
  const v = node.attributes[name];
  if (v === undefined) {
    if (fallback) return fallback;
    throw new Error(`node ${node.name} (${node.op}): attribute ${name} is missing`);
  }
  if (!Array.isArray(v)) throw new Error(`node ${node.name} (${node.op}): attribute ${name} is not a list of integers`);
  return v as readonly number[];
}

/** Reads an integer attribute (or its default). */
export function intAttr(node: GraphNode, name: string, fallback?: number): number {
  const v = node.attributes[name];
  if (v === undefined) {
    if (fallback !== undefined) return fallback;
    throw new Error(`node ${node.name} (${node.op}): attribute ${name} is missing`);
  }
  if (typeof v !== 'number') throw new Error(`node ${node.name} (${node.op}): attribute ${name} is not an integer`);
  return v;
}

/** Reads a float attribute (or its default). */
export function floatAttr(node: GraphNode, name: string, fallback?: number): number {
  const v = node.attributes[name];
  if (v === undefined) {
    if (fallback !== undefined) return fallback;
    throw new Error(`node ${node.name} (${node.op}): attribute ${name} is missing`);
  }
  if (typeof v === 'number') return v;
  if (typeof v === 'object' && 'float' in v) return v.float;
  throw new Error(`node ${node.name} (${node.op}): attribute ${name} is not a number`);
}
