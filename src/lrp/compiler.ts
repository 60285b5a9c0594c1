/**
 * Compiles a model graph and an LRP configuration into one ONNX model that computes the
 * forward pass and the relevance of each image's target class in a single run.
 *
 * The relevance pass walks the layers in reverse topological order. Relevance reaching a
 * layer's output by several paths is summed when that layer is processed (all its consumers
 * come later in topological order, so they are done by then).
 */
import type { ConvLayer, Layer, ModelGraph } from '../model/graph.js';
import { layerByName } from '../model/graph.js';
import { BATCH, emitClassifier, inputDims, inputShape, IO, outputUnits, type ClassifierOptions } from '../onnx/classifier.js';
import { inputBounds } from '../model/input.js';
import type { ForwardGraph } from '../onnx/forward.js';
import type { OnnxGraphBuilder, Precision } from '../onnx/graph-builder.js';
import type { ModelWeights } from '../weights/types.js';
import { assignRules } from './composite.js';
import { convOps, denseOps, globalSumOps, type LinearOps, transformKernel, windowSumOps } from './linear-ops.js';
import type { LrpConfig } from './presets.js';
import { ruleTerms, type Rule, type RuleTerms, type TermInput } from './rules.js';
import { emitSplit } from './split.js';

/** A compiled explainer model and what is needed to read its outputs. */
export interface CompiledExplainer {
  /** Serialized ONNX model. */
  readonly model: Uint8Array;
  /** Names of the entries of the `trace` output, in order (from the start relevance down to the input). */
  readonly traceNames: readonly string[];
  /** The rule chosen for every conv and dense layer. */
  readonly rules: ReadonlyMap<string, Rule>;
}

/** Name of the first trace entry, the start relevance at the output (`predictions:out` for Keras). */
export function startTraceName(graph: ModelGraph): string {
  return `${graph.output}:out`;
}

/** Layer kinds traced on their own when outside a group (a residual block). */
const TRACED_KINDS: ReadonlySet<Layer['kind']> = new Set(['conv', 'dense', 'maxPool', 'globalAvgPool']);

/** Compiles `graph` with `weights` into a forward + relevance model under `config`. */
export function compileExplainer(graph: ModelGraph, weights: ModelWeights, config: LrpConfig, precision: Precision = 'float32', options: ClassifierOptions = {}): CompiledExplainer {
  const rules = assignRules(graph, config);
  const classifier = emitClassifier(`${graph.name}_lrp`, graph, weights, precision, options);
  const compiler = new RelevanceCompiler(graph, classifier.g, classifier.forward, rules, config);
  const traceNames = compiler.emit(classifier.logits, classifier.probabilities);
  return { model: classifier.g.toBytes(), traceNames, rules };
}

class RelevanceCompiler {
  /** Relevance contributions arriving at each layer's output, summed lazily. */
  private readonly relevance = new Map<string, string[]>();
  private readonly nonNegative = new Set<string>();
  private readonly traceSums: string[] = [];
  private readonly traceNames: string[] = [];

  /** Forward tensors of every layer, kernels and biases (ONNX layout). */
  private readonly outputs: ReadonlyMap<string, string>;
  private readonly kernels: ReadonlyMap<string, string>;
  private readonly biases: ReadonlyMap<string, string>;

  constructor(
    private readonly graph: ModelGraph,
    private readonly g: OnnxGraphBuilder,
    forward: ForwardGraph,
    private readonly rules: ReadonlyMap<string, Rule>,
    private readonly config: LrpConfig,
  ) {
    ({ outputs: this.outputs, kernels: this.kernels, biases: this.biases } = forward);
    for (const layer of graph.layers) if (producesNonNegative(layer, this.nonNegative)) this.nonNegative.add(layer.name);
  }

