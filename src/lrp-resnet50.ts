/**
 * The library's main entry: a Keras ResNet50 with its LRP explainer compiled and ready.
 *
 * ```ts
 * const model = await LrpResNet50.load({ weights: 'weights.h5' });
 * const { attribution, classIndex } = await model.computeLrp(input);
 * ```
 */
import type { ModelGraph } from './model/graph.js';
import { buildResNet, kerasResNetSpec } from './model/resnet.js';
import { argmax, BATCH_INPUT_NAMES, readOutputs, type RawOutputs } from './runtime/outputs.js';
import { compileExplainer, type CompiledExplainer } from './lrp/compiler.js';
import { describeConfig, resolveLrpOptions, type LrpConfig, type LrpOptions } from './lrp/presets.js';
import { compileForwardModel, inputShape, outputUnits } from './onnx/classifier.js';
import type { Precision } from './onnx/graph-builder.js';
import { checkClassIndex, checkClassIndices, checkImage, checkInputKind } from './runtime/input-checks.js';
import { createSession, ort, type SessionOptions } from './runtime/session.js';
import { bindWeights, checkKerasShapes, inferKerasResNet, type ClassifierHead } from './weights/bind.js';
import { ensureImageNetWeights } from './weights/download.js';
import { readKerasH5 } from './weights/keras-h5.js';
import { randomWeights } from './weights/random.js';
import type { ModelWeights } from './weights/types.js';

/** Where the weights come from. */
export type WeightsSource =
  /** The official Keras ImageNet file, from the cache or downloaded once (default). */
  | 'imagenet'
  /** A Keras HDF5 file (weights-only or whole model), as a path or its bytes. */
  | string
  | Uint8Array
  /** Seeded random weights: for tests and benchmarks, not for explanations. */
  | null;

export interface LoadOptions {
  /** Default `'imagenet'`. */
  weights?: WeightsSource;
  /** LRP rule choices on top of a preset (default: the paper's method, see `PRESETS`). */
  rules?: LrpOptions;
  /** Classifier for weight files saved without one (`include_top=False`). */
  head?: ClassifierHead;
  /**
   * Arithmetic inside the graph. `float32` (default) is fast and matches the float64
   * reference to ~1e-6 for the default rules; `float64` is slower but needed where rules
   * are ill-conditioned (e.g. gamma with large γ, whose denominators can nearly cancel).
   */
  precision?: Precision;
  /** Seed of the random weights when `weights: null`. */
  seed?: number;
  /** onnxruntime settings (threads, optimization level). */
  session?: SessionOptions;
  /** Cache directory for `'imagenet'` weights (default: `$RESNET_LRP_CACHE`, then XDG). */
  cacheDir?: string;
  /** Download progress for `'imagenet'` weights when not cached yet. */
  onDownloadProgress?: (progress: { received: number; total?: number }) => void;
}

/** One preprocessed image (H × W × C, model channel order) or a batch with its shape. */
export type ModelInput = Float32Array | { data: Float32Array; shape: readonly number[] };

export interface Prediction {
  /** Index of the highest-scoring class. */
  classIndex: number;
  logits: Float32Array;
  probabilities: Float32Array;
}

export interface LrpResult extends Prediction {
  /** The class whose relevance was propagated (the predicted one unless requested). */
  targetClass: number;
  /** Relevance the target started with (its logit, or its probability with `start: 'softmax'`). */
  startRelevance: number;
  /** Relevance summed over channels: H × W, row-major. */
  attribution: { data: Float32Array; shape: [number, number] };
  /** Relevance per input value: H × W × C, model channel order (BGR for Keras). */
  relevance: { data: Float32Array; shape: [number, number, number] };
  /** With `debug`: relevance sum after each traced layer or block, from the output down. */
  trace?: { name: string; sum: number }[];
  /** With `debug`: |Σ R_input − R_start| / |R_start|. */
  conservationError?: number;
}

