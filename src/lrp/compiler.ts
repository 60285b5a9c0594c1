/**
 * Compiles a model graph and an LRP configuration into one ONNX model that computes the
 * forward pass and the relevance of each image's target class in a single run.
 *
 * The relevance pass walks the layers in reverse topological order. Relevance reaching a
 * layer's output by several paths is summed when that layer is processed (all its consumers
 * come later in topological order, so they are done by then).
 */
import type { BatchNormLayer, Layer, MaxPoolLayer, ModelGraph } from '../model/graph.js';
import { layerByName } from '../model/graph.js';
import { BATCH, emitClassifier, TARGETS, inputDims, inputShape, IO, outputUnits, type ClassifierOptions } from '../onnx/classifier.js';
import { inputBounds } from '../model/input.js';
import type { ForwardGraph } from '../onnx/forward.js';
import type { Dim, OnnxGraphBuilder, Precision } from '../onnx/graph-builder.js';
import type { ModelWeights } from '../weights/types.js';
import { assignRules, type AssignedRule } from './composite.js';
import { argmaxRouting, convOps, denseOps, globalSumOps, type LinearOps, transformKernel, twoByTwoSumOps, windowSumOps } from './linear-ops.js';
import type { LrpConfig } from './presets.js';
import { ruleData, type InputModifier, type LinearRule, type PoolWeights, type Rule, type RuleData, type RuleTerm } from './rules.js';
import { emitSplit } from './split.js';

/** A compiled explainer model and what is needed to read its outputs. */
export interface CompiledExplainer {
  /** Serialized ONNX model. */
  readonly model: Uint8Array;
  /** Names of the entries of the `trace` output, in order (from the start relevance down to the input). */
  readonly traceNames: readonly string[];
  /** The rule chosen for every layer that takes one. */
  readonly rules: ReadonlyMap<string, AssignedRule>;
}

/** Name of the first trace entry, the start relevance at the output (`predictions:out` for Keras). */
export function startTraceName(graph: ModelGraph): string {
  return `${graph.output}:out`;
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
   * Layers whose forward activation and relevance (NCHW, or (N, units)) become the outputs
   * {@link tapOutputs}(name): with the gradient rules, the relevance is ∂y_t/∂(layer output).
   */
  readonly tapLayers?: readonly string[];
  /**
   * Stop the relevance pass once every tapped layer has its relevance (for methods that need
   * only the taps, e.g. Grad-CAM): the layers below are not computed, and the outputs are
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
  /** Per tapped layer: its forward activation and the relevance at its output. */
  readonly taps: ReadonlyMap<string, { readonly activation: string; readonly relevance: string; readonly shape: readonly number[] }>;
}

/** Output names of a tapped layer's activation and relevance. */
export function tapOutputs(layer: string): { activation: string; relevance: string } {
  return { activation: `tap:${layer}:activation`, relevance: `tap:${layer}:relevance` };
}

/** Layer kinds traced on their own when outside a group (a residual block). */
const TRACED_KINDS: ReadonlySet<Layer['kind']> = new Set(['conv', 'dense', 'maxPool', 'globalAvgPool']);

/** Compiles `graph` with `weights` into a forward + relevance model under `config`. */
export function compileExplainer(graph: ModelGraph, weights: ModelWeights, config: LrpConfig, precision: Precision = 'float32', options: ExplainerOptions = {}): CompiledExplainer {
  const rules = assignRules(graph, config);
  const classifier = emitClassifier(`${graph.name}_lrp`, graph, weights, precision, options);
  const compiler = new RelevanceCompiler(graph, weights, classifier.g, classifier.forward, rules, config, options.targetsPerImage ?? 'one', options.sharedQuotients ?? false);
  for (const name of options.tapLayers ?? []) layerByName(graph, name); // unknown names fail here, naming the layer
  const taps = new Set(options.tapLayers ?? []);
  if (options.stopAtTaps && taps.size === 0) throw new Error('stopAtTaps needs tapLayers');
  const traceNames = compiler.emit(classifier.logits, classifier.probabilities, options.trace ?? true, taps, options.stopAtTaps ?? false);
  if (options.extend) options.extend(classifier.g, { image: classifier.image, relevance: compiler.inputRelevance, taps: compiler.taps });
  return { model: classifier.g.toBytes(), traceNames, rules };
}