  /** Emits the relevance pass and its outputs; returns the trace names. */
  emit(logits: string, probabilities: string): string[] {
    const { g, graph } = this;
    const classes = outputUnits(graph);
    const [, h, w] = inputShape(graph);

    // Target: the given class, or the predicted one where the caller passed −1.
    g.input(IO.target, 'int64', [BATCH]);
    const predicted = g.op('ArgMax', [logits], 'predicted_class', { axis: 1, keepdims: 0 });
    const explained = g.op('Where', [g.op('Less', [IO.target, g.ints([0])], 'target_is_auto'), predicted, IO.target], IO.explainedClass);
    const classIds = g.int64Tensor('class_ids', Array.from({ length: classes }, (_, i) => i), [1, classes]);
    const oneHot = g.toFloat(g.op('Equal', [g.op('Unsqueeze', [explained, g.ints([1])], 'explained_col'), classIds], 'is_target'), 'target_one_hot');
    const startScores = this.config.start === 'logit' ? logits : probabilities;
    const start = g.op('Mul', [oneHot, startScores], 'R_start');
    const startSum = g.op('ReduceSum', [start, g.ints([1])], 'start_sum', { keepdims: 0 });
    this.traceNames.push(startTraceName(graph));
    this.traceSums.push(startSum);
    this.relevance.set(graph.output, [start]);

    const layers = graph.layers;
    for (let i = layers.length - 1; i >= 0; i--) {
      const layer = layers[i]!;
      const r = this.relevanceAt(layer.name);
      if (r !== undefined) this.propagate(layer, r);
      const unit = traceUnit(layer);
      if (unit !== undefined && (i === 0 || traceUnit(layers[i - 1]!) !== unit)) this.trace(unit, layer);
    }

    const inputRelevance = this.relevanceAt(graph.input);
    if (inputRelevance === undefined) throw new Error(`model ${graph.name}: no relevance path reaches the input`);
    // Relevance comes back in the layout the input came in.
    const relevance = graph.inputDescription.layout === 'NCHW' ? inputRelevance : g.op('Transpose', [inputRelevance], 'relevance_nhwc', { perm: [0, 2, 3, 1] });
    const attribution = g.op('ReduceSum', [inputRelevance, g.ints([1])], 'attribution_sum', { keepdims: 0 });
    const trace = g.op('Concat', this.traceSums.map((t) => g.op('Unsqueeze', [t, g.ints([1])], `${t}/col`)), 'trace_sums', { axis: 1 });
    g.output(explained, 'int64', [BATCH]);
    g.castOut(startSum, IO.startRelevance, [BATCH]);
    g.castOut(relevance, IO.relevance, [BATCH, ...inputDims(graph)]);
    g.castOut(attribution, IO.attribution, [BATCH, h, w]);
    g.castOut(trace, IO.trace, [BATCH, this.traceNames.length]);
    return this.traceNames;
  }

  /** The summed relevance at a layer's output, or undefined if none reaches it. */
  private relevanceAt(layer: string): string | undefined {
    const parts = this.relevance.get(layer);
    if (!parts || parts.length === 0) return undefined;
    if (parts.length === 1) return parts[0];
    const sum = this.g.op(parts.length === 2 ? 'Add' : 'Sum', parts, `R:${layer}`);
    this.relevance.set(layer, [sum]);
    return sum;
  }

  private send(layer: string, r: string): void {
    const parts = this.relevance.get(layer);
    if (parts) parts.push(r);
    else this.relevance.set(layer, [r]);
  }

  /** Records the total relevance at the inputs of a finished trace unit. */
  private trace(unit: string, firstLayer: Layer): void {
    const sums = firstLayer.inputs.map((input) => {
      const r = this.relevanceAt(input);
      return r === undefined ? undefined : this.g.op('ReduceSum', [r, this.g.ints(this.axesOf(input))], `trace:${unit}:${input}`, { keepdims: 0 });
    }).filter((s): s is string => s !== undefined);
    if (sums.length === 0) return;
    this.traceNames.push(unit);
    this.traceSums.push(sums.length === 1 ? sums[0]! : this.g.op('Sum', sums, `trace:${unit}`));
  }

  private axesOf(layer: string): number[] {
    const rank = layerByName(this.graph, layer).outputShape.length;
    return Array.from({ length: rank }, (_, i) => i + 1);
  }

  /** Sends the relevance `r` of a layer's output to its inputs. */
  private propagate(layer: Layer, r: string): void {
    const { g } = this;
    const inputs = layer.inputs;
    switch (layer.kind) {
      case 'input':
        return;
      case 'batchNorm':
      case 'relu':
        // Pass-through: the relevance of the output becomes that of the input unchanged.
        this.send(inputs[0]!, r);
        return;
      case 'zeroPad': {
        // Relevance of the padded positions is dropped.
        const [, h, w] = this.shapeOf(inputs[0]!);
        const [top, , left] = layer.pads;
        this.send(inputs[0]!, g.op('Slice', [r, g.ints([top, left]), g.ints([top + h!, left + w!]), g.ints([2, 3])], `R:${layer.name}:unpadded`));
        return;
      }
      case 'add': {
        const shares = emitSplit(g, this.config.split, layer.name, inputs.map((i) => this.outputs.get(i)!), r);
        inputs.forEach((input, k) => this.send(input, shares[k]!));
        return;
      }
      case 'maxPool':
        this.send(inputs[0]!, this.linearRule(layer, r, windowSumOps(g, layer, this.shapeOf(inputs[0]!)), ruleTerms({ name: 'zplus' })));
        return;
      case 'globalAvgPool':
        this.send(inputs[0]!, this.linearRule(layer, r, globalSumOps(g, layer, this.shapeOf(inputs[0]!)), ruleTerms({ name: 'zplus' })));
        return;
      case 'conv':
      case 'dense': {
        const ops = layer.kind === 'conv' ? convOps(g, layer, this.shapeOf(inputs[0]!)) : denseOps(g, layer);
        this.send(inputs[0]!, this.linearRule(layer, r, ops, ruleTerms(this.rules.get(layer.name)!)));
        return;
      }
    }
  }

