/**
 * The library's main entry: a ResNet (a Keras `.h5` file, a torchvision model exported to
 * ONNX, or the ImageNet ResNet50) with its LRP explainer compiled and ready.
 *
 * ```ts
 * const model = await LrpResNet.load({ weights: 'resnet18.onnx' });
 * const image = await model.loadImage('cat.jpg');
 * const { attribution, classIndex } = await model.computeLrp(image.input);
 * ```
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { readRegularFile } from './image/read-file.js';
import { loadImage, type FitMode, type LoadedImage, type LoadImageOptions } from './image/load.js';
import type { ModelGraph } from './model/graph.js';
import { imageShape, type InputDescription, type InputLayout } from './model/input.js';
import { classNames } from './model/labels.js';
import { importOnnxResNet } from './model/onnx-import.js';
import { withMetadata } from './onnx/graph-builder.js';
import { buildResNet, kerasResNetSpec } from './model/resnet.js';
import { argmax, BATCH_INPUT_NAMES, readOutputs, type RawOutputs } from './runtime/outputs.js';
import { compileExplainer, type CompiledExplainer, type ExplainerOptions } from './lrp/compiler.js';
import { describeConfig, explainsPredictedOnly, resolveLrpOptions, type LrpConfig, type LrpOptions } from './lrp/presets.js';
import { compileForwardModel, inputShape, IO, outputUnits } from './onnx/classifier.js';
import type { Precision } from './onnx/graph-builder.js';
import { checkClassIndex, checkClassIndices, describeValue } from './runtime/input-checks.js';
import { batchInput } from './runtime/explainer.js';
import { createSession, ort, type SessionOptions } from './runtime/session.js';
import { bindWeights, checkKerasShapes, inferKerasResNet, type ClassifierHead } from './weights/bind.js';
import { ensureImageNetWeights } from './weights/download.js';
import { readKerasH5 } from './weights/keras-h5.js';
import { checkWeightValues } from './weights/finite.js';
import { isOnnxBytes, withInput } from './weights/from-bytes.js';
import { randomWeights } from './weights/random.js';
import type { ModelWeights } from './weights/types.js';

/** Where the weights come from. */
export type WeightsSource =
  /** The official Keras ImageNet file, from the cache or downloaded once (default). */
  | 'imagenet'
  /**
   * A Keras HDF5 file (weights-only or whole model) or an ONNX file (a torchvision-style
   * ResNet, e.g. from `torch.onnx.export`), as a path or its bytes; the format is detected.
   */
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
  /**
   * Changes to the model's input description (e.g. another `mean`/`std`, `resize` policy or
   * `size` for a dynamic-size ONNX input). Defaults: caffe for Keras files, torchvision's
   * ImageNet preprocessing for ONNX files. The layout is the file's and cannot change.
   */
  input?: Partial<Omit<InputDescription, 'layout'>>;
  /**
   * Class names, one per output (e.g. from `--labels file.json`). Default: the ImageNet names
   * for a 1000-class head, `class 0`, `class 1`, … otherwise.
   */
  labels?: readonly string[];
}

/**
 * One preprocessed image in the model's layout (Keras: H × W × C, BGR; ONNX: C × H × W,
 * RGB) or a batch with its shape ([N, …] in the same layout).
 */
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
  /**
   * Relevance per input value, in the model's layout and channel order: H × W × C (`HWC`,
   * BGR for Keras files) or C × H × W (`CHW`, RGB for torchvision ONNX files).
   */
  relevance: { data: Float32Array; shape: [number, number, number]; layout: 'HWC' | 'CHW' };
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

/**
 * Several classes of one image from one forward pass: the relevance pass is linear in the
 * start relevance, so the K targets run as one batch on the shared activations, z's and split
 * ratios. Give `classIndices` or `topK`.
 */
export interface LrpClassesOptions {
  /** The classes to explain, in the order of the results (repeats allowed). */
  classIndices?: readonly number[];
  /** The K classes with the highest logits, highest first (ties: lower index first). */
  topK?: number;
  /** The conservation error per class (no `trace`: this path does not compute the sums). */
  debug?: boolean;
}

export interface LrpBatchOptions {
  /** Class to explain per image; `undefined` entries (or a missing array) mean "predicted". */
  classIndices?: readonly (number | undefined)[];
  debug?: boolean;
}

/** What the loaded model is. */
export interface ModelInfo {
  /** e.g. `resnet50`, `resnet18`. */
  architecture: string;
  /** Where the weights came from (file path, `imagenet`, or `random(seed=…)`). */
  weights: string;
  /** The kind of file: a Keras HDF5 file, an ONNX file, or random weights. */
  format: 'keras' | 'onnx' | 'random';
  /** (C, H, W) of one image, whatever the layout. */
  inputShape: [number, number, number];
  /** How images become the input: layout, channel order, normalisation, size, resize policy. */
  input: InputDescription;
  classes: number;
  precision: Precision;
  /** The rule configuration in one line. */
  rules: string;
}

