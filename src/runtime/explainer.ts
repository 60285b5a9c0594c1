/**
 * The platform-free model: a model graph with its weights, compiled into one forward + LRP
 * ONNX graph and run by whatever {@link Runtime} the entry passes in (onnxruntime-node or
 * onnxruntime-web). The one implementation of predict and explain: the Node entry
 * (`LrpModel`) and the browser entry (`resnet-lrp/web`) are built on it.
 */
import { compileExplainer, type ExplainerOptions } from '../lrp/compiler.js';
import { describeConfig, explainsPredictedOnly, resolveLrpOptions, type LrpConfig, type LrpOptions } from '../lrp/presets.js';
import type { ModelGraph, ModelWeights } from '../graph/graph.js';
import type { InputDescription } from '../model/input.js';
import { compileForwardModel, inputShape, outputUnits } from '../onnx/classifier.js';
import type { Precision } from '../onnx/graph-builder.js';
import { checkClassIndex, checkClassIndices, checkImage, checkInputKind, checkInputSize, checkSessionOptions, describeValue, DEFAULT_MAX_INPUT_PIXELS } from './input-checks.js';
import { checkMemoryBudget, modelSize, perImageBytes, perTargetBytes, targetsPerRun } from './memory.js';
import { explainerIdentity, type CachedExplainer, type ExplainerCacheUse } from './explainer-cache.js';
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
  /**
   * Budget in bytes of the working memory of one run that grows with its targets (classes of
   * `computeLrp(…, { classIndices | topK })`, images of a batch); more targets run in several
   * runs with the same results. Default {@link DEFAULT_MEMORY_BUDGET} (1 GiB); see docs/limits.md.
   */
  memoryBudget?: number;
  /**
   * Largest model input accepted, in pixels (height × width): a file declaring a larger fixed
   * input is refused at load. Default {@link DEFAULT_MAX_INPUT_PIXELS}.
   */
  maxInputPixels?: number;
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