export interface LrpCallOptions {
  /** Class to explain (default: the predicted class). */
  classIndex?: number;
  /** Also return the relevance trace and the conservation error. */
  debug?: boolean;
}

export interface LrpBatchOptions {
  /** Class to explain per image; `undefined` entries (or a missing array) mean "predicted". */
  classIndices?: readonly (number | undefined)[];
  debug?: boolean;
}

/** What the loaded model is. */
export interface ModelInfo {
  architecture: string;
  /** Where the weights came from (file path, `imagenet`, or `random(seed=…)`). */
  weights: string;
  inputShape: [number, number, number];
  classes: number;
  precision: Precision;
  /** The rule configuration in one line. */
  rules: string;
}

/** A Keras ResNet50 with a compiled forward + LRP graph. */
export class LrpResNet50 {
  private forwardSession?: Promise<ort.InferenceSession>;
  private disposed = false;

  private constructor(
    readonly graph: ModelGraph,
    private readonly weights: ModelWeights,
    readonly config: LrpConfig,
    private readonly compiled: CompiledExplainer,
    private readonly session: ort.InferenceSession,
    readonly info: ModelInfo,
    private readonly sessionOptions: SessionOptions,
  ) {}

  /**
   * Loads weights, builds the graph they fit, compiles forward + LRP into one ONNX model
   * and creates its onnxruntime session.
   *
   * @throws Error naming the weight file, layer and shapes when the weights do not fit, and
   *   for invalid rule options.
   */
  static async load(options: LoadOptions = {}): Promise<LrpResNet50> {
    const config = resolveLrpOptions(options.rules);
    const precision = options.precision ?? 'float32';
    if (precision !== 'float32' && precision !== 'float64') throw new Error(`precision must be "float32" or "float64", got "${precision}"`);
    const { graph, weights, label } = await loadWeights(options);
    const compiled = compileExplainer(graph, weights, config, precision);
    const session = await createSession(compiled.model, options.session);
    const info: ModelInfo = {
      architecture: graph.name,
      weights: label,
      inputShape: inputShape(graph),
      classes: outputUnits(graph),
      precision,
      rules: describeConfig(config),
    };
    return new LrpResNet50(graph, weights, config, compiled, session, info, options.session ?? {});
  }

  /** Names of the relevance trace entries, in order. */
  get traceNames(): readonly string[] {
    return this.compiled.traceNames;
  }

  /** Logits, probabilities and predicted class, from a forward-only session (compiled on first use). */
  async predict(input: ModelInput): Promise<Prediction[]> {
    const { tensor, count } = this.inputTensor(input);
    this.forwardSession ??= createSession(compileForwardModel(this.graph, this.weights, this.info.precision), this.sessionOptions);
    const session = await this.forwardSession;
    const out = await session.run({ [BATCH_INPUT_NAMES.input]: tensor });
    const classes = this.info.classes;
    return Array.from({ length: count }, (_, i) => {
      const logits = (out.logits!.data as Float32Array).slice(i * classes, (i + 1) * classes);
      const probabilities = (out.probabilities!.data as Float32Array).slice(i * classes, (i + 1) * classes);
      return { classIndex: argmax(logits), logits, probabilities };
    });
  }

  /** Explains one image: relevance of the target class at every input value. */
  async computeLrp(input: ModelInput, options: LrpCallOptions = {}): Promise<LrpResult> {
    const batch = this.inputTensor(input);
    if (batch.count !== 1) throw new Error(`computeLrp takes one image, got a batch of ${batch.count}: use computeLrpBatch`);
    const [result] = await this.explain(batch, [options.classIndex], options.debug ?? false);
    return result!;
  }

  /** Explains a batch in one run; every image may have its own target class. */
  async computeLrpBatch(input: ModelInput | readonly Float32Array[], options: LrpBatchOptions = {}): Promise<LrpResult[]> {
    const batch = this.inputTensor(input);
    return this.explain(batch, checkClassIndices(options?.classIndices), options?.debug ?? false);
  }