/** Options of {@link LrpResNet.exportExplainer}. */
export interface ExportOptions {
  /**
   * Fold the preprocessing into the file: its input is then `image`, uint8 RGB pixels
   * (N, H, W, 3) already fitted to the model's size, instead of the preprocessed `input`.
   */
  includePreprocessing?: boolean;
}

/** A ResNet with a compiled forward + LRP graph. */
export class LrpResNet {
  private forwardSession?: Promise<ort.InferenceSession>;
  /** The explainer for several targets per image (compiled on first use, see {@link LrpClassesOptions}). */
  private classesSession?: Promise<ort.InferenceSession>;
  private disposed = false;

  private constructor(
    readonly graph: ModelGraph,
    private readonly weights: ModelWeights,
    readonly config: LrpConfig,
    private readonly compiled: CompiledExplainer,
    private readonly session: ort.InferenceSession,
    readonly info: ModelInfo,
    private readonly sessionOptions: SessionOptions,
    /** One name per class (ImageNet names, the `labels` option, or `class <i>`). */
    readonly classNames: readonly string[],
  ) {}

  /**
   * Loads weights, builds the graph they fit, compiles forward + LRP into one ONNX model
   * and creates its onnxruntime session.
   *
   * @throws Error naming the weight file, layer and shapes when the weights do not fit, and
   *   for invalid rule options.
   */
  static async load(options: LoadOptions = {}): Promise<LrpResNet> {
    const config = resolveLrpOptions(options.rules);
    const precision = options.precision ?? 'float32';
    if (precision !== 'float32' && precision !== 'float64') throw new Error(`precision must be "float32" or "float64", got "${precision}"`);
    const { graph, weights, label, format } = await loadWeights(options);
    const classes = outputUnits(graph);
    const names = classNames(classes, options.labels);
    const compiled = compileExplainer(graph, weights, config, precision);
    const session = await createSession(compiled.model, options.session);
    const info: ModelInfo = {
      architecture: graph.name,
      weights: label,
      format,
      inputShape: inputShape(graph),
      input: graph.inputDescription,
      classes,
      precision,
      rules: describeConfig(config),
    };
    return new LrpResNet(graph, weights, config, compiled, session, info, options.session ?? {}, names);
  }

  /** How images become this model's input (one source of truth for loader, z_b bounds and "black"). */
  get inputDescription(): InputDescription {
    return this.graph.inputDescription;
  }

  /**
   * Decodes an image and preprocesses it for this model (its size, resize policy, channel
   * order, normalisation and layout); `fit` overrides the description's resize policy, and the
   * limits of {@link loadImage} (`maxPixels`, `maxBytes`) apply.
   */
  loadImage(source: string | Uint8Array, options: Pick<LoadImageOptions, 'fit' | 'maxPixels' | 'maxBytes'> = {}): Promise<LoadedImage> {
    return loadImage(source, { ...options, input: this.graph.inputDescription });
  }

  /**
   * The explainer as one standalone ONNX file: inputs `input` (or `image`, see
   * {@link ExportOptions.includePreprocessing}) and `target` (int64, N·K: K classes per image,
   * image-major; −1 = the predicted class, −k = the k-th highest logit; K > 1 needs N = 1);
   * outputs `logits`, `probabilities` (per image), `explained_class`, `start_relevance`,
   * `relevance`, `attribution`, `trace` (per target); dynamic batch. Its
   * `metadata_props` say the rules, the preprocessing, the layouts, the trace names and the
   * class names. Any onnxruntime runs it, without this library.
   */
  exportExplainer(options: ExportOptions = {}): Uint8Array {
    const preprocessing = options.includePreprocessing ?? false;
    // Targets N·K: the file explains K classes per image from one forward pass, as computeLrp does.
    const model = compileExplainer(this.graph, this.weights, this.config, this.info.precision, { includePreprocessing: preprocessing, targetsPerImage: 'many' }).model;
    return withMetadata(model, this.exportMetadata(preprocessing), `resnet-lrp explainer of ${this.info.architecture} (${this.info.weights}): ${this.info.rules}`);
  }

