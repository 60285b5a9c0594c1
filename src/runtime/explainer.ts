/**
 * The platform-free model: a layer graph with its weights, compiled into one forward + LRP
 * ONNX graph and run by whatever {@link Runtime} the entry passes in (onnxruntime-node or
 * onnxruntime-web). The one implementation of predict and explain: the Node entry
 * (`LrpResNet`) and the browser entry (`resnet-lrp/web`) are built on it.
 */
import { compileExplainer, type ExplainerOptions } from '../lrp/compiler.js';
import { describeConfig, explainsPredictedOnly, resolveLrpOptions, type LrpConfig, type LrpOptions } from '../lrp/presets.js';
import type { ModelGraph } from '../model/graph.js';
import type { InputDescription } from '../model/input.js';
import { compileForwardModel, inputShape, outputUnits } from '../onnx/classifier.js';
import type { Precision } from '../onnx/graph-builder.js';
import type { ModelWeights } from '../weights/types.js';
import { explainerIdentity, type CachedExplainer, type ExplainerCacheUse } from './explainer-cache.js';
import { checkClassIndex, checkClassIndices, checkImage, checkInputKind, describeValue } from './input-checks.js';
import { argmax, BATCH_INPUT_NAMES, readOutputs, type RawOutputs } from './outputs.js';
import type { Runtime, RuntimeSession, RuntimeTensor, SessionOptions } from './platform.js';
import type { LrpBatchOptions, LrpCallOptions, LrpClassesOptions, LrpResult, ModelInfo, ModelInput, Prediction } from './types.js';

/** What {@link Explainer.create} builds a model from. */
export interface ExplainerSource {
  graph: ModelGraph;
  weights: ModelWeights;
  /** Where the weights came from (file name, URL). */
  label: string;
  format: ModelInfo['format'];
  rules?: LrpOptions;
  precision?: Precision;
  /** One name per class. */
  classNames: readonly string[];
  session?: SessionOptions;
  /** Where the compiled explainer is looked up first and kept (default: compiled every time). */
  cache?: ExplainerCacheUse;
}

/**
 * Checks a `precision` option before anything is read or compiled.
 *
 * @throws Error `precision must be "float32" or "float64", got "…"`.
 */
export function checkPrecision(precision: unknown): Precision {
  if (precision !== 'float32' && precision !== 'float64') throw new Error(`precision must be "float32" or "float64", got "${precision}"`);
  return precision;
}

/**
 * How the explainer for several classes per image is compiled: N·K targets from one forward
 * pass, the quotients a/z shared by the targets, and no trace (sums per target that only debug
 * output would read; its conservation error comes from the map).
 */
export const CLASSES_EXPLAINER: Readonly<ExplainerOptions> = { targetsPerImage: 'many', trace: false, sharedQuotients: true };

/** A ResNet with its compiled explainer on a given runtime. */
export class Explainer {
  private forwardSession?: Promise<RuntimeSession>;
  /** The explainer for several targets per image (compiled on first use, see {@link LrpClassesOptions}). */
  private classesSession?: Promise<RuntimeSession>;
  private disposed = false;

  private constructor(
    private readonly runtime: Runtime,
    readonly graph: ModelGraph,
    private readonly weights: ModelWeights,
    readonly config: LrpConfig,
    readonly traceNames: readonly string[],
    private readonly session: RuntimeSession,
    readonly info: ModelInfo,
    private readonly sessionOptions: SessionOptions,
    readonly classNames: readonly string[],
  ) {}

  /**
   * Compiles forward + LRP into one ONNX model and creates its session (or takes both from
   * `source.cache`).
   *
   * @throws Error for invalid rule options or precision, and for class names that do not fit
   *   the model's outputs.
   */
  static async create(runtime: Runtime, source: ExplainerSource): Promise<Explainer> {
    const config = resolveLrpOptions(source.rules);
    const precision = checkPrecision(source.precision ?? 'float32');
    const classes = outputUnits(source.graph);
    if (source.classNames.length !== classes) throw new Error(`${source.classNames.length} class names for a model with ${classes} classes`);
    const { session, traceNames } = await explainerSession(runtime, source, config, precision);
    const info: ModelInfo = {
      architecture: source.graph.name,
      weights: source.label,
      format: source.format,
      inputShape: inputShape(source.graph),
      input: source.graph.inputDescription,
      classes,
      precision,
      rules: describeConfig(config),
    };
    return new Explainer(runtime, source.graph, source.weights, config, traceNames, session, info, source.session ?? {}, source.classNames);
  }

  /** How images become this model's input. */
  get inputDescription(): InputDescription {
    return this.graph.inputDescription;
  }