class RelevanceCompiler {
  /** Relevance contributions arriving at each layer's output, summed lazily. */
  private readonly relevance = new Map<string, string[]>();
  /**
   * Several targets per image: relevance a ⊙ c kept as its two factors until needed. The next
   * linear rule then computes s = R / z as c ⊙ (a / z), whose a / z is shared by all targets,
   * one product per target instead of a product and a division.
   */
  private readonly factors = new Map<string, { readonly a: string; readonly c: string }>();
  private readonly nonNegative = new Set<string>();
  private readonly traceSums: string[] = [];
  private readonly traceNames: string[] = [];
  /** Tapped layers' activation and relevance, filled by {@link emit}. */
  readonly taps = new Map<string, { activation: string; relevance: string; shape: readonly number[] }>();
  /** The input relevance (N, C, H, W), set by {@link emit}. */
  inputRelevance?: string;

  /** Forward tensors of every layer, kernels and biases (ONNX layout). */
  private readonly outputs: ReadonlyMap<string, string>;
  private readonly kernels: ReadonlyMap<string, string>;
  private readonly biases: ReadonlyMap<string, string>;

  constructor(
    private readonly graph: ModelGraph,
    private readonly weights: ModelWeights,
    private readonly g: OnnxGraphBuilder,
    forward: ForwardGraph,
    private readonly rules: ReadonlyMap<string, AssignedRule>,
    private readonly config: LrpConfig,
    private readonly targetsPerImage: 'one' | 'many',
    private readonly sharedQuotients: boolean,
  ) {
    ({ outputs: this.outputs, kernels: this.kernels, biases: this.biases } = forward);
    for (const layer of graph.layers) if (producesNonNegative(layer, this.nonNegative)) this.nonNegative.add(layer.name);
    this.zeroWhereZero = this.relevanceZeroWhereZero();
  }

  /** Layers whose output is proved to receive relevance 0 wherever the output itself is 0. */
  private readonly zeroWhereZero: ReadonlySet<string>;

  /**
   * Which layer outputs receive relevance 0 wherever their value is 0, under the assigned rules
   * (in reverse topological order: a layer's consumers are decided before it). True when every
   * consumer sends back something that vanishes where this output does: a linear rule whose
   * terms all multiply the activation (reducer `input`), a gradient ReLU mask, a ratio split
   * (its share is ∝ |x_k|; where all inputs are 0 it relies on its own output), or a ReLU or
   * zero padding passing on relevance of an output that is 0 where this one is.
   */
  private relevanceZeroWhereZero(): Set<string> {
    const consumers = new Map<string, Layer[]>();
    for (const layer of this.graph.layers) for (const input of layer.inputs) consumers.set(input, [...(consumers.get(input) ?? []), layer]);
    const proved = new Set<string>();
    const multipliesActivation = (rule: LinearRule) => rule.reducer === 'input' && rule.terms.every((t) => t.input === 'activation');
    const safe = (consumer: Layer): boolean => {
      switch (consumer.kind) {
        case 'conv':
        case 'dense':
          return multipliesActivation(this.data(consumer, 'linear'));
        case 'globalAvgPool':
          return multipliesActivation(this.data(consumer, 'globalAvgPool').rule);
        case 'maxPool': {
          const data = this.data(consumer, 'maxPool');
          return data.propagate === 'windows' && multipliesActivation(data.rule);
        }
        case 'relu':
          // A mask zeroes where the input is ≤ 0; a pass-through hands on the output's relevance
          // (relu(x) = 0 where x = 0).
          return this.data(consumer, 'relu').mask !== 'none' || proved.has(consumer.name);
        case 'zeroPad':
          return proved.has(consumer.name);
        case 'add': {
          // Share ∝ |x_k|: 0 where x_k = 0 unless all inputs are 0, where the sum is 0 too. The
          // last input's share is the remainder R − R·|x_0|/|x_0|: exactly 0 with two inputs only.
          const { split } = this.data(consumer, 'add');
          return split === 'ratio-no-fallback' || (split === 'ratio' && consumer.inputs.length === 2 && proved.has(consumer.name));
        }
        default:
          return false;
      }
    };
    for (let i = this.graph.layers.length - 1; i >= 0; i--) {
      const layer = this.graph.layers[i]!;
      const users = consumers.get(layer.name) ?? [];
      if (layer.name !== this.graph.output && users.length > 0 && users.every(safe)) proved.add(layer.name);
    }
    return proved;
  }