  private exportMetadata(preprocessing: boolean): Record<string, string> {
    const desc = this.graph.inputDescription;
    const [c, h, w] = this.info.inputShape;
    const dims = desc.layout === 'NCHW' ? `N×${c}×${h}×${w}` : `N×${h}×${w}×${c}`;
    const inputs = {
      ...(preprocessing
        ? { [IO.rgbImage]: `uint8 N×${h}×${w}×3, RGB pixels 0..255 already fitted to ${h}×${w} (${describeResize(desc)})` }
        : { [IO.input]: `float32 ${dims} (${desc.layout}, ${desc.channelOrder}), (pixel·${desc.scale} − mean) / std per channel` }),
      [IO.target]: 'int64 N·K: K classes to explain per image, image-major; −1 = the predicted class, −k = the k-th highest logit; K > 1 needs N = 1',
    };
    const outputs = {
      [IO.logits]: `float32 N×${this.info.classes}`,
      [IO.probabilities]: `float32 N×${this.info.classes}: softmax of the logits`,
      [IO.explainedClass]: 'int64 N·K: the class whose relevance was propagated, per target',
      [IO.startRelevance]: 'float32 N·K: the relevance that class started with',
      [IO.relevance]: `float32 ${dims.replace(/^N/, 'N·K')}: relevance of every model input value (${desc.layout}, ${desc.channelOrder}), per target`,
      [IO.attribution]: `float32 N·K×${h}×${w}: relevance summed over channels, per target`,
      [IO.trace]: `float32 N·K×${this.traceNames.length}: relevance sums from the start down to the input (names: trace_names)`,
    };
    return {
      producer: 'resnet-lrp',
      architecture: this.info.architecture,
      weights: this.info.weights,
      precision: this.info.precision,
      rules: this.info.rules,
      lrp_config: JSON.stringify(this.config),
      preprocessing: JSON.stringify(desc),
      preprocessing_included: String(preprocessing),
      inputs: JSON.stringify(inputs),
      outputs: JSON.stringify(outputs),
      trace_names: JSON.stringify(this.traceNames),
      class_names: JSON.stringify(this.classNames),
    };
  }