  /** Logits, probabilities and predicted class, from a forward-only session (compiled on first use). */
  async predict(input: ModelInput): Promise<Prediction[]> {
    const { tensor, count } = this.inputTensor(input);
    this.forwardSession ??= this.runtime.createSession(compileForwardModel(this.graph, this.weights, this.info.precision), this.sessionOptions);
    const out = await (await this.forwardSession).run({ [BATCH_INPUT_NAMES.input]: tensor });
    const classes = this.info.classes;
    return Array.from({ length: count }, (_, i) => {
      const logits = (out.logits!.data as Float32Array).slice(i * classes, (i + 1) * classes);
      const probabilities = (out.probabilities!.data as Float32Array).slice(i * classes, (i + 1) * classes);
      return { classIndex: argmax(logits), logits, probabilities };
    });
  }

  /**
   * Explains one image: relevance of the target class at every input value. With
   * `classIndices` or `topK` ({@link LrpClassesOptions}): one result per class, all from one
   * forward pass.
   *
   * ```ts
   * const lrp = await model.computeLrp(input, { classIndex: 281, debug: true });
   * const top3 = await model.computeLrp(input, { topK: 3 });              // 3 results, highest logit first
   * const two = await model.computeLrp(input, { classIndices: [281, 5] });
   * ```
   *
   * @throws TypeError / RangeError naming the wrong argument (input, class index, `topK`);
   *   Error when the start rule explains the predicted class only and another is asked for.
   */
  computeLrp(input: ModelInput, options?: LrpCallOptions): Promise<LrpResult>;
  computeLrp(input: ModelInput, options: LrpClassesOptions): Promise<LrpResult[]>;
  /** For callers that pass either kind of options on (the Node entry, the worker): the result follows them. */
  computeLrp(input: ModelInput, options?: LrpCallOptions | LrpClassesOptions): Promise<LrpResult | LrpResult[]>;
  async computeLrp(input: ModelInput, options: LrpCallOptions | LrpClassesOptions = {}): Promise<LrpResult | LrpResult[]> {
    const batch = this.inputTensor(input);
    if (batch.count !== 1) throw new Error(`computeLrp takes one image, got a batch of ${batch.count}: use computeLrpBatch`);
    const several = options !== null && typeof options === 'object' && ('classIndices' in options || 'topK' in options);
    if (!several) {
      const [result] = await this.explain(batch, [(options as LrpCallOptions | undefined)?.classIndex], options?.debug ?? false);
      return result!;
    }
    const { classIndices, topK } = options as LrpClassesOptions;
    const targets = this.classTargets(classIndices, topK);
    this.classesSession ??= this.runtime.createSession(
      compileExplainer(this.graph, this.weights, this.config, this.info.precision, CLASSES_EXPLAINER).model,
      this.sessionOptions,
    );
    return this.run(await this.classesSession, batch.tensor, BigInt64Array.from(targets, BigInt), 1, targets.length, options.debug ?? false);
  }

  /** Explains a batch in one run; every image may have its own target class. */
  async computeLrpBatch(input: ModelInput | readonly Float32Array[], options: LrpBatchOptions = {}): Promise<LrpResult[]> {
    const batch = this.inputTensor(input);
    return this.explain(batch, checkClassIndices(options?.classIndices), options?.debug ?? false);
  }

  /**
   * A session of this model's forward pass with a relevance pass under other `rules` and extra
   * outputs (tapped layers, maps emitted by `options.extend`): what the gradient-based
   * attribution methods are built on. Same precision and session settings as the model; the
   * caller releases the session.
   */
  async createExplainerSession(rules: LrpOptions, options: ExplainerOptions = {}): Promise<RuntimeSession> {
    this.checkNotDisposed();
    const compiled = compileExplainer(this.graph, this.weights, resolveLrpOptions(rules), this.info.precision, options);
    return this.runtime.createSession(compiled.model, this.sessionOptions);
  }

  /** Releases the sessions. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.session.release();
    if (this.forwardSession) await (await this.forwardSession).release();
    if (this.classesSession) await (await this.classesSession).release();
  }

  /** The graph's targets for {@link LrpClassesOptions}: class indices, or −1…−K (the K highest logits). */
  private classTargets(classIndices: unknown, topK: unknown): number[] {
    if (classIndices !== undefined && topK !== undefined) throw new TypeError('give classIndices or topK, not both');
    if (topK !== undefined) {
      if (typeof topK !== 'number' || !Number.isInteger(topK) || topK < 1 || topK > this.info.classes) {
        throw new RangeError(`topK must be an integer in 1..${this.info.classes} (the model's classes), got ${describeValue(topK)}`);
      }
      if (topK > 1 && explainsPredictedOnly(this.config)) throw new Error(`start rule "${this.config.start}" explains the predicted class only: topK must be 1`);
      return Array.from({ length: topK }, (_, k) => -(k + 1));
    }
    const indices = checkClassIndices(classIndices);
    if (indices.length === 0) throw new RangeError('classIndices is empty: give at least one class');
    if (explainsPredictedOnly(this.config)) {
      throw new Error(`start rule "${this.config.start}" explains the predicted class only (as the official code does); to explain chosen classes use start: 'softmax'`);
    }
    return indices.map((c, k) => {
      if (c === undefined) throw new TypeError(`classIndices[${k}] is undefined: give a class index (or use topK)`);
      return checkClassIndex(c, this.info.classes, 0);
    });
  }

