/**
 * Compiles a model graph and an LRP configuration into one ONNX model that computes the
 * forward pass and the relevance of each image's target class in a single run.
 *
 * The relevance pass walks the nodes in reverse topological order. Relevance reaching a
 * tensor by several paths is summed when its producer is processed (all its consumers come
 * later in topological order, so they are done by then). Each node's category decides how
 * relevance crosses it (see `docs/lrp-spec.md`): linear rules for weighted layers and pools,
 * the split at additions, exact adjoints for routing ops, pass-through (or the gradient) for
 * activations, affine ops and gates.
 */
import { floatAttr, GraphIndex, intAttr, intsAttr, type GraphNode, type ModelGraph, type ModelWeights, type TracePoint } from '../graph/graph.js';
import { BATCH, emitClassifier, TARGETS, inputDims, inputShape, IO, outputUnits, type ClassifierOptions } from '../onnx/classifier.js';
import { inputBounds } from '../model/input.js';
import { emitNode, type ForwardGraph } from '../onnx/forward.js';
import type { Dim, OnnxGraphBuilder, Precision } from '../onnx/graph-builder.js';
import { assignRules, categoryOf, type AssignedRule, type OpCategory } from './composite.js';
import { argmaxRouting, convOps, denseOps, globalSumOps, type LinearOps, transformKernel, twoByTwoSumOps, windowSumOps } from './linear-ops.js';
import type { LrpConfig } from './presets.js';
import { ruleData, type InputModifier, type LinearRule, type PoolWeights, type Rule, type RuleData, type RuleTerm, type Stabilizer } from './rules.js';
import { emitSplit } from './split.js';

/** A compiled explainer model and what is needed to read its outputs. */
export interface CompiledExplainer {
  /** Serialized ONNX model. */
  readonly model: Uint8Array;
  /** Names of the entries of the `trace` output, in order (from the start relevance down to the input). */
  readonly traceNames: readonly string[];
  /** The rule chosen for every node that takes one. */
  readonly rules: ReadonlyMap<string, AssignedRule>;
}

/** Name of the first trace entry, the start relevance at the output (`predictions:out` for Keras). */
export function startTraceName(graph: ModelGraph): string {
  const producer = graph.nodes.find((n) => n.outputs.includes(graph.output));
  return `${producer?.name ?? graph.output}:out`;
}

/** Name of the last trace entry of the default trace: the relevance at the input. */
export const INPUT_TRACE_NAME = 'input';