/** A model with its compiled explainer on a given runtime. */
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
    private readonly memoryBudget: number,
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
    const memoryBudget = checkMemoryBudget(source.memoryBudget);
    checkSessionOptions(source.session);
    const [channels, height, width] = inputShape(source.graph);
    checkInputSize({ height, width, channels }, source.maxInputPixels ?? DEFAULT_MAX_INPUT_PIXELS, source.label);
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
    return new Explainer(runtime, source.graph, source.weights, config, traceNames, session, info, source.session ?? {}, source.classNames, memoryBudget);
  }

  /** How images become this model's input. */
  get inputDescription(): InputDescription {
    return this.graph.inputDescription;
  }

  /**
   * Logits, probabilities and predicted class, from a forward-only session (compiled on first
   * use), in runs of at most {@link imagesPerRun} images.
   */
  async predict(input: ModelInput): Promise<Prediction[]> {
    const batch = this.inputImages(input);
    this.forwardSession ??= this.runtime.createSession(compileForwardModel(this.graph, this.weights, this.info.precision), this.sessionOptions);
    const session = await this.forwardSession;
    const classes = this.info.classes;
    const predictions: Prediction[] = [];
    for (const [start, end] of runs(batch.images.length, this.imagesPerRun)) {
      const out = await session.run({ [BATCH_INPUT_NAMES.input]: this.tensorOf(batch, start, end) });
      for (let i = 0; i < end - start; i++) {
        const logits = (out.logits!.data as Float32Array).slice(i * classes, (i + 1) * classes);
        const probabilities = (out.probabilities!.data as Float32Array).slice(i * classes, (i + 1) * classes);
        predictions.push({ classIndex: argmax(logits), logits, probabilities });
      }
    }
    return predictions;
  }

  /**
   * Explains one image: relevance of the target class at every input value. With
   * `classIndices` or `topK` ({@link LrpClassesOptions}): one result per class, from one
   * forward pass per run (a run takes as many classes as the memory budget allows, see
   * {@link classesPerRun}).
   *
   * ```ts
   * const lrp = await model.computeLrp(input, { classIndex: 281, debug: true });
   * const top3 = await model.computeLrp(input, { topK: 3 });              // 3 results, highest logit first
   * const two = await model.computeLrp(input, { classIndices: [281, 5] });
   * ```
   *
   * @throws TypeError / RangeError naming the wrong argument (input, class index, `topK`, a
   *   repeated class, `classIndex` together with `topK`/`classIndices`); Error when the start
   *   rule explains the predicted class only and another is asked for.
   */
  computeLrp(input: ModelInput, options?: LrpCallOptions): Promise<LrpResult>;
  computeLrp(input: ModelInput, options: LrpClassesOptions): Promise<LrpResult[]>;
  /** For callers that pass either kind of options on (the Node entry, the worker): the result follows them. */
  computeLrp(input: ModelInput, options?: LrpCallOptions | LrpClassesOptions): Promise<LrpResult | LrpResult[]>;
  async computeLrp(input: ModelInput, given: LrpCallOptions | LrpClassesOptions | null = {}): Promise<LrpResult | LrpResult[]> {
    const batch = this.inputImages(input);
    if (batch.images.length !== 1) throw new Error(`computeLrp takes one image, got a batch of ${batch.images.length}: use computeLrpBatch`);
    const options = given ?? {};
    if (typeof options !== 'object') {
      throw new TypeError(`computeLrp options must be an object ({ classIndex }, { classIndices } or { topK }), got ${describeValue(options)}`);
    }
    const several = 'classIndices' in options || 'topK' in options;
    if (!several) {
      const [result] = await this.explain(batch, [(options as LrpCallOptions).classIndex], options.debug ?? false);
      return result!;
    }
    const results: LrpResult[] = [];
    for await (const run of this.classRuns(batch, options as LrpClassesOptions)) results.push(...run);
    return results;
  }

  /**
   * The results of `computeLrp(input, { classIndices | topK })` run by run, each run's classes
   * as soon as it finished ({@link classesPerRun} at most): a caller that writes and drops them
   * explains any number of classes in bounded memory. Arguments are checked before the first run.
   *
   * @throws as {@link computeLrp}.
   */
  async *computeLrpRuns(input: ModelInput, options: LrpClassesOptions): AsyncGenerator<LrpResult[], void, undefined> {
    const batch = this.inputImages(input);
    if (batch.images.length !== 1) throw new Error(`computeLrpRuns takes one image, got a batch of ${batch.images.length}`);
    if (options === null || typeof options !== 'object' || !('classIndices' in options || 'topK' in options)) {
      throw new TypeError(`computeLrpRuns options must be { classIndices } or { topK }, got ${describeValue(options)}`);
    }
    yield* this.classRuns(batch, options);
  }

  /** The K-class runs of one validated image. */
  private async *classRuns(batch: ImageBatch, options: LrpClassesOptions): AsyncGenerator<LrpResult[], void, undefined> {
    if ('classIndex' in options && (options as LrpCallOptions).classIndex !== undefined) {
      throw new TypeError('give classIndex (one class) or classIndices / topK (several), not both');
    }
    const targets = this.classTargets(options.classIndices, options.topK);
    this.classesSession ??= this.runtime.createSession(
      compileExplainer(this.graph, this.weights, this.config, this.info.precision, CLASSES_EXPLAINER).model,
      this.sessionOptions,
    );
    const session = await this.classesSession;
    const tensor = this.tensorOf(batch, 0, 1);
    // Every run repeats the forward pass; the targets are independent, so the results are those of one run.
    for (const [start, end] of runs(targets.length, this.classesPerRun)) {
      const target = BigInt64Array.from(targets.slice(start, end), BigInt);
      yield await this.run(session, tensor, target, 1, end - start, options.debug ?? false);
    }
  }

  /**
   * Explains a batch; every image may have its own target class. A batch larger than the
   * memory budget allows ({@link imagesPerRun}) runs in several runs.
   */
  async computeLrpBatch(input: ModelInput | readonly Float32Array[], options: LrpBatchOptions = {}): Promise<LrpResult[]> {
    const batch = this.inputImages(input);
    return this.explain(batch, checkClassIndices(options?.classIndices), options?.debug ?? false);
  }

  /**
   * Classes per run of the K-class explainer: the memory budget over the estimated cost of one
   * class ({@link perTargetBytes}).
   */
  get classesPerRun(): number {
    return targetsPerRun(this.memoryBudget, perTargetBytes(modelSize(this.graph), this.info.precision));
  }

  /** Images per run of a batch: the memory budget over the estimated cost of one image ({@link perImageBytes}). */
  get imagesPerRun(): number {
    return targetsPerRun(this.memoryBudget, perImageBytes(modelSize(this.graph), this.info.precision));
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
    const seen = new Map<number, number>();
    return indices.map((c, k) => {
      if (c === undefined) throw new TypeError(`classIndices[${k}] is undefined: give a class index (or use topK)`);
      const index = checkClassIndex(c, this.info.classes, 0);
      const first = seen.get(index);
      if (first !== undefined) throw new RangeError(`classIndices lists class ${index} twice (at ${first} and ${k}): give each class once`);
      seen.set(index, k);
      return index;
    });
  }

  /** The single-target explainer on an already validated batch, in runs of at most {@link imagesPerRun} images. */
  private async explain(batch: ImageBatch, targets: readonly unknown[], debug: boolean): Promise<LrpResult[]> {
    const count = batch.images.length;
    if (targets.length > count) throw new Error(`${targets.length} class indices for ${count} images`);
    if (explainsPredictedOnly(this.config) && targets.some((t) => t !== undefined)) {
      throw new Error(`start rule "${this.config.start}" explains the predicted class only (as the official code does); to explain a chosen class use start: 'softmax'`);
    }
    const target = BigInt64Array.from({ length: count }, (_, i) => BigInt(checkClassIndex(targets[i], this.info.classes, i)));
    const results: LrpResult[] = [];
    for (const [start, end] of runs(count, this.imagesPerRun)) {
      results.push(...(await this.run(this.session, this.tensorOf(batch, start, end), target.slice(start, end), end - start, 1, debug)));
    }
    return results;
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

  /** Validates the input against the model's (every image, before anything runs). */
  private inputImages(input: ModelInput | readonly Float32Array[]): ImageBatch {
    this.checkNotDisposed();
    return batchInput(input, this.graph.inputDescription, this.info.inputShape);
  }

  /** Images `start`..`end` of a batch as one float32 tensor in the model's layout. */
  private tensorOf({ images, dims }: ImageBatch, start: number, end: number): RuntimeTensor {
    const per = dims[0]! * dims[1]! * dims[2]!;
    const first = images[start]!;
    let data: Float32Array;
    // One whole array is passed as it is; views into a larger one are copied.
    if (end - start === 1 && first.byteOffset === 0 && first.byteLength === first.buffer.byteLength) data = first;
    else {
      data = new Float32Array((end - start) * per);
      for (let i = start; i < end; i++) data.set(images[i]!, (i - start) * per);
    }
    return this.runtime.float32(data, [end - start, ...dims]);
  }
}