  /** One run of the single-target explainer on an already validated batch. */
  private async explain({ tensor, count }: { tensor: RuntimeTensor; count: number }, targets: readonly unknown[], debug: boolean): Promise<LrpResult[]> {
    if (targets.length > count) throw new Error(`${targets.length} class indices for ${count} images`);
    if (explainsPredictedOnly(this.config) && targets.some((t) => t !== undefined)) {
      throw new Error(`start rule "${this.config.start}" explains the predicted class only (as the official code does); to explain a chosen class use start: 'softmax'`);
    }
    const target = BigInt64Array.from({ length: count }, (_, i) => BigInt(checkClassIndex(targets[i], this.info.classes, i)));
    return this.run(this.session, tensor, target, count, 1, debug);
  }

  /** Runs an explainer on `count` images with `perImage` targets each (image-major). */
  private async run(session: RuntimeSession, tensor: RuntimeTensor, target: BigInt64Array, count: number, perImage: number, debug: boolean): Promise<LrpResult[]> {
    const out: RawOutputs = await session.run({
      [BATCH_INPUT_NAMES.input]: tensor,
      [BATCH_INPUT_NAMES.target]: this.runtime.int64(target, [target.length]),
    });
    // Only the single-target explainer computes the trace.
    const traceNames = session === this.session ? this.traceNames : [];
    return readOutputs(out, count * perImage, { ...this.info, layout: this.graph.inputDescription.layout }, traceNames, debug, perImage);
  }

  private checkNotDisposed(): void {
    if (this.disposed) throw new Error('this model was disposed (dispose() released its sessions): load a new one');
  }

  /** Validates the input and wraps it as a float32 tensor in the model's layout. */
  private inputTensor(input: ModelInput | readonly Float32Array[]): { tensor: RuntimeTensor; count: number } {
    this.checkNotDisposed();
    const { data, dims, count } = batchInput(input, this.graph.inputDescription, this.info.inputShape);
    return { tensor: this.runtime.float32(data, [count, ...dims]), count };
  }
}

/** The single-target explainer's session: from the cache when it has it, else compiled (and kept there). */
async function explainerSession(runtime: Runtime, source: ExplainerSource, config: LrpConfig, precision: Precision): Promise<CachedExplainer> {
  const compile = () => compileExplainer(source.graph, source.weights, config, precision);
  const options = source.session ?? {};
  if (!source.cache) {
    const compiled = compile();
    return { session: await runtime.createSession(compiled.model, options), traceNames: compiled.traceNames };
  }
  const { cache, modelKey } = source.cache;
  // Everything the compiled graph depends on; the store adds the runtime's side.
  const identity = explainerIdentity(modelKey, config, precision);
  return (await cache.load(identity, options)) ?? cache.store(identity, compile(), options);
}

/** Validates one image, an array of images or `{ data, shape }` against the model's input. */
function batchInput(
  input: ModelInput | readonly Float32Array[],
  description: InputDescription,
  [c, h, w]: readonly [number, number, number],
): { data: Float32Array; dims: number[]; count: number } {
  checkInputKind(input, 'input');
  const layout = description.layout;
  const dims = layout === 'NCHW' ? [c, h, w] : [h, w, c];
  const per = h * w * c;
  const what = `${layout}, preprocessed`;
  if (Array.isArray(input)) {
    const count = input.length;
    if (count === 0) throw new Error('empty batch: give at least one image');
    const data = new Float32Array(count * per);
    input.forEach((image, i) => data.set(checkImage(image, per, `image ${i}`, dims, what), i * per));
    return { data, dims, count };
  }
  if (input instanceof Float32Array || !('shape' in (input as object))) {
    return { data: checkImage(input as Float32Array, per, 'input', dims, what), dims, count: 1 };
  }
  const { data: d, shape } = input as { data: Float32Array; shape: readonly number[] };
  const given = shape.length === 3 ? [1, ...shape] : [...shape];
  if (given.length !== 4 || given.slice(1).join() !== dims.join()) {
    throw new Error(`input shape [${shape.join(', ')}] does not fit the model: expected [N, ${dims.join(', ')}] (${what})`);
  }
  const count = given[0]!;
  if (count < 1) throw new Error('empty batch: give at least one image');
  return { data: checkImage(d, count * per, 'input', given.slice(1), what), dims, count };
}