/** Ops whose output relevance the default trace records. */
const TRACED_OPS = new Set(['Conv', 'Gemm', 'Add', 'Sum', 'Concat', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool']);

/**
 * The default trace: the relevance at the output of every weighted layer, pool, addition and
 * concatenation (keyed by node name, from the output down), then at the input.
 */
export function defaultTrace(graph: ModelGraph): TracePoint[] {
  const points: TracePoint[] = [];
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const node = graph.nodes[i]!;
    if (TRACED_OPS.has(node.op) && node.inputs.some((x) => graph.shapes.has(x))) points.push({ name: node.name, tensors: node.outputs });
  }
  points.push({ name: INPUT_TRACE_NAME, tensors: [graph.input] });
  return points;
}

/**
 * Options of the compiled explainer: targets per image, the trace, and extra outputs for
 * attribution methods built on its relevance pass (Grad-CAM, saliency, …).
 */
export interface ExplainerOptions extends ClassifierOptions {
  /**
   * `one` (default): `target` is (N), one class per image. `many`: `target` is (N·K), K classes
   * per image from one forward pass. The relevance batch of `many` is not provably the image
   * batch, so onnxruntime's blocked-layout transformer leaves its products a ⊙ c in plain
   * layout (34 more layout conversions on ResNet50): `one` keeps the single-class path fast.
   */
  targetsPerImage?: 'one' | 'many';
  /** Emit the `trace` output (default true); without it the relevance sums are not computed. */
  trace?: boolean;
  /**
   * With several targets per image: s = R / z as c ⊙ (a / z), a / z computed once for all
   * targets (default false). Rounds differently from (a ⊙ c) / z, so results are not
   * bit-identical to the single-target graph (they agree to ~1e-7 relative).
   */
  sharedQuotients?: boolean;
  /**
   * Nodes whose forward output and its relevance (NCHW, or (N, units)) become the outputs
   * {@link tapOutputs}(name): with the gradient rules, the relevance is ∂y_t/∂(node output).
   */
  readonly tapLayers?: readonly string[];
  /**
   * Stop the relevance pass once every tapped node has its relevance (for methods that need
   * only the taps, e.g. Grad-CAM): the nodes below are not computed, and the outputs are
   * the logits, probabilities, explained class, start relevance and the taps.
   */
  readonly stopAtTaps?: boolean;
  /** Emits further outputs (e.g. a method's map) from the finished graph's tensors. */
  readonly extend?: (g: OnnxGraphBuilder, tensors: ExplainerTensors) => void;
}

/** Tensors of a compiled explainer (in the graph's precision) that {@link ExplainerOptions.extend} may use. */
export interface ExplainerTensors {
  /** The input image batch, (N, C, H, W). */
  readonly image: string;
  /** Its relevance, (N, C, H, W); undefined with {@link ExplainerOptions.stopAtTaps}. */
  readonly relevance: string | undefined;
  /** Per tapped node: its forward output and the relevance at it. */
  readonly taps: ReadonlyMap<string, { readonly activation: string; readonly relevance: string; readonly shape: readonly number[] }>;
}

/** Output names of a tapped node's activation and relevance. */
export function tapOutputs(layer: string): { activation: string; relevance: string } {
  return { activation: `tap:${layer}:activation`, relevance: `tap:${layer}:relevance` };
}


/** Compiles `graph` with `weights` into a forward + relevance model under `config`. */
export function compileExplainer(graph: ModelGraph, weights: ModelWeights, config: LrpConfig, precision: Precision = 'float32', options: ExplainerOptions = {}): CompiledExplainer {
  const rules = assignRules(graph, config);
  const index = new GraphIndex(graph);
  for (const name of options.tapLayers ?? []) index.node(name); // unknown names fail here, naming the node
  const taps = new Set(options.tapLayers ?? []);
  if (options.stopAtTaps && taps.size === 0) throw new Error('stopAtTaps needs tapLayers');
  const classifier = emitClassifier(`${graph.name}_lrp`, graph, weights, precision, options);
  const compiler = new RelevanceCompiler(index, weights, classifier.g, classifier.forward, rules, config, options.targetsPerImage ?? 'one', options.sharedQuotients ?? false);
  const traceNames = compiler.emit(classifier.logits, classifier.probabilities, options.trace ?? true, taps, options.stopAtTaps ?? false);
  if (options.extend) options.extend(classifier.g, { image: classifier.image, relevance: compiler.inputRelevance, taps: compiler.taps });
  return { model: classifier.g.toBytes(), traceNames, rules };
}

/** Activations with f(0) = 0: relevance passed through them vanishes where their input does. */
function zeroAtZero(node: GraphNode): boolean {
  switch (node.op) {
    case 'Relu':
    case 'LeakyRelu':
    case 'HardSwish':
    case 'Tanh':
      return true;
    case 'Clip':
      return floatAttr(node, 'min') <= 0 && floatAttr(node, 'max') >= 0;
    default:
      return false;
  }
}

class RelevanceCompiler {
  private readonly graph: ModelGraph;
  /** Relevance contributions arriving at each tensor, summed lazily. */
  private readonly relevance = new Map<string, string[]>();
  /**
   * Several targets per image: relevance a ⊙ c kept as its two factors until needed. The next
   * linear rule then computes s = R / z as c ⊙ (a / z), whose a / z is shared by all targets,
   * one product per target instead of a product and a division.
   */
  private readonly factors = new Map<string, { readonly a: string; readonly c: string }>();
  private readonly materialized = new Map<string, string>();
  /** Tensors proved ≥ 0 (ReLU outputs and what routing, pools and sums make of them). */
  private readonly nonNegative = new Set<string>();
  /** Tensors proved to receive relevance 0 wherever their value is 0. */
  private readonly zeroWhereZero: ReadonlySet<string>;
  private readonly categories = new Map<GraphNode, OpCategory>();
  /** Tapped nodes' activation and relevance, filled by {@link emit}. */
  readonly taps = new Map<string, { activation: string; relevance: string; shape: readonly number[] }>();
  /** The input relevance (N, C, H, W), set by {@link emit}. */
  inputRelevance?: string;
  /** Forward tensors of every graph tensor (computed ones and parameters). */
  private readonly tensors: ReadonlyMap<string, string>;

  constructor(
    private readonly index: GraphIndex,
    private readonly weights: ModelWeights,
    private readonly g: OnnxGraphBuilder,
    forward: ForwardGraph,
    private readonly rules: ReadonlyMap<string, AssignedRule>,
    private readonly config: LrpConfig,
    private readonly targetsPerImage: 'one' | 'many',
    private readonly sharedQuotients: boolean,
  ) {
    this.graph = index.graph;
    this.tensors = forward.tensors;
    for (const node of this.graph.nodes) {
      this.categories.set(node, categoryOf(node, index));
      if (this.producesNonNegative(node)) for (const o of node.outputs) this.nonNegative.add(o);
    }
    this.zeroWhereZero = this.relevanceZeroWhereZero();
  }

  private category(node: GraphNode): OpCategory {
    return this.categories.get(node)!;
  }

  /** Whether a node's outputs are ≥ 0 given which earlier tensors are. */
  private producesNonNegative(node: GraphNode): boolean {
    switch (node.op) {
      case 'Relu':
      case 'Sigmoid':
      case 'HardSigmoid':
        return true;
      case 'Clip':
        return floatAttr(node, 'min') >= 0;
      default: {
        const computed = node.inputs.filter((i) => !this.index.isParameter(i));
        const fromNonNegative = computed.length > 0 && computed.every((i) => this.nonNegative.has(i));
        const category = this.category(node);
        return fromNonNegative && (category === 'routing' || category === 'maxPool' || category === 'avgPool' || category === 'add');
      }
    }
  }

  /**
   * Which tensors receive relevance 0 wherever their value is 0, under the assigned rules (in
   * reverse topological order: a tensor's consumers are decided before it). True when every
   * consumer sends back something that vanishes where this tensor does: a linear rule whose
   * terms all multiply the activation (reducer `input`), a ReLU gradient mask, a ratio split
   * (its share is ∝ |x_k|; where all inputs are 0 it relies on its own output), or a routing op,
   * gate, scaling or zero-preserving activation passing on relevance of an output that is 0
   * where this tensor is.
   */
  private relevanceZeroWhereZero(): Set<string> {
    const proved = new Set<string>();
    const multipliesActivation = (rule: LinearRule) => rule.reducer === 'input' && rule.terms.every((t) => t.input.startsWith('activation'));
    const outputsProved = (node: GraphNode) => node.outputs.every((o) => proved.has(o));
    const safe = (consumer: GraphNode, tensor: string): boolean => {
      switch (this.category(consumer)) {
        case 'linear':
          return multipliesActivation(this.data(consumer, 'linear'));
        case 'avgPool':
          return multipliesActivation(this.data(consumer, 'globalAvgPool').rule);
        case 'maxPool': {
          const data = this.data(consumer, 'maxPool');
          return data.propagate === 'windows' && multipliesActivation(data.rule);
        }
        case 'activation': {
          // A mask zeroes where the ReLU's input is ≤ 0; a pass-through hands on the output's
          // relevance (f(0) = 0 for these activations).
          const mask = this.data(consumer, 'relu').mask;
          if (consumer.op === 'Relu' && mask !== 'none') return true;
          return mask === 'none' && zeroAtZero(consumer) && outputsProved(consumer);
        }
        case 'routing':
          return outputsProved(consumer);
        case 'gate':
          // y = x·g is 0 where x is; g's branch gets nothing under LRP.
          return tensor === consumer.inputs[0] ? outputsProved(consumer) : this.data(consumer, 'relu').mask === 'none';
        case 'affine':
          return (consumer.op === 'Mul' || consumer.op === 'Div') && outputsProved(consumer);
        case 'add': {
          // Share ∝ |x_k|: 0 where x_k = 0 unless all inputs are 0, where the sum is 0 too. The
          // last input's share is the remainder R − R·|x_0|/|x_0|: exactly 0 with two inputs only.
          const { split } = this.data(consumer, 'add');
          return split === 'ratio-no-fallback' || (split === 'ratio' && consumer.inputs.length === 2 && outputsProved(consumer));
        }
      }
    };
    for (let i = this.graph.nodes.length - 1; i >= -1; i--) {
      const tensors = i >= 0 ? this.graph.nodes[i]!.outputs : [this.graph.input];
      for (const tensor of tensors) {
        const users = this.index.consumers.get(tensor) ?? [];
        if (tensor !== this.graph.output && users.length > 0 && users.every((u) => safe(u, tensor))) proved.add(tensor);
      }
    }
    return proved;
  }

  /** Emits the relevance pass and its outputs; returns the trace names. */
  emit(logits: string, probabilities: string, withTrace: boolean, tapNodes: ReadonlySet<string> = new Set(), stopAtTaps = false): string[] {
    const { g, graph } = this;
    const classes = outputUnits(graph);
    const [, h, w] = inputShape(graph);

    // Targets: K per image, image-major; −1 the predicted class, −k the k-th highest logit (or
    // always the predicted one, by the start rule). The relevance pass runs on a batch of N·K.
    const startRule = ruleData('start', { name: this.config.start } as Rule<'start'>);
    const many = this.targetsPerImage === 'many';
    const targets = many ? TARGETS : BATCH;
    g.input(IO.target, 'int64', [targets]);
    // (N, K); with one target per image an Unsqueeze, so that shape inference keeps the batch N.
    const perImage = many
      ? g.op('Reshape', [IO.target, g.op('Concat', [g.op('Shape', [logits], 'images', { start: 0, end: 1 }), g.ints([-1])], 'targets_shape', { axis: 0 })], 'targets_per_image')
      : g.op('Unsqueeze', [IO.target, g.ints([1])], 'targets_per_image');
    const flat = (t: string) => (many ? g.opNamed('Reshape', [t, g.ints([-1])], IO.explainedClass) : g.opNamed('Squeeze', [t, g.ints([1])], IO.explainedClass));
    let explained: string;
    if (startRule.target === 'predicted') {
      const predicted = g.op('ArgMax', [logits], 'predicted_class', { axis: 1, keepdims: 1 });
      explained = flat(g.op('Expand', [predicted, g.op('Shape', [perImage], 'targets_dims')], 'predicted_per_target'));
    } else {
      // Classes by descending logit (ties: the lower index first, as ArgMax picks).
      const [, ranking] = g.opMulti('TopK', [logits, g.ints([classes])], ['ranked_logits', 'ranked_classes'], { axis: 1, largest: 1, sorted: 1 });
      const rank = g.op('Max', [g.op('Sub', [g.op('Neg', [perImage], 'minus_target'), g.ints([1])], 'target_rank'), g.ints([0])], 'target_rank_safe');
      const ranked = g.op('GatherElements', [ranking, rank], 'ranked_target', { axis: 1 });
      const chosen = g.op('Where', [g.op('Less', [perImage, g.ints([0])], 'target_is_auto'), ranked, perImage], 'explained_per_image');
      explained = flat(chosen);
    }
    const classIds = g.int64Tensor('class_ids', Array.from({ length: classes }, (_, i) => i), [1, classes]);
    const oneHot = g.toFloat(g.op('Equal', [g.op('Unsqueeze', [explained, g.ints([1])], 'explained_col'), classIds], 'is_target'), 'target_one_hot');
    // The image's scores broadcast over its K targets (N = 1, or K = 1).
    const start = startRule.score === 'one' ? oneHot : g.op('Mul', [oneHot, startRule.score === 'logit' ? logits : probabilities], 'R_start');
    const startSum = g.op('ReduceSum', [start, g.ints([1])], 'start_sum', { keepdims: 0 });
    this.relevance.set(graph.output, [start]);

    const trace = new TraceRecorder(withTrace ? (graph.trace ?? defaultTrace(graph)) : []);
    const record = (tensors: readonly string[]) => {
      for (const point of trace.finalize(tensors)) this.traceSum(trace, point);
    };
    const nodes = graph.nodes;
    for (let i = nodes.length - 1; i >= 0; i--) {
      const node = nodes[i]!;
      const r = node.outputs.map((o) => this.relevanceAt(o));
      record(node.outputs);
      if (tapNodes.has(node.name)) this.tap(node, r[0]);
      if (stopAtTaps && this.taps.size === tapNodes.size) {
        g.output(explained, 'int64', [BATCH]);
        g.castOut(startSum, IO.startRelevance, [BATCH]);
        return [];
      }
      if (r.some((x) => x !== undefined)) this.propagate(node, r);
    }

    const inputRelevance = this.valueOrUndefined(this.relevanceAt(graph.input));
    if (inputRelevance === undefined) throw new Error(`model ${graph.name}: no relevance path reaches the input`);
    record([graph.input]);
    this.inputRelevance = inputRelevance;
    // Relevance comes back in the layout the input came in.
    const relevance = graph.inputDescription.layout === 'NCHW' ? inputRelevance : g.op('Transpose', [inputRelevance], 'relevance_nhwc', { perm: [0, 2, 3, 1] });
    const attribution = g.op('ReduceSum', [inputRelevance, g.ints([1])], 'attribution_sum', { keepdims: 0 });

    g.output(explained, 'int64', [targets]);
    g.castOut(startSum, IO.startRelevance, [targets]);
    g.castOut(relevance, IO.relevance, [targets, ...inputDims(graph)]);
    g.castOut(attribution, IO.attribution, [targets, h, w]);
    if (!withTrace) return [];
    const recorded = trace.recorded();
    const names = [startTraceName(graph), ...recorded.map((p) => p.name)];
    const sums = [startSum, ...recorded.map((p) => p.sum)];
    const all = g.op('Concat', sums.map((t) => g.op('Unsqueeze', [t, g.ints([1])], `${t}/col`)), 'trace_sums', { axis: 1 });
    g.castOut(all, IO.trace, [targets, names.length]);
    return names;
  }

  /** Records the total relevance at a trace point's tensors (points no relevance reaches are left out). */
  private traceSum(trace: TraceRecorder, point: TracePoint): void {
    const sums = point.tensors.map((t) => {
      const r = this.relevanceAt(t);
      return r === undefined ? undefined : this.g.op('ReduceSum', [this.value(r), this.g.ints(this.axesOf(t))], `trace:${point.name}:${t}`, { keepdims: 0 });
    }).filter((s): s is string => s !== undefined);
    if (sums.length > 0) trace.set(point, sums.length === 1 ? sums[0]! : this.g.op('Sum', sums, `trace:${point.name}`));
  }

  /** Declares a node's output and its relevance as outputs. */
  private tap(node: GraphNode, relevance: string | undefined): void {
    if (relevance === undefined) throw new Error(`tapped node ${node.name}: no relevance reaches it`);
    const r = this.value(relevance);
    const output = node.outputs[0]!;
    const activation = this.tensors.get(output)!;
    const names = tapOutputs(node.name);
    const shape = this.index.shape(output);
    const dims: Dim[] = [BATCH, ...shape];
    this.g.castOut(activation, names.activation, dims);
    this.g.castOut(r, names.relevance, dims);
    this.taps.set(node.name, { activation, relevance: r, shape });
  }

  /** The tensor of a relevance that may be kept as factors ({@link factors}). */
  private value(r: string): string {
    const f = this.factors.get(r);
    if (!f) return r;
    const product = this.g.op('Mul', [f.a, f.c], r);
    this.factors.delete(r);
    this.materialized.set(r, product);
    return product;
  }

  /** The summed relevance at a tensor, or undefined if none reaches it. */
  private relevanceAt(tensor: string): string | undefined {
    const parts = this.relevance.get(tensor)?.map((r) => this.materialized.get(r) ?? r);
    if (!parts || parts.length === 0) return undefined;
    if (parts.length === 1) return parts[0];
    const sum = this.g.op(parts.length === 2 ? 'Add' : 'Sum', parts.map((r) => this.value(r)), `R:${tensor}`);
    this.relevance.set(tensor, [sum]);
    return sum;
  }

  private send(tensor: string, r: string): void {
    const parts = this.relevance.get(tensor);
    if (parts) parts.push(r);
    else this.relevance.set(tensor, [r]);
  }

  private axesOf(tensor: string): number[] {
    const rank = this.index.shape(tensor).length;
    return Array.from({ length: rank }, (_, i) => i + 1);
  }

  private valueOrUndefined(r: string | undefined): string | undefined {
    return r === undefined ? undefined : this.value(r);
  }

  private forward(tensor: string): string {
    const t = this.tensors.get(tensor);
    if (t === undefined) throw new Error(`model ${this.graph.name}: no forward tensor for ${tensor}`);
    return t;
  }

  /** Sends the relevance of a node's outputs (`rs`, undefined where none arrived) to its inputs. */
  private propagate(node: GraphNode, rs: readonly (string | undefined)[]): void {
    const { g } = this;
    const category = this.category(node);
    const lazy = rs[0];
    const x = node.inputs[0]!;
    switch (category) {
      case 'routing':
        return this.route(node, rs.map((r) => this.valueOrUndefined(r)));
      case 'linear': {
        const inShape = this.index.shape(x);
        const outShape = this.index.shape(node.outputs[0]!);
        const ops = node.op === 'Conv' ? convOps(g, node, inShape, outShape) : denseOps(g, node, outShape[0]!);
        this.send(x, this.linearRule(node, lazy!, ops, this.data(node, 'linear')));
        return;
      }
      case 'maxPool': {
        const data = this.data(node, 'maxPool');
        const inShape = this.index.shape(x);
        if (data.propagate === 'argmax') {
          this.send(x, argmaxRouting(g, node, this.forward(x), inShape, this.value(lazy!)));
          return;
        }
        const ops = this.poolOps(node, data.windows);
        this.send(x, this.linearRule(node, lazy!, ops, data.rule, data.weights));
        return;
      }
      case 'avgPool': {
        const data = this.data(node, 'globalAvgPool');
        this.send(x, this.linearRule(node, lazy!, this.poolOps(node, 'same'), data.rule, data.weights));
        return;
      }
      case 'add': {
        const { split } = this.data(node, 'add');
        const shares = emitSplit(g, split, node.name, node.inputs.map((i) => this.forward(i)), this.value(lazy!), this.zeroWhereZero.has(node.outputs[0]!));
        node.inputs.forEach((input, k) => this.send(input, shares[k]!));
        return;
      }
      case 'affine': {
        const { propagate } = this.data(node, 'batchNorm');
        this.send(x, propagate === 'pass' ? lazy! : this.affineGradient(node, this.value(lazy!)));
        return;
      }
      case 'activation': {
        const { mask } = this.data(node, 'relu');
        this.send(x, mask === 'none' ? lazy! : this.activationGradient(node, this.value(lazy!), mask === 'guided'));
        return;
      }
      case 'gate': {
        const { mask } = this.data(node, 'relu');
        if (mask === 'none') {
          // The gate acts as a constant factor: all relevance to the gated tensor.
          this.send(x, lazy!);
          return;
        }
        const r = mask === 'guided' ? g.op('Relu', [this.value(lazy!)], `${node.name}/R_positive`) : this.value(lazy!);
        const gate = node.inputs[1]!;
        this.send(x, g.op('Mul', [r, this.forward(gate)], `R:${node.name}:x`));
        this.send(gate, this.reduceTo(g.op('Mul', [r, this.forward(x)], `${node.name}/R_gate_full`), this.index.shape(x), this.index.shape(gate), `R:${node.name}:gate`));
        return;
      }
    }
  }

  /** The linear ops of a pool over its own windows (`same`) or the official code's 2×2/2 windows. */
  private poolOps(node: GraphNode, windows: 'same' | '2x2'): LinearOps {
    const { g } = this;
    const x = node.inputs[0]!;
    const inShape = this.index.shape(x);
    const outShape = this.index.shape(node.outputs[0]!);
    if (node.op === 'GlobalAveragePool' || node.op === 'GlobalMaxPool') return globalSumOps(g, node, inShape, intAttr(node, 'keepdims', 1) === 1);
    return windows === 'same' ? windowSumOps(g, node, inShape, outShape) : twoByTwoSumOps(g, node, inShape, outShape, this.unpaddedOrigin(node));
  }

  /** Relevance summed over the axes a broadcast operand of shape `to` was expanded along. */
  private reduceTo(r: string, from: readonly number[], to: readonly number[], name: string): string {
    const axes = from.flatMap((d, i) => (to[i] === 1 && d !== 1 ? [i + 1] : []));
    return axes.length === 0 ? this.g.op('Identity', [r], name) : this.g.op('ReduceSum', [r, this.g.ints(axes)], name, { keepdims: 1 });
  }

  /** The exact adjoint of a routing op: every value of relevance goes back to where it came from. */
  private route(node: GraphNode, rs: readonly (string | undefined)[]): void {
    const { g } = this;
    const x = node.inputs[0]!;
    const inShape = this.index.shape(x);
    const r = rs[0];
    switch (node.op) {
      case 'Reshape':
        this.send(x, g.op('Reshape', [r!, g.ints([-1, ...inShape])], `R:${node.name}:in`));
        return;
      case 'Transpose': {
        const perm = intsAttr(node, 'perm');
        const inverse = perm.map((_, i) => perm.indexOf(i));
        this.send(x, g.op('Transpose', [r!], `R:${node.name}:in`, { perm: inverse }));
        return;
      }
      case 'Concat': {
        const axis = intAttr(node, 'axis');
        const sizes = node.inputs.map((i) => this.index.shape(i)[axis - 1]!);
        const parts = node.inputs.length === 1 ? [r!] : g.opMulti('Split', [r!, g.ints(sizes)], node.inputs.map((_, k) => `R:${node.name}:in${k}`), { axis });
        node.inputs.forEach((input, k) => this.send(input, parts[k]!));
        return;
      }
      case 'Split': {
        const axis = intAttr(node, 'axis');
        const anyR = rs.find((v) => v !== undefined)!;
        const parts = node.outputs.map((o, k) => rs[k] ?? this.zerosLike(anyR, this.index.shape(o), `${node.name}/R_zero${k}`));
        this.send(x, g.op('Concat', parts, `R:${node.name}:in`, { axis }));
        return;
      }
      case 'Pad': {
        const pads = intsAttr(node, 'pads');
        const rank = inShape.length + 1;
        const grow = pads.map((p) => Math.max(-p, 0));
        const grown = grow.some((p) => p > 0) ? g.op('Pad', [r!, g.ints(grow)], `${node.name}/R_uncropped`) : r!;
        const begins = pads.slice(1, rank).map((p) => Math.max(p, 0));
        const axes = inShape.map((_, i) => i + 1);
        // Relevance of the padded positions is dropped.
        this.send(x, g.op('Slice', [grown, g.ints(begins), g.ints(begins.map((b, i) => b + inShape[i]!)), g.ints(axes)], `R:${node.name}:in`));
        return;
      }
      case 'Slice':
        this.send(x, this.sliceAdjoint(node, r!, inShape));
        return;
    }
  }

  /**
   * The adjoint of a Slice: each selected value's relevance goes back to its position, zeros
   * elsewhere. Per axis: reverse a negative step, spread by the step (a zero after every value,
   * step − 1 of them), then pad to the start and the end of the axis.
   */
  private sliceAdjoint(node: GraphNode, r: string, inShape: readonly number[]): string {
    const { g } = this;
    const starts = intsAttr(node, 'starts');
    const axes = intsAttr(node, 'axes');
    const steps = intsAttr(node, 'steps');
    const outShape = [...this.index.shape(node.outputs[0]!)];
    let t = r;
    axes.forEach((axis, k) => {
      const n = inShape[axis - 1]!;
      const count = outShape[axis - 1]!;
      let step = steps[k]!;
      let first = starts[k]!;
      if (step < 0) {
        t = g.op('Slice', [t, g.ints([-1]), g.ints([-count - 1]), g.ints([axis]), g.ints([-1])], `${node.name}/R_reversed`);
        first = first + (count - 1) * step;
        step = -step;
      }
      let length = count;
      if (step > 1) {
        const dims = [...outShape];
        const spread = g.op('Unsqueeze', [t, g.ints([axis + 1])], `${node.name}/R_axis`);
        const padded = g.op('Pad', [spread, g.ints([...new Array<number>(dims.length + 2).fill(0), ...Array.from({ length: dims.length + 2 }, (_, i) => (i === axis + 1 ? step - 1 : 0))])], `${node.name}/R_spread`);
        dims[axis - 1] = count * step;
        t = g.op('Reshape', [padded, g.ints([-1, ...dims])], `${node.name}/R_strided`);
        length = count * step;
      }
      const end = n - first - length;
      const pads = new Array<number>(2 * (inShape.length + 1)).fill(0);
      pads[axis] = first;
      pads[axis + inShape.length + 1] = Math.max(end, 0);
      t = g.op('Pad', [t, g.ints(pads)], `${node.name}/R_placed`);
      if (end < 0) t = g.op('Slice', [t, g.ints([0]), g.ints([n]), g.ints([axis])], `${node.name}/R_cut`);
      outShape[axis - 1] = n;
    });
    return t;
  }

  /** Zeros of per-example `shape` with the batch of relevance `like`. */
  private zerosLike(like: string, shape: readonly number[], name: string): string {
    const { g } = this;
    const dims = g.op('Concat', [g.op('Shape', [like], `${name}/batch`, { start: 0, end: 1 }), g.ints([...shape])], `${name}/shape`, { axis: 0 });
    return g.castIn(g.op('ConstantOfShape', [dims], name));
  }

  /** The gradient through an affine op: γ/σ for BatchNorm, c for Mul, 1/c for Div, 1 for Add/Sub. */
  private affineGradient(node: GraphNode, r: string): string {
    const { g } = this;
    switch (node.op) {
      case 'BatchNormalization':
        return g.op('Mul', [r, this.batchNormScale(node)], `R:${node.name}:in`);
      case 'Mul':
      case 'Div':
        return g.op(node.op, [r, this.forward(node.inputs[1]!)], `R:${node.name}:in`);
      default:
        return r;
    }
  }

  /** R ⊙ f′(x) (guided: R⁺ ⊙ f′(x)) for each activation. */
  private activationGradient(node: GraphNode, relevance: string, guided: boolean): string {
    const { g } = this;
    const name = node.name;
    const r = guided ? g.op('Relu', [relevance], `${name}/R_positive`) : relevance;
    const x = this.forward(node.inputs[0]!);
    const y = this.forward(node.outputs[0]!);
    const where = (condition: string, value: string) => g.op('Where', [condition, value, g.scalar(0)], `R:${name}:in`);
    switch (node.op) {
      case 'Relu':
        return where(g.op('Greater', [y, g.scalar(0)], `${name}/active`), r);
      case 'LeakyRelu':
        return g.op('Mul', [r, g.op('Where', [g.op('Greater', [x, g.scalar(0)], `${name}/positive`), g.scalar(1), g.scalar(floatAttr(node, 'alpha'))], `${name}/slope`)], `R:${name}:in`);
      case 'Clip': {
        const inside = g.op('And', [g.op('Greater', [x, g.scalar(floatAttr(node, 'min'))], `${name}/above`), g.op('Less', [x, g.scalar(floatAttr(node, 'max'))], `${name}/below`)], `${name}/inside`);
        return where(inside, r);
      }
      case 'Sigmoid':
        return g.op('Mul', [r, g.op('Mul', [y, g.op('Sub', [g.scalar(1), y], `${name}/1-y`)], `${name}/slope`)], `R:${name}:in`);
      case 'Tanh':
        return g.op('Mul', [r, g.op('Sub', [g.scalar(1), g.op('Mul', [y, y], `${name}/y2`)], `${name}/slope`)], `R:${name}:in`);
      case 'HardSigmoid': {
        const alpha = floatAttr(node, 'alpha');
        const inside = g.op('And', [g.op('Greater', [y, g.scalar(0)], `${name}/above`), g.op('Less', [y, g.scalar(1)], `${name}/below`)], `${name}/inside`);
        return where(inside, g.op('Mul', [r, g.scalar(alpha)], `${name}/R_alpha`));
      }
      case 'HardSwish': {
        // 0 below −3, 1 above 3, (2x + 3)/6 between.
        const slope = g.op('Clip', [g.op('Add', [g.op('Mul', [x, g.scalar(1 / 3)], `${name}/x3`), g.scalar(0.5)], `${name}/ramp`), g.scalar(0), g.scalar(1)], `${name}/ramp_clipped`);
        const inside = g.op('And', [g.op('Greater', [x, g.scalar(-3)], `${name}/above`), g.op('Less', [x, g.scalar(3)], `${name}/below`)], `${name}/inside`);
        const derivative = g.op('Where', [inside, g.op('Add', [g.op('Mul', [x, g.scalar(1 / 3)], `${name}/x3b`), g.scalar(0.5)], `${name}/mid`), slope], `${name}/slope`);
        return g.op('Mul', [r, derivative], `R:${name}:in`);
      }
      default:
        throw new Error(`node ${name}: no gradient for ${node.op}`);
    }
  }

  /** The data of the rule the composite assigned to `node`. */
  private data<K extends AssignedRule['kind']>(node: GraphNode, kind: K): RuleData[K] {
    const assigned = this.rules.get(node.name);
    if (!assigned || assigned.kind !== kind) throw new Error(`node ${node.name}: no ${kind} rule assigned`);
    return ruleData(kind, assigned.rule as never);
  }

  /**
   * The terms a rule really has at this node: z+'s and gamma's a⁻ terms vanish on a
   * non-negative input (a⁺ is then a itself), and on a pool, whose weights are fixed ones,
   * terms of W⁻ vanish.
   */
  private effectiveTerms(node: GraphNode, rule: LinearRule, ops: LinearOps): RuleTerm[] {
    const nonNegative = this.nonNegative.has(node.inputs[0]!);
    const pool = ops.windowSize !== undefined;
    return rule.terms
      .filter((t) => !(t.input === 'activation-' && nonNegative) && !(pool && (t.param.kind === 'negative' || t.param.kind === 'gamma-negative')))
      .map((t) => (t.input === 'activation+' && nonNegative ? { ...t, input: 'activation' } : t));
  }

  /**
   * The linear rule: z = Σ_k layer(in_k, W_k) (+b); s = R / stabilize(z) (or s = R without a
   * stabilizer); R_in = Σ_k in_k ⊙ layerᵀ(s, W_k), or Σ_k layerᵀ(s, W_k) for the adjoint reducer.
   */
  private linearRule(node: GraphNode, r: string, ops: LinearOps, rule: LinearRule, weights: PoolWeights = 'ones'): string {
    const { g } = this;
    if (rule.signedGamma !== undefined) return this.signedGammaRule(node, this.value(r), ops, rule.signedGamma, rule.stabilizer);
    const activation = this.forward(node.inputs[0]!);
    const kernel = ops.windowSize === undefined ? this.forward(node.inputs[1]!) : '';
    const terms = this.effectiveTerms(node, rule, ops);
    const termInputs = terms.map((t) => this.termInput(node, activation, t.input));
    const termKernels = terms.map((t) => (kernel ? transformKernel(g, kernel, t.param, t.sign) : ''));
    // A pool's mean weights 1/n: z_mean + ε = (z_sum + n·ε)/n, and the adjoint's 1/n cancels the
    // division's n, so the rule runs on window sums with n·ε (and the gradient scales by 1/n).
    // Windows of different sizes (an average pool's padding or ceil_mode) have n per window.
    const counts = weights === 'mean' ? ops.counts : undefined;
    const n = weights === 'mean' && !counts ? ops.windowSize! : 1;
    const stabilizer = rule.stabilizer ?? { mode: this.config.stabilizer, epsilon: this.config.epsilon };

    let s: string;
    if (stabilizer.mode !== 'none') {
      const epsilon = stabilizer.epsilon * n;
      // When z ≥ 0 is guaranteed, z + ε·sign(z) is z + ε; that, and the additive z + ε, the op adds
      // for free as its bias.
      const plusEpsilon = stabilizer.mode === 'additive' || (!rule.bias && terms.every((t) => this.nonNegativeTerm(node, t, ops)));
      let bias = rule.bias && node.inputs[2] ? this.forward(node.inputs[2]) : undefined;
      if (plusEpsilon && !counts) {
        const eps = g.floatTensor(`${node.name}/epsilon`, new Float32Array(ops.outChannels).fill(epsilon), [ops.outChannels]);
        bias = bias ? g.op('Add', [bias, eps], `${node.name}/bias+epsilon`) : eps;
      }
      const variable: string[] = [];
      const constant: string[] = [];
      terms.forEach((t, k) => {
        const z = ops.apply(termInputs[k]!, termKernels[k]!, k === 0 ? bias : undefined);
        (t.input.startsWith('activation') ? variable : constant).push(z);
      });
      // Terms of constant inputs (z_b's bound images, ones) are summed first, so onnxruntime folds them.
      if (constant.length > 0) variable.push(constant.length === 1 ? constant[0]! : g.op('Add', constant, `${node.name}/z_bounds`));
      let z = variable.length === 1 ? variable[0]! : g.op('Sum', variable, `${node.name}/z_total`);
      const scaled = counts ? g.op('Mul', [counts, g.scalar(stabilizer.epsilon)], `${node.name}/epsilon_per_window`) : undefined;
      if (plusEpsilon && scaled) z = g.op('Add', [z, scaled], `${node.name}/z_stab`);
      if (!plusEpsilon) {
        // z + ε·sign(z) with sign(0) = +1.
        const [minus, plus] = scaled ? [g.op('Neg', [scaled], `${node.name}/minus_epsilon`), scaled] : [g.scalar(-epsilon), g.scalar(epsilon)];
        const signedEpsilon = g.op('Where', [g.op('Less', [z, g.scalar(0)], `${node.name}/z_neg`), minus, plus], `${node.name}/eps_signed`);
        z = g.op('Add', [z, signedEpsilon], `${node.name}/z_stab`);
      }
      const f = this.factors.get(r);
      s = f
        ? g.op('Mul', [f.c, g.op('Div', [f.a, z], `${node.name}/a_over_z`)], `${node.name}/s`)
        : g.op('Div', [r, z], `${node.name}/s`);
    } else if (counts) {
      s = g.op('Div', [this.value(r), counts], `${node.name}/s_mean`);
    } else if (n !== 1) {
      s = g.op('Mul', [this.value(r), g.scalar(1 / n)], `${node.name}/s_mean`);
    } else {
      s = this.value(r);
    }

    const c = ops.adjoint(s, termKernels);
    const parts = terms.length === 1 ? [c] : g.opMulti('Split', [c], terms.map((_, k) => `${node.name}/c${k}`), { axis: 1 });
    if (rule.reducer === 'adjoint') {
      const sum = parts.length === 1 ? parts[0]! : g.op('Sum', parts, `${node.name}/c_sum`);
      return ops.full ? ops.full(sum) : sum;
    }
    if (parts.length === 1) {
      if (!this.sharedQuotients) return g.op('Mul', [termInputs[0]!, c], `R:${node.name}:in`);
      const key = g.uniqueName(`R:${node.name}:in`);
      this.factors.set(key, { a: termInputs[0]!, c });
      return key;
    }
    const products = parts.map((part, k) => g.op('Mul', [termInputs[k]!, part], `${node.name}/R_term${k}`));
    return g.op('Sum', products, `R:${node.name}:in`);
  }

  /**
   * The sign-aware gamma rule (see {@link LinearRule.signedGamma}). With z⁺ = a⁺·W⁺ + a⁻·W⁻ and
   * z⁻ = a⁺·W⁻ + a⁻·W⁺ (their sum is a·W), s = R / stabilize(z + γ·(z ≥ 0 ? z⁺ : z⁻)) and, with
   * s₊ = s where z ≥ 0 and s₋ = s elsewhere,
   * R_in = a ⊙ Wᵀs + γ·(a⁺ ⊙ (W⁺ᵀs₊ + W⁻ᵀs₋) + a⁻ ⊙ (W⁻ᵀs₊ + W⁺ᵀs₋)). On a non-negative input a⁻ = 0.
   */
  private signedGammaRule(node: GraphNode, r: string, ops: LinearOps, gamma: number, own?: Stabilizer): string {
    const { g } = this;
    if (ops.windowSize !== undefined) throw new Error(`node ${node.name}: the gamma-signed rule needs weights, a ${node.op} has none`);
    const name = node.name;
    const a = this.forward(node.inputs[0]!);
    const kernel = this.forward(node.inputs[1]!);
    const wp = transformKernel(g, kernel, { kind: 'positive' }, 1);
    const wn = transformKernel(g, kernel, { kind: 'negative' }, 1);
    const nonNegative = this.nonNegative.has(node.inputs[0]!);
    const ap = nonNegative ? a : g.op('Relu', [a], `${a}+`);
    const an = nonNegative ? undefined : g.op('Min', [a, g.scalar(0)], `${a}-`);
    const sum = (parts: string[], label: string) => (parts.length === 1 ? parts[0]! : g.op('Add', parts, `${name}/${label}`));
    const zPlus = sum([ops.apply(ap, wp), ...(an ? [ops.apply(an, wn)] : [])], 'z_plus');
    const zMinus = sum([ops.apply(ap, wn), ...(an ? [ops.apply(an, wp)] : [])], 'z_minus');
    const z = g.op('Add', [zPlus, zMinus], `${name}/z`);
    const positive = g.op('GreaterOrEqual', [z, g.scalar(0)], `${name}/z_nonnegative`);
    let denominator = g.op('Add', [z, g.op('Mul', [g.op('Where', [positive, zPlus, zMinus], `${name}/z_branch`), g.scalar(gamma)], `${name}/gamma_branch`)], `${name}/z_gamma`);
    const stabilizer = own ?? { mode: this.config.stabilizer, epsilon: this.config.epsilon };
    if (stabilizer.mode === 'additive') denominator = g.op('Add', [denominator, g.scalar(stabilizer.epsilon)], `${name}/z_stab`);
    else if (stabilizer.mode === 'signed') {
      const signed = g.op('Where', [g.op('Less', [denominator, g.scalar(0)], `${name}/z_neg`), g.scalar(-stabilizer.epsilon), g.scalar(stabilizer.epsilon)], `${name}/eps_signed`);
      denominator = g.op('Add', [denominator, signed], `${name}/z_stab`);
    }
    const s = g.op('Div', [r, denominator], `${name}/s`);
    const zero = g.scalar(0);
    const sPlus = g.op('Where', [positive, s, zero], `${name}/s_plus`);
    const sMinus = g.op('Where', [positive, zero, s], `${name}/s_minus`);
    const plain = g.op('Mul', [a, ops.adjoint(s, [kernel])], `${name}/R_plain`);
    // a⁺ meets W⁺ on the positive branch and W⁻ on the negative one; a⁻ the other way round.
    const forPositive = g.op('Add', [ops.adjoint(sPlus, [wp]), ops.adjoint(sMinus, [wn])], `${name}/c_positive_inputs`);
    let extra = g.op('Mul', [ap, forPositive], `${name}/R_gamma_positive`);
    if (an) {
      const forNegative = g.op('Add', [ops.adjoint(sPlus, [wn]), ops.adjoint(sMinus, [wp])], `${name}/c_negative_inputs`);
      extra = g.op('Add', [extra, g.op('Mul', [an, forNegative], `${name}/R_gamma_negative`)], `${name}/R_gamma_terms`);
    }
    return g.op('Add', [plain, g.op('Mul', [extra, g.scalar(gamma)], `${name}/R_gamma`)], `R:${name}:in`);
  }

  /** Whether a term's contribution to z is ≥ 0 for sure: inputs and weights of one sign. */
  private nonNegativeTerm(node: GraphNode, t: RuleTerm, ops: LinearOps): boolean {
    const weightSign = ops.windowSize !== undefined || t.param.kind === 'positive' || t.param.kind === 'ones' || t.param.kind === 'square' ? 1
      : t.param.kind === 'negative' ? -1 : 0;
    const inputSign = t.input === 'ones' || t.input === 'activation+' || (t.input === 'activation' && this.nonNegative.has(node.inputs[0]!)) ? 1
      : t.input === 'activation-' ? -1 : 0;
    return t.sign === 1 && weightSign !== 0 && weightSign === inputSign;
  }

  /** A term's input: the activation (or its positive or negative part), or a constant image (z_b's bounds, ones) shaped like it. */
  private termInput(node: GraphNode, activation: string, input: InputModifier): string {
    switch (input) {
      case 'activation':
        return activation;
      case 'activation+':
      case 'activation-': {
        // One a⁺ and one a⁻ per tensor, whatever number of layers read it.
        const key = `${input}:${activation}`;
        let part = this.activationParts.get(key);
        if (!part) {
          part = input === 'activation+' ? this.g.op('Relu', [activation], `${activation}+`) : this.g.op('Min', [activation, this.g.scalar(0)], `${activation}-`);
          this.activationParts.set(key, part);
        }
        return part;
      }
      default:
        return this.constantImage(node.inputs[0]!, input, node);
    }
  }

  private readonly constantImages = new Map<string, string>();
  /** The positive and negative parts of activations, shared by the layers that read them. */
  private readonly activationParts = new Map<string, string>();

  /**
   * A constant image at a tensor: the bounds (per channel at the model input, carried through
   * the routing ops between it and the first layer) or ones; zero where a Pad added positions.
   * Batch 1: it broadcasts.
   */
  private constantImage(tensor: string, which: Exclude<InputModifier, 'activation' | 'activation+' | 'activation-'>, user: GraphNode): string {
    const key = `${which}:${tensor}`;
    const cached = this.constantImages.get(key);
    if (cached) return cached;
    const image = this.buildConstantImage(tensor, which, user);
    this.constantImages.set(key, image);
    return image;
  }

  private buildConstantImage(tensor: string, which: Exclude<InputModifier, 'activation' | 'activation+' | 'activation-'>, user: GraphNode): string {
    const producer = this.index.producer.get(tensor);
    const shape = this.index.shape(tensor);
    const size = shape.reduce((a, b) => a * b, 1);
    if (which === 'ones') {
      if (producer?.op !== 'Pad') return this.g.floatTensor(`ones/${tensor}`, new Float32Array(size).fill(1), [1, ...shape]);
      return emitNode(this.g, producer, [this.constantImage(producer.inputs[0]!, which, user)], (t) => this.index.shape(t), `${which}/${producer.name}`)[0]!;
    }
    if (tensor === this.graph.input) {
      const [c, h, w] = shape as [number, number, number];
      // The user's bounds, else the model's own: pixel 0 and 255 through its preprocessing.
      const bounds = this.config.inputBounds ?? inputBounds(this.graph.inputDescription);
      const values = which === 'low' ? bounds.low : bounds.high;
      if (values.length !== c) throw new Error(`inputBounds: ${values.length} values for a ${c}-channel input`);
      const data = new Float32Array(c * h * w);
      for (let ch = 0; ch < c; ch++) data.fill(values[ch]!, ch * h * w, (ch + 1) * h * w);
      return this.g.floatTensor(`bounds/${which}`, data, [1, c, h, w]);
    }
    if (!producer || this.category(producer) !== 'routing') {
      throw new Error(`node ${user.name}: the z_b rule needs input bounds, but its input ${tensor} is not the model input (or routed from it)`);
    }
    const inputs = producer.inputs.map((i) => this.constantImage(i, which, user));
    const outputs = emitNode(this.g, producer, inputs, (t) => this.index.shape(t), `${which}/${producer.name}`);
    return outputs[producer.outputs.indexOf(tensor)]!;
  }

  /** γ/√(var + ε) per channel, shaped to broadcast over the node's input, computed in the graph's precision (folded at session creation). */
  private batchNormScale(node: GraphNode): string {
    const { g } = this;
    const param = (k: number) => this.forward(node.inputs[k]!);
    // The forward op's epsilon is a float attribute: the same float32 value here.
    const sigma = g.op('Sqrt', [g.op('Add', [param(4), g.scalar(Math.fround(floatAttr(node, 'epsilon')))], `${node.name}/var+eps`)], `${node.name}/sigma`);
    const scale = g.op('Div', [param(1), sigma], `${node.name}/scale`);
    const rank = this.index.shape(node.inputs[0]!).length;
    return rank <= 1 ? scale : g.op('Unsqueeze', [scale, g.ints(Array.from({ length: rank - 1 }, (_, i) => i + 1))], `${node.name}/scale_chw`);
  }

  /**
   * Where a max pool's unpadded input starts inside its input: after the padding of a Pad node
   * feeding it (Keras), else at 0 (a pool's own padding is implicit). The 2×2/2 windows there
   * must give the pool's output size, as the official code's AvgPool2d(2) must.
   */
  private unpaddedOrigin(node: GraphNode): [number, number] {
    const input = node.inputs[0]!;
    const producer = this.index.producer.get(input);
    const padded = producer?.op === 'Pad';
    const [, h, w] = (padded ? this.index.shape(producer.inputs[0]!) : this.index.shape(input)) as [number, number, number];
    const [, oh, ow] = this.index.shape(node.outputs[0]!) as [number, number, number];
    if (Math.floor(h / 2) !== oh || Math.floor(w / 2) !== ow) {
      throw new Error(`node ${node.name}: the avg2x2 rule's 2×2/2 windows over its unpadded ${h}×${w} input give ` +
        `${Math.floor(h / 2)}×${Math.floor(w / 2)}, but the max pool outputs ${oh}×${ow}`);
    }
    if (!padded) return [0, 0];
    const pads = intsAttr(producer, 'pads');
    return [pads[2]!, pads[3]!];
  }
}

/** Collects trace sums as their tensors' relevance becomes final, and returns them in the plan's order. */
class TraceRecorder {
  /** Tensors each point still waits for, and the points waiting for each tensor (linear in the graph's size). */
  private readonly open = new Map<TracePoint, number>();
  private readonly waiting = new Map<string, TracePoint[]>();
  private readonly sums = new Map<TracePoint, string>();

  constructor(private readonly points: readonly TracePoint[]) {
    for (const p of points) {
      const tensors = new Set(p.tensors);
      this.open.set(p, tensors.size);
      for (const t of tensors) {
        const list = this.waiting.get(t);
        if (list) list.push(p);
        else this.waiting.set(t, [p]);
      }
    }
  }

  /** Marks tensors as final; returns the points all of whose tensors now are. */
  finalize(tensors: readonly string[]): TracePoint[] {
    const ready: TracePoint[] = [];
    for (const t of tensors) {
      for (const point of this.waiting.get(t) ?? []) {
        const left = this.open.get(point)! - 1;
        this.open.set(point, left);
        if (left === 0) ready.push(point);
      }
      this.waiting.delete(t);
    }
    return ready;
  }

  set(point: TracePoint, sum: string): void {
    this.sums.set(point, sum);
  }

  recorded(): { name: string; sum: string }[] {
    return this.points.filter((p) => this.sums.has(p)).map((p) => ({ name: p.name, sum: this.sums.get(p)! }));
  }
}