  /** One run of the explainer on an already validated batch. */
  private async explain({ tensor, count }: { tensor: ort.Tensor; count: number }, targets: readonly unknown[], debug: boolean): Promise<LrpResult[]> {
    if (targets.length > count) throw new Error(`${targets.length} class indices for ${count} images`);
    const target = BigInt64Array.from({ length: count }, (_, i) => BigInt(this.checkClass(targets[i], i)));
    const out = (await this.session.run({
      [BATCH_INPUT_NAMES.input]: tensor,
      [BATCH_INPUT_NAMES.target]: new ort.Tensor('int64', target, [count]),
    })) as RawOutputs;
    return readOutputs(out, count, this.info, this.compiled.traceNames, debug);
  }

  /** Releases the onnxruntime sessions. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.session.release();
    if (this.forwardSession) await (await this.forwardSession).release();
  }

  private checkClass(classIndex: unknown, image: number): number {
    return checkClassIndex(classIndex, this.info.classes, image);
  }

  /** Validates the input and wraps it as an (N, H, W, C) float32 tensor. */
  private inputTensor(input: ModelInput | readonly Float32Array[]): { tensor: ort.Tensor; count: number } {
    if (this.disposed) throw new Error('this model was disposed (dispose() released its sessions): load a new one');
    checkInputKind(input, 'input');
    const [c, h, w] = this.info.inputShape;
    const per = h * w * c;
    let data: Float32Array;
    let count: number;
    if (Array.isArray(input)) {
      count = input.length;
      if (count === 0) throw new Error('empty batch: give at least one image');
      data = new Float32Array(count * per);
      input.forEach((image, i) => data.set(checkImage(image, per, `image ${i}`, [h, w, c]), i * per));
    } else if (input instanceof Float32Array || !('shape' in (input as object))) {
      data = checkImage(input as Float32Array, per, 'input', [h, w, c]);
      count = 1;
    } else {
      const { data: d, shape } = input as { data: Float32Array; shape: readonly number[] };
      const dims = shape.length === 3 ? [1, ...shape] : [...shape];
      if (dims.length !== 4 || dims[1] !== h || dims[2] !== w || dims[3] !== c) {
        throw new Error(`input shape [${shape.join(', ')}] does not fit the model: expected [N, ${h}, ${w}, ${c}] (NHWC, preprocessed)`);
      }
      count = dims[0]!;
      if (count < 1) throw new Error('empty batch: give at least one image');
      data = checkImage(d, count * per, 'input', dims.slice(1));
    }
    return { tensor: new ort.Tensor('float32', data, [count, h, w, c]), count };
  }
}

async function loadWeights(options: LoadOptions): Promise<{ graph: ModelGraph; weights: ModelWeights; label: string }> {
  const source = options.weights === undefined ? 'imagenet' : options.weights;
  if (source === null) {
    const seed = options.seed ?? 0;
    const graph = buildResNet(kerasResNetSpec(50));
    return { graph, weights: randomWeights(graph, seed), label: `random(seed=${seed})` };
  }
  let path: string | Uint8Array = source;
  if (source === 'imagenet') {
    path = await ensureImageNetWeights({ cacheDir: options.cacheDir, onProgress: options.onDownloadProgress });
  }
  // Declared shapes are checked against the model before any value is read (no allocation
  // for a file that declares gigabytes).
  const file = await readKerasH5(path, undefined, { checkShapes: checkKerasShapes(options.head ? { head: options.head } : {}) });
  const arch = inferKerasResNet(file);
  const classes = arch.classes ?? (options.head ? options.head.kernel.shape[1] : undefined);
  const graph = buildResNet(kerasResNetSpec(arch.depth, { baseWidth: arch.baseWidth, ...(classes ? { classes } : {}) }));
  const weights = bindWeights(graph, file, options.head ? { head: options.head } : {});
  return { graph, weights, label: typeof source === 'string' ? source : file.source };
}