  /**
   * A session of this model's forward pass with a relevance pass under other `rules` and extra
   * outputs (tapped layers, maps emitted by `options.extend`): what the gradient-based
   * attribution methods (saliency, Integrated Gradients, Grad-CAM) are built on. Same
   * precision and session settings as the model; the caller releases the session.
   */
  async createExplainerSession(rules: LrpOptions, options: ExplainerOptions = {}): Promise<ort.InferenceSession> {
    if (this.disposed) throw new Error('this model was disposed (dispose() released its sessions): load a new one');
    const compiled = compileExplainer(this.graph, this.weights, resolveLrpOptions(rules), this.info.precision, options);
    return createSession(compiled.model, this.sessionOptions);
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

  /**
   * Explains one image: relevance of the target class at every input value. With
   * `classIndices` or `topK` ({@link LrpClassesOptions}): one result per class, all from one
   * forward pass.
   */
  computeLrp(input: ModelInput, options?: LrpCallOptions): Promise<LrpResult>;
  computeLrp(input: ModelInput, options: LrpClassesOptions): Promise<LrpResult[]>;
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
    this.classesSession ??= createSession(
      // Without the trace: sums per target that only debug output reads (its conservation error comes from the map).
      compileExplainer(this.graph, this.weights, this.config, this.info.precision, { targetsPerImage: 'many', trace: false, sharedQuotients: true }).model,
      this.sessionOptions,
    );
    return this.run(await this.classesSession, batch.tensor, BigInt64Array.from(targets, BigInt), 1, targets.length, options.debug ?? false);
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

  /** Explains a batch in one run; every image may have its own target class. */
  async computeLrpBatch(input: ModelInput | readonly Float32Array[], options: LrpBatchOptions = {}): Promise<LrpResult[]> {
    const batch = this.inputTensor(input);
    return this.explain(batch, checkClassIndices(options?.classIndices), options?.debug ?? false);
  }

  /** One run of the explainer on an already validated batch. */
  private async explain({ tensor, count }: { tensor: ort.Tensor; count: number }, targets: readonly unknown[], debug: boolean): Promise<LrpResult[]> {
    if (targets.length > count) throw new Error(`${targets.length} class indices for ${count} images`);
    if (explainsPredictedOnly(this.config) && targets.some((t) => t !== undefined)) {
      throw new Error(`start rule "${this.config.start}" explains the predicted class only (as the official code does); to explain a chosen class use start: 'softmax'`);
    }
    const target = BigInt64Array.from({ length: count }, (_, i) => BigInt(this.checkClass(targets[i], i)));
    return this.run(this.session, tensor, target, count, 1, debug);
  }

  /** Runs an explainer on `count` images with `perImage` targets each (image-major). */
  private async run(session: ort.InferenceSession, tensor: ort.Tensor, target: BigInt64Array, count: number, perImage: number, debug: boolean): Promise<LrpResult[]> {
    const out = (await session.run({
      [BATCH_INPUT_NAMES.input]: tensor,
      [BATCH_INPUT_NAMES.target]: new ort.Tensor('int64', target, [target.length]),
    })) as RawOutputs;
    const traceNames = session === this.session ? this.compiled.traceNames : [];
    return readOutputs(out, count * perImage, { ...this.info, layout: this.graph.inputDescription.layout }, traceNames, debug, perImage);
  }

  /** Releases the onnxruntime sessions. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.session.release();
    if (this.forwardSession) await (await this.forwardSession).release();
    if (this.classesSession) await (await this.classesSession).release();
  }

  private checkClass(classIndex: unknown, image: number): number {
    return checkClassIndex(classIndex, this.info.classes, image);
  }

  /** Validates the input and wraps it as a float32 tensor in the model's layout. */
  private inputTensor(input: ModelInput | readonly Float32Array[]): { tensor: ort.Tensor; count: number } {
    if (this.disposed) throw new Error('this model was disposed (dispose() released its sessions): load a new one');
    const { data, dims, count } = batchInput(input, this.graph.inputDescription, this.info.inputShape);
    return { tensor: new ort.Tensor('float32', data, [count, ...dims]), count };
  }
}

/** The former name, from when only Keras ResNet50 files were read; the same class. */
export const LrpResNet50 = LrpResNet;
/** The former name of {@link LrpResNet}. */
export type LrpResNet50 = LrpResNet;

function describeResize(desc: InputDescription): string {
  return desc.resize.fit === 'resize' ? 'stretched' : `shorter side to ${desc.resize.resizeTo ?? desc.size}, centre crop`;
}

/** Largest ONNX file read (2 GiB is protobuf's own limit for one message). */
const MAX_ONNX_BYTES = 2 ** 31 - 1;

async function loadWeights(options: LoadOptions): Promise<{ graph: ModelGraph; weights: ModelWeights; label: string; format: ModelInfo['format'] }> {
  const source = options.weights === undefined ? 'imagenet' : options.weights;
  if (source === null) {
    const seed = options.seed ?? 0;
    const graph = withInput(buildResNet(kerasResNetSpec(50)), options.input);
    return { graph, weights: randomWeights(graph, seed), label: `random(seed=${seed})`, format: 'random' };
  }
  let path: string | Uint8Array = source;
  if (source === 'imagenet') {
    path = await ensureImageNetWeights({ cacheDir: options.cacheDir, onProgress: options.onDownloadProgress });
  }
  if (await isOnnx(path)) {
    const bytes = typeof path === 'string' ? await readRegularFile(path, MAX_ONNX_BYTES) : path;
    const label = typeof path === 'string' ? path : '<onnx bytes>';
    const imported = importOnnxResNet(bytes, { source: label, ...(options.input ? { input: options.input } : {}) });
    checkWeightValues(imported.weights, label);
    return { graph: imported.graph, weights: imported.weights, label, format: 'onnx' };
  }
  // Declared shapes are checked against the model before any value is read (no allocation
  // for a file that declares gigabytes).
  const file = await readKerasH5(path, undefined, { checkShapes: checkKerasShapes(options.head ? { head: options.head } : {}) });
  const arch = inferKerasResNet(file);
  const classes = arch.classes ?? (options.head ? options.head.kernel.shape[1] : undefined);
  const graph = withInput(buildResNet(kerasResNetSpec(arch.depth, { baseWidth: arch.baseWidth, ...(classes ? { classes } : {}) })), options.input);
  const weights = bindWeights(graph, file, options.head ? { head: options.head } : {});
  return { graph, weights, label: typeof source === 'string' ? source : file.source, format: 'keras' };
}

/** ONNX unless the bytes are HDF5 (a `.onnx` name alone decides for paths). */
async function isOnnx(source: string | Uint8Array): Promise<boolean> {
  if (typeof source === 'string') {
    if (/\.onnx$/i.test(source)) return true;
    if (/\.(h5|hdf5|keras)$/i.test(source)) return false;
    // O_NONBLOCK: a FIFO must not block here; the readers refuse what is not a regular file.
    const file = await open(source, constants.O_RDONLY | constants.O_NONBLOCK).catch(() => undefined);
    if (!file) return false; // the Keras reader reports the missing file
    try {
      if (!(await file.stat()).isFile()) return false;
      const head = new Uint8Array(8);
      const { bytesRead } = await file.read(head, 0, 8, 0);
      return isOnnxBytes(head.subarray(0, bytesRead));
    } finally {
      await file.close();
    }
  }
  return isOnnxBytes(source);
}