/** Validated images of a batch (views, not copies) and the dimensions of one. */
interface ImageBatch {
  images: Float32Array[];
  dims: [number, number, number];
}

/** `[start, end)` ranges of at most `size` of `count` items. */
function runs(count: number, size: number): [number, number][] {
  const out: [number, number][] = [];
  for (let start = 0; start < count; start += size) out.push([start, Math.min(count, start + size)]);
  return out;
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
function batchInput(input: ModelInput | readonly Float32Array[], description: InputDescription, [c, h, w]: readonly [number, number, number]): ImageBatch {
  checkInputKind(input, 'input');
  const layout = description.layout;
  const dims: [number, number, number] = layout === 'NCHW' ? [c, h, w] : [h, w, c];
  const per = h * w * c;
  const what = `${layout}, preprocessed`;
  if (Array.isArray(input)) {
    if (input.length === 0) throw new Error('empty batch: give at least one image');
    // The same array given many times is checked once.
    const checked = new Set<Float32Array>();
    const images = input.map((image, i) => {
      if (checked.has(image)) return image;
      checked.add(checkImage(image, per, `image ${i}`, dims, what));
      return image;
    });
    return { images, dims };
  }
  if (input instanceof Float32Array || !('shape' in (input as object))) {
    return { images: [checkImage(input as Float32Array, per, 'input', dims, what)], dims };
  }
  const { data: d, shape } = input as { data: Float32Array; shape: unknown };
  const given = checkShape(shape, dims, what);
  const count = given[0]!;
  if (count < 1) throw new Error('empty batch: give at least one image');
  const data = checkImage(d, count * per, 'input', given.slice(1), what);
  return { images: Array.from({ length: count }, (_, i) => data.subarray(i * per, (i + 1) * per)), dims };
}

/**
 * The `shape` of `{ data, shape }`: an array of 3 or 4 non-negative integers fitting the model.
 *
 * @throws TypeError for anything but an array of integers; Error when it does not fit.
 */
function checkShape(shape: unknown, dims: readonly number[], what: string): number[] {
  if (!Array.isArray(shape) || !shape.every((n) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0)) {
    const shown = Array.isArray(shape) ? `[${shape.map((n) => (typeof n === 'number' ? String(n) : describeValue(n))).join(', ')}]` : describeValue(shape);
    throw new TypeError(`input shape must be an array of integers ≥ 0, [N, ${dims.join(', ')}] (${what}), got ${shown}`);
  }
  const given = shape.length === 3 ? [1, ...shape] : [...shape];
  if (given.length !== 4 || given.slice(1).join() !== dims.join()) {
    throw new Error(`input shape [${shape.join(', ')}] does not fit the model: expected [N, ${dims.join(', ')}] (${what})`);
  }
  return given;
}