  /** Emits the relevance pass and its outputs; returns the trace names. */
  emit(logits: string, probabilities: string, withTrace: boolean, tapLayers: ReadonlySet<string> = new Set(), stopAtTaps = false): string[] {
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
    const flat = (t: string) => (many ? g.op('Reshape', [t, g.ints([-1])], IO.explainedClass) : g.op('Squeeze', [t, g.ints([1])], IO.explainedClass));
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
    this.traceNames.push(startTraceName(graph));
    this.traceSums.push(startSum);
    this.relevance.set(graph.output, [start]);

    const layers = graph.layers;
    for (let i = layers.length - 1; i >= 0; i--) {
      const layer = layers[i]!;
      const r = this.relevanceAt(layer.name);
      if (tapLayers.has(layer.name)) this.tap(layer, r);
      if (stopAtTaps && this.taps.size === tapLayers.size) {
        g.output(explained, 'int64', [BATCH]);
        g.castOut(startSum, IO.startRelevance, [BATCH]);
        return [];
      }
      if (r !== undefined) this.propagate(layer, r);
      const unit = traceUnit(layer);
      if (withTrace && unit !== undefined && (i === 0 || traceUnit(layers[i - 1]!) !== unit)) this.trace(unit, layer);
    }

    const inputRelevance = this.valueOrUndefined(this.relevanceAt(graph.input));
    if (inputRelevance === undefined) throw new Error(`model ${graph.name}: no relevance path reaches the input`);
    this.inputRelevance = inputRelevance;
    // Relevance comes back in the layout the input came in.
    const relevance = graph.inputDescription.layout === 'NCHW' ? inputRelevance : g.op('Transpose', [inputRelevance], 'relevance_nhwc', { perm: [0, 2, 3, 1] });
    const attribution = g.op('ReduceSum', [inputRelevance, g.ints([1])], 'attribution_sum', { keepdims: 0 });

    g.output(explained, 'int64', [targets]);
    g.castOut(startSum, IO.startRelevance, [targets]);
    g.castOut(relevance, IO.relevance, [targets, ...inputDims(graph)]);
    g.castOut(attribution, IO.attribution, [targets, h, w]);
    if (!withTrace) return [];
    const trace = g.op('Concat', this.traceSums.map((t) => g.op('Unsqueeze', [t, g.ints([1])], `${t}/col`)), 'trace_sums', { axis: 1 });
    g.castOut(trace, IO.trace, [targets, this.traceNames.length]);
    return this.traceNames;
  }