  /** z = Σ_k layer(in_k, W_k) (+b); s = R / stab(z); R_in = Σ_k in_k ⊙ layerᵀ(s, W_k). */
  private linearRule(layer: Layer, r: string, ops: LinearOps, rule: RuleTerms): string {
    const { g } = this;
    const activation = this.outputs.get(layer.inputs[0]!)!;
    const kernel = this.kernels.get(layer.name) ?? '';
    const termInputs = rule.terms.map((t) => this.termInput(layer, activation, t.input));
    const termKernels = rule.terms.map((t) => (kernel ? transformKernel(g, kernel, t.kernel, t.sign) : ''));

    const epsilon = rule.epsilon ?? this.config.epsilon;
    // When z ≥ 0 is guaranteed, z + ε·sign(z) is z + ε, which the op adds for free as its bias.
    const nonNegative = rule.nonNegativeForNonNegativeInput && this.nonNegative.has(layer.inputs[0]!);
    const bias = nonNegative
      ? g.floatTensor(`${layer.name}/epsilon`, new Float32Array(ops.outChannels).fill(epsilon), [ops.outChannels])
      : rule.useBias ? this.biases.get(layer.name) : undefined;
    const variable: string[] = [];
    const constant: string[] = [];
    rule.terms.forEach((t, k) => {
      const z = ops.apply(termInputs[k]!, termKernels[k]!, k === 0 ? bias : undefined);
      (t.input === 'activation' ? variable : constant).push(z);
    });
    // Terms of constant inputs (z_b's bound images) are summed first, so onnxruntime folds them.
    if (constant.length > 0) variable.push(constant.length === 1 ? constant[0]! : g.op('Add', constant, `${layer.name}/z_bounds`));
    let z = variable.length === 1 ? variable[0]! : g.op('Sum', variable, `${layer.name}/z_total`);
    if (!nonNegative) {
      // z + ε·sign(z) with sign(0) = +1.
      const signedEpsilon = g.op('Where', [g.op('Less', [z, g.scalar(0)], `${layer.name}/z_neg`), g.scalar(-epsilon), g.scalar(epsilon)], `${layer.name}/eps_signed`);
      z = g.op('Add', [z, signedEpsilon], `${layer.name}/z_stab`);
    }
    const s = g.op('Div', [r, z], `${layer.name}/s`);

    const c = ops.adjoint(s, termKernels);
    if (rule.terms.length === 1) return g.op('Mul', [termInputs[0]!, c], `R:${layer.name}:in`);
    const parts = g.opMulti('Split', [c], rule.terms.map((_, k) => `${layer.name}/c${k}`), { axis: 1 });
    const products = parts.map((part, k) => g.op('Mul', [termInputs[k]!, part], `${layer.name}/R_term${k}`));
    return g.op('Sum', products, `R:${layer.name}:in`);
  }

  /** A term's input: the activation, or a z_b bound image (constant, shaped like the activation). */
  private termInput(layer: Layer, activation: string, input: TermInput): string {
    if (input === 'activation') return activation;
    return this.boundImage(layer.inputs[0]!, input, layer as ConvLayer);
  }

  /** The bound image at a layer's output: constant per channel at the input, zero where padded. */
  private boundImage(layerName: string, which: 'low' | 'high', user: ConvLayer): string {
    const layer = layerByName(this.graph, layerName);
    if (layer.kind === 'input') {
      const [c, h, w] = layer.outputShape as [number, number, number];
      // The user's bounds, else the model's own: pixel 0 and 255 through its preprocessing.
      const bounds = this.config.inputBounds ?? inputBounds(this.graph.inputDescription);
      const values = which === 'low' ? bounds.low : bounds.high;
      if (values.length !== c) throw new Error(`inputBounds: ${values.length} values for a ${c}-channel input`);
      const data = new Float32Array(c * h * w);
      for (let ch = 0; ch < c; ch++) data.fill(values[ch]!, ch * h * w, (ch + 1) * h * w);
      return this.g.floatTensor(`bounds/${which}`, data, [1, c, h, w]);
    }
    if (layer.kind === 'zeroPad') {
      const p = layer.pads;
      return this.g.op('Pad', [this.boundImage(layer.inputs[0]!, which, user), this.g.ints([0, 0, p[0], p[2], 0, 0, p[1], p[3]])], `bounds/${which}/${layer.name}`, { mode: 'constant' });
    }
    throw new Error(`layer ${user.name}: the z_b rule needs input bounds, but its input ${layerName} is not the model input`);
  }

  private shapeOf(layer: string): readonly number[] {
    return layerByName(this.graph, layer).outputShape;
  }
}

/** The trace unit a layer belongs to: its group, or itself for traced kinds. */
function traceUnit(layer: Layer): string | undefined {
  return layer.group ?? (TRACED_KINDS.has(layer.kind) ? layer.name : undefined);
}

/** Whether a layer's output is ≥ 0 given which earlier outputs are. */
function producesNonNegative(layer: Layer, nonNegative: ReadonlySet<string>): boolean {
  if (layer.kind === 'relu') return true;
  const fromNonNegative = layer.inputs.length > 0 && layer.inputs.every((i) => nonNegative.has(i));
  return fromNonNegative && (layer.kind === 'zeroPad' || layer.kind === 'maxPool' || layer.kind === 'globalAvgPool' || layer.kind === 'add');
}