  /** Declares a layer's activation and relevance as outputs. */
  private tap(layer: Layer, relevance: string | undefined): void {
    if (relevance === undefined) throw new Error(`tapped layer ${layer.name}: no relevance reaches it`);
    const r = this.value(relevance);
    const activation = this.outputs.get(layer.name)!;
    const names = tapOutputs(layer.name);
    const dims: Dim[] = [BATCH, ...layer.outputShape];
    this.g.castOut(activation, names.activation, dims);
    this.g.castOut(r, names.relevance, dims);
    this.taps.set(layer.name, { activation, relevance: r, shape: layer.outputShape });
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

  private readonly materialized = new Map<string, string>();

  /** The summed relevance at a layer's output, or undefined if none reaches it. */
  private relevanceAt(layer: string): string | undefined {
    const parts = this.relevance.get(layer)?.map((r) => this.materialized.get(r) ?? r);
    if (!parts || parts.length === 0) return undefined;
    if (parts.length === 1) return parts[0];
    const sum = this.g.op(parts.length === 2 ? 'Add' : 'Sum', parts.map((r) => this.value(r)), `R:${layer}`);
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
      return r === undefined ? undefined : this.g.op('ReduceSum', [this.value(r), this.g.ints(this.axesOf(input))], `trace:${unit}:${input}`, { keepdims: 0 });
    }).filter((s): s is string => s !== undefined);
    if (sums.length === 0) return;
    this.traceNames.push(unit);
    this.traceSums.push(sums.length === 1 ? sums[0]! : this.g.op('Sum', sums, `trace:${unit}`));
  }

  private axesOf(layer: string): number[] {
    const rank = layerByName(this.graph, layer).outputShape.length;
    return Array.from({ length: rank }, (_, i) => i + 1);
  }

  private valueOrUndefined(r: string | undefined): string | undefined {
    return r === undefined ? undefined : this.value(r);
  }

  /** Sends the relevance `r` of a layer's output to its inputs, by the layer's rule. */
  private propagate(layer: Layer, lazy: string): void {
    const { g } = this;
    const inputs = layer.inputs;
    // Pass-throughs and linear rules take relevance kept as factors; everything else its value.
    const passes = (layer.kind === 'relu' && this.data(layer, 'relu').mask === 'none') || (layer.kind === 'batchNorm' && this.data(layer, 'batchNorm').propagate === 'pass');
    const linear = layer.kind === 'conv' || layer.kind === 'dense' || layer.kind === 'globalAvgPool' || (layer.kind === 'maxPool' && this.data(layer, 'maxPool').propagate === 'windows');
    const r = passes || linear ? lazy : this.value(lazy);
    switch (layer.kind) {
      case 'input':
        return;
      case 'zeroPad': {
        // Relevance of the padded positions is dropped.
        const [, h, w] = this.shapeOf(inputs[0]!);
        const [top, , left] = layer.pads;
        this.send(inputs[0]!, g.op('Slice', [r, g.ints([top, left]), g.ints([top + h!, left + w!]), g.ints([2, 3])], `R:${layer.name}:unpadded`));
        return;
      }
      case 'batchNorm': {
        const { propagate } = this.data(layer, 'batchNorm');
        this.send(inputs[0]!, propagate === 'pass' ? r : g.op('Mul', [r, this.batchNormScale(layer)], `R:${layer.name}:in`));
        return;
      }
      case 'relu': {
        const { mask } = this.data(layer, 'relu');
        if (mask === 'none') {
          this.send(inputs[0]!, r);
          return;
        }
        const active = g.op('Greater', [this.outputs.get(layer.name)!, g.scalar(0)], `${layer.name}/active`);
        const signal = mask === 'guided' ? g.op('Relu', [r], `${layer.name}/R_positive`) : r;
        this.send(inputs[0]!, g.op('Where', [active, signal, g.scalar(0)], `R:${layer.name}:in`));
        return;
      }
      case 'add': {
        const { split } = this.data(layer, 'add');
        const shares = emitSplit(g, split, layer.name, inputs.map((i) => this.outputs.get(i)!), r, this.zeroWhereZero.has(layer.name));
        inputs.forEach((input, k) => this.send(input, shares[k]!));
        return;
      }
      case 'maxPool': {
        const data = this.data(layer, 'maxPool');
        const inShape = this.shapeOf(inputs[0]!);
        if (data.propagate === 'argmax') {
          this.send(inputs[0]!, argmaxRouting(g, layer, this.outputs.get(inputs[0]!)!, inShape, r));
          return;
        }
        const ops = data.windows === 'same' ? windowSumOps(g, layer, inShape) : twoByTwoSumOps(g, layer, inShape, this.unpaddedOrigin(layer));
        this.send(inputs[0]!, this.linearRule(layer, r, ops, data.rule, data.weights));
        return;
      }
      case 'globalAvgPool': {
        const data = this.data(layer, 'globalAvgPool');
        this.send(inputs[0]!, this.linearRule(layer, r, globalSumOps(g, layer, this.shapeOf(inputs[0]!)), data.rule, data.weights));
        return;
      }
      case 'conv':
      case 'dense': {
        const ops = layer.kind === 'conv' ? convOps(g, layer, this.shapeOf(inputs[0]!)) : denseOps(g, layer);
        this.send(inputs[0]!, this.linearRule(layer, r, ops, this.data(layer, 'linear')));
        return;
      }
    }
  }

  /** The data of the rule the composite assigned to `layer`. */
  private data<K extends AssignedRule['kind']>(layer: Layer, kind: K): RuleData[K] {
    const assigned = this.rules.get(layer.name);
    if (!assigned || assigned.kind !== kind) throw new Error(`layer ${layer.name}: no ${kind} rule assigned`);
    return ruleData(kind, assigned.rule as never);
  }

  /**
   * The linear rule: z = Σ_k layer(in_k, W_k) (+b); s = R / stabilize(z) (or s = R without a
   * stabilizer); R_in = Σ_k in_k ⊙ layerᵀ(s, W_k), or Σ_k layerᵀ(s, W_k) for the adjoint reducer.
   */
  private linearRule(layer: Layer, r: string, ops: LinearOps, rule: LinearRule, weights: PoolWeights = 'ones'): string {
    const { g } = this;
    const activation = this.outputs.get(layer.inputs[0]!)!;
    const kernel = this.kernels.get(layer.name) ?? '';
    const termInputs = rule.terms.map((t) => this.termInput(layer, activation, t.input));
    const termKernels = rule.terms.map((t) => (kernel ? transformKernel(g, kernel, t.param, t.sign) : ''));
    // A pool's mean weights 1/n: z_mean + ε = (z_sum + n·ε)/n, and the adjoint's 1/n cancels the
    // division's n, so the rule runs on window sums with n·ε (and the gradient scales by 1/n).
    const n = weights === 'mean' ? ops.windowSize! : 1;
    const stabilizer = rule.stabilizer ?? { mode: this.config.stabilizer, epsilon: this.config.epsilon };

    let s: string;
    if (stabilizer.mode !== 'none') {
      const epsilon = stabilizer.epsilon * n;
      // When z ≥ 0 is guaranteed, z + ε·sign(z) is z + ε; that, and the additive z + ε, the op adds
      // for free as its bias.
      const plusEpsilon = stabilizer.mode === 'additive' || (!rule.bias && rule.terms.every((t) => this.nonNegativeTerm(layer, t, ops)));
      let bias = rule.bias ? this.biases.get(layer.name) : undefined;
      if (plusEpsilon) {
        const eps = g.floatTensor(`${layer.name}/epsilon`, new Float32Array(ops.outChannels).fill(epsilon), [ops.outChannels]);
        bias = bias ? g.op('Add', [bias, eps], `${layer.name}/bias+epsilon`) : eps;
      }
      const variable: string[] = [];
      const constant: string[] = [];
      rule.terms.forEach((t, k) => {
        const z = ops.apply(termInputs[k]!, termKernels[k]!, k === 0 ? bias : undefined);
        (t.input === 'activation' ? variable : constant).push(z);
      });
      // Terms of constant inputs (z_b's bound images, ones) are summed first, so onnxruntime folds them.
      if (constant.length > 0) variable.push(constant.length === 1 ? constant[0]! : g.op('Add', constant, `${layer.name}/z_bounds`));
      let z = variable.length === 1 ? variable[0]! : g.op('Sum', variable, `${layer.name}/z_total`);
      if (!plusEpsilon) {
        // z + ε·sign(z) with sign(0) = +1.
        const signedEpsilon = g.op('Where', [g.op('Less', [z, g.scalar(0)], `${layer.name}/z_neg`), g.scalar(-epsilon), g.scalar(epsilon)], `${layer.name}/eps_signed`);
        z = g.op('Add', [z, signedEpsilon], `${layer.name}/z_stab`);
      }
      const f = this.factors.get(r);
      s = f
        ? g.op('Mul', [f.c, g.op('Div', [f.a, z], `${layer.name}/a_over_z`)], `${layer.name}/s`)
        : g.op('Div', [r, z], `${layer.name}/s`);
    } else if (n !== 1) {
      s = g.op('Mul', [this.value(r), g.scalar(1 / n)], `${layer.name}/s_mean`);
    } else {
      s = this.value(r);
    }

    const c = ops.adjoint(s, termKernels);
    const parts = rule.terms.length === 1 ? [c] : g.opMulti('Split', [c], rule.terms.map((_, k) => `${layer.name}/c${k}`), { axis: 1 });
    if (rule.reducer === 'adjoint') {
      const sum = parts.length === 1 ? parts[0]! : g.op('Sum', parts, `${layer.name}/c_sum`);
      return ops.full ? ops.full(sum) : sum;
    }
    if (parts.length === 1) {
      if (!this.sharedQuotients) return g.op('Mul', [termInputs[0]!, c], `R:${layer.name}:in`);
      const key = g.uniqueName(`R:${layer.name}:in`);
      this.factors.set(key, { a: termInputs[0]!, c });
      return key;
    }
    const products = parts.map((part, k) => g.op('Mul', [termInputs[k]!, part], `${layer.name}/R_term${k}`));
    return g.op('Sum', products, `R:${layer.name}:in`);
  }

  /** Whether a term's contribution to z is ≥ 0 for sure: a non-negative input times non-negative weights. */
  private nonNegativeTerm(layer: Layer, t: RuleTerm, ops: LinearOps): boolean {
    const weights = ops.windowSize !== undefined || t.param.kind === 'positive' || t.param.kind === 'ones' || t.param.kind === 'square';
    const input = t.input === 'ones' || (t.input === 'activation' && this.nonNegative.has(layer.inputs[0]!));
    return t.sign === 1 && weights && input;
  }

  /** A term's input: the activation, or a constant image (z_b's bounds, ones) shaped like it. */
  private termInput(layer: Layer, activation: string, input: InputModifier): string {
    if (input === 'activation') return activation;
    return this.constantImage(layer.inputs[0]!, input, layer);
  }

  /**
   * A constant image at a layer's output: the bounds (per channel, at the model input only) or
   * ones; zero where a zero-padding layer added positions. Batch 1: it broadcasts.
   */
  private constantImage(layerName: string, which: Exclude<InputModifier, 'activation'>, user: Layer): string {
    const layer = layerByName(this.graph, layerName);
    if (layer.kind === 'zeroPad') {
      const p = layer.pads;
      return this.g.op('Pad', [this.constantImage(layer.inputs[0]!, which, user), this.g.ints([0, 0, p[0], p[2], 0, 0, p[1], p[3]])], `${which}/${layer.name}`, { mode: 'constant' });
    }
    const shape = layer.outputShape;
    const size = shape.reduce((a, b) => a * b, 1);
    if (which === 'ones') return this.g.floatTensor(`ones/${layer.name}`, new Float32Array(size).fill(1), [1, ...shape]);
    if (layer.kind !== 'input') throw new Error(`layer ${user.name}: the z_b rule needs input bounds, but its input ${layerName} is not the model input`);
    const [c, h, w] = shape as [number, number, number];
    // The user's bounds, else the model's own: pixel 0 and 255 through its preprocessing.
    const bounds = this.config.inputBounds ?? inputBounds(this.graph.inputDescription);
    const values = which === 'low' ? bounds.low : bounds.high;
    if (values.length !== c) throw new Error(`inputBounds: ${values.length} values for a ${c}-channel input`);
    const data = new Float32Array(c * h * w);
    for (let ch = 0; ch < c; ch++) data.fill(values[ch]!, ch * h * w, (ch + 1) * h * w);
    return this.g.floatTensor(`bounds/${which}`, data, [1, c, h, w]);
  }

  /** γ/√(var + ε) per channel as (C, 1, 1), computed in the graph's precision (folded at session creation). */
  private batchNormScale(layer: BatchNormLayer): string {
    const { g } = this;
    const params = this.weights.get(layer.name);
    const param = (name: string) => {
      const p = params?.[name];
      if (!p) throw new Error(`no weights for layer ${layer.name} (${name})`);
      return g.floatTensor(`${layer.name}/grad_${name}`, p.data, [p.data.length]);
    };
    // The forward op's epsilon is a float attribute: the same float32 value here.
    const sigma = g.op('Sqrt', [g.op('Add', [param('movingVariance'), g.scalar(Math.fround(layer.epsilon))], `${layer.name}/var+eps`)], `${layer.name}/sigma`);
    const scale = g.op('Div', [param('gamma'), sigma], `${layer.name}/scale`);
    return g.op('Unsqueeze', [scale, g.ints([1, 2])], `${layer.name}/scale_chw`);
  }

  /**
   * Where a max pool's unpadded input starts inside its input: after the padding of a zero-padding
   * layer feeding it (Keras), else at 0 (a pool's own padding is implicit). The 2×2/2 windows
   * there must give the pool's output size, as the official code's AvgPool2d(2) must.
   */
  private unpaddedOrigin(layer: MaxPoolLayer): [number, number] {
    const input = layerByName(this.graph, layer.inputs[0]!);
    const padded = input.kind === 'zeroPad';
    const [, h, w] = (padded ? this.shapeOf(input.inputs[0]!) : input.outputShape) as [number, number, number];
    const [, oh, ow] = layer.outputShape as [number, number, number];
    if (Math.floor(h / 2) !== oh || Math.floor(w / 2) !== ow) {
      throw new Error(`layer ${layer.name}: the avg2x2 rule's 2×2/2 windows over its unpadded ${h}×${w} input give ` +
        `${Math.floor(h / 2)}×${Math.floor(w / 2)}, but the max pool outputs ${oh}×${ow}`);
    }
    return padded ? [input.pads[0], input.pads[2]] : [0, 0];
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
