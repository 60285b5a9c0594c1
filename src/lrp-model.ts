/**
 * The library's main entry: an image classifier (any CNN in an ONNX file, a Keras ResNet `.h5`
 * file, or the ImageNet ResNet50) with its LRP explainer compiled and ready.
 *
 * ```ts
 * const model = await LrpModel.load({ weights: 'mobilenet_v2.onnx' });
 * const image = await model.loadImage('cat.jpg');
 * const { attribution, classIndex } = await model.computeLrp(image.input);
 * ```
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { readRegularFile } from './image/read-file.js';
import { loadImage, type LoadedImage, type LoadImageOptions } from './image/load.js';
import { compileExplainer, type ExplainerOptions } from './lrp/compiler.js';
import { resolveLrpOptions, type LrpConfig, type LrpOptions } from './lrp/presets.js';
import type { ModelGraph, ModelWeights } from './graph/graph.js';
import { importOnnx } from './import/onnx.js';
import { checkInputChanges, type InputDescription } from './model/input.js';
import { classNames, companionLabels } from './model/labels.js';
import { buildResNet, kerasResNetSpec } from './model/resnet.js';
import { IO, outputUnits } from './onnx/classifier.js';
import { withMetadata, type Precision } from './onnx/graph-builder.js';
import { checkPrecision, Explainer } from './runtime/explainer.js';
import { checkSessionOptions, describeValue } from './runtime/input-checks.js';
import { checkMemoryBudget } from './runtime/memory.js';
import { explainerIdentity } from './runtime/explainer-cache.js';
import { cacheDisabledByEnv, compileCacheDir, FileExplainerCache, type CompileCacheOptions } from './runtime/file-explainer-cache.js';
import { nodeRuntime, ort, type SessionOptions } from './runtime/session.js';
import type { LrpBatchOptions, LrpCallOptions, LrpClassesOptions, LrpResult, ModelInfo, ModelInput, Prediction } from './runtime/types.js';
import { checkKerasShapes, type ClassifierHead } from './weights/bind.js';
import { ensureImageNetWeights } from './weights/download.js';
import { isOnnxBytes, modelFromKerasFile, withInput } from './weights/from-bytes.js';
import { readKerasH5 } from './weights/keras-h5.js';
import { randomModel } from './weights/random.js';

export type { LrpBatchOptions, LrpCallOptions, LrpClassesOptions, LrpResult, ModelInfo, ModelInput, Prediction } from './runtime/types.js';

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
   * Class names, one per output (e.g. from `--labels file.json`). Default: those of
   * `<model>.labels.json` beside a model file given by path, else the ImageNet names for a
   * 1000-class head, `class 0`, `class 1`, … otherwise.
   */
  labels?: readonly string[];
  /**
   * Budget in bytes of one run's working memory that grows with its targets (the classes of
   * `computeLrp(…, { classIndices | topK })`, the images of a batch): more targets run in
   * several runs with the same results. Default 1 GiB (`DEFAULT_MEMORY_BUDGET`; docs/limits.md).
   */
  memoryBudget?: number;
  /**
   * Largest model input in pixels (height × width): a file declaring a larger fixed input is
   * refused at load, naming the file. Default 4096² (`DEFAULT_MAX_INPUT_PIXELS`).
   */
  maxInputPixels?: number;
  /**
   * The compile cache (docs/cache.md): the compiled and optimised explainer is kept under
   * `compiled/` in the cache directory, keyed by the model file's content, the rules, the
   * precision and the onnxruntime version, and read instead of compiling on the next load.
   * Default on (`true`), unless `$RESNET_LRP_NO_CACHE` is set; `false` turns it off; an object
   * sets its directory and size bound. Random weights (`weights: null`) are never cached.
   */
  compileCache?: boolean | CompileCacheOptions;
}

/** Options of {@link LrpModel.exportExplainer}. */
export interface ExportOptions {
  /**
   * Fold the preprocessing into the file: its input is then `image`, uint8 RGB pixels
   * (N, H, W, 3) already fitted to the model's size, instead of the preprocessed `input`.
   */
  includePreprocessing?: boolean;
}

/**
 * A model with a compiled forward + LRP graph: the Node layer over the platform-free
 * {@link Explainer} (which predicts and explains, here on onnxruntime-node), adding weight
 * files, the ImageNet download, image files and the standalone export.
 */
export class LrpModel {
  private constructor(
    private readonly explainer: Explainer,
    private readonly weights: ModelWeights,
  ) {}

  /**
   * Loads weights, builds the graph they fit, compiles forward + LRP into one ONNX model
   * and creates its onnxruntime session.
   *
   * @throws Error naming the weight file, layer and shapes when the weights do not fit, and
   *   for invalid rule options.
   */
  static async load(options: LoadOptions = {}): Promise<LrpModel> {
    // Checked before any weights are read (the ImageNet file is a 100 MB download).
    if (options === null || typeof options !== 'object' || Array.isArray(options)) {
      throw new TypeError(`LrpModel.load takes an options object ({ weights, rules, … }), got ${describeValue(options)}`);
    }
    checkWeightsSource(options.weights);
    const config = resolveLrpOptions(options.rules);
    const precision = checkPrecision(options.precision ?? 'float32');
    checkMemoryBudget(options.memoryBudget);
    checkSessionOptions(options.session);
    if (options.input !== undefined) checkInputChanges(options.input);
    const cache = compileCache(options);
    let key: string | undefined;
    // The cache entry is read while the weights are read and bound.
    const onContent = cache && ((contentHash: string | undefined) => {
      if (contentHash === undefined) return;
      key = modelKey(contentHash, options);
      cache.prefetch(explainerIdentity(key, config, precision), options.session ?? {});
    });
    const { graph, weights, label, format } = await loadWeights(options, cache, onContent);
    const explainer = await Explainer.create(nodeRuntime, {
      graph, weights, label, format, precision, rules: options.rules, session: options.session,
      classNames: classNames(outputUnits(graph), options.labels ?? (typeof options.weights === 'string' && options.weights !== 'imagenet' ? companionLabels(options.weights) : undefined)),
      ...(options.memoryBudget !== undefined ? { memoryBudget: options.memoryBudget } : {}),
      ...(options.maxInputPixels !== undefined ? { maxInputPixels: options.maxInputPixels } : {}),
      ...(cache && key ? { cache: { cache, modelKey: key } } : {}),
    });
    return new LrpModel(explainer, weights);
  }

  /** The layer graph the weights were bound to. */
  get graph(): ModelGraph {
    return this.explainer.graph;
  }

  /** The resolved rule configuration. */
  get config(): LrpConfig {
    return this.explainer.config;
  }

  /** What the loaded model is. */
  get info(): ModelInfo {
    return this.explainer.info;
  }

  /** One name per class (ImageNet names, the `labels` option, or `class <i>`). */
  get classNames(): readonly string[] {
    return this.explainer.classNames;
  }

  /** How images become this model's input (one source of truth for loader, z_b bounds and "black"). */
  get inputDescription(): InputDescription {
    return this.explainer.inputDescription;
  }

  /** Names of the relevance trace entries, in order. */
  get traceNames(): readonly string[] {
    return this.explainer.traceNames;
  }

  /**
   * Decodes an image and preprocesses it for this model (its size, resize policy, channel
   * order, normalisation and layout); `fit` overrides the description's resize policy, and the
   * limits of {@link loadImage} (`maxPixels`, `maxBytes`) apply.
   */
  loadImage(source: string | Uint8Array, options: Pick<LoadImageOptions, 'fit' | 'maxPixels' | 'maxBytes'> = {}): Promise<LoadedImage> {
    return loadImage(source, { ...options, input: this.inputDescription });
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
    // nodeRuntime's sessions are onnxruntime-node's.
    return (await this.explainer.createExplainerSession(rules, options)) as unknown as ort.InferenceSession;
  }

  /** Logits, probabilities and predicted class, from a forward-only session (compiled on first use). */
  predict(input: ModelInput): Promise<Prediction[]> {
    return this.explainer.predict(input);
  }

  /**
   * Explains one image: relevance of the target class at every input value. With
   * `classIndices` or `topK` ({@link LrpClassesOptions}): one result per class, all from one
   * forward pass.
   */
  computeLrp(input: ModelInput, options?: LrpCallOptions): Promise<LrpResult>;
  computeLrp(input: ModelInput, options: LrpClassesOptions): Promise<LrpResult[]>;
  computeLrp(input: ModelInput, options?: LrpCallOptions | LrpClassesOptions): Promise<LrpResult | LrpResult[]> {
    return this.explainer.computeLrp(input, options);
  }

  /**
   * The results of `computeLrp(input, { classIndices | topK })` run by run, as soon as each run
   * finished: write and drop them to explain any number of classes in bounded memory.
   */
  computeLrpRuns(input: ModelInput, options: LrpClassesOptions): AsyncGenerator<LrpResult[], void, undefined> {
    return this.explainer.computeLrpRuns(input, options);
  }

  /** Explains a batch (in runs that fit the memory budget); every image may have its own target class. */
  computeLrpBatch(input: ModelInput | readonly Float32Array[], options: LrpBatchOptions = {}): Promise<LrpResult[]> {
    return this.explainer.computeLrpBatch(input, options);
  }

  /** Releases the onnxruntime sessions. */
  dispose(): Promise<void> {
    return this.explainer.dispose();
  }
}

/** @deprecated The former name, from when only ResNets were read: use {@link LrpModel}. */
export const LrpResNet = LrpModel;
/** @deprecated The former name of {@link LrpModel}. */
export type LrpResNet = LrpModel;
/** @deprecated The first name, from when only Keras ResNet50 files were read: use {@link LrpModel}. */
export const LrpResNet50 = LrpModel;
/** @deprecated The first name of {@link LrpModel}. */
export type LrpResNet50 = LrpModel;

function describeResize(desc: InputDescription): string {
  return desc.resize.fit === 'resize' ? 'stretched' : `shorter side to ${desc.resize.resizeTo ?? desc.size}, centre crop`;
}

/** Largest ONNX file read (2 GiB is protobuf's own limit for one message). */
const MAX_ONNX_BYTES = 2 ** 31 - 1;

/** The compile cache `options` ask for, or `undefined` for none. */
function compileCache(options: LoadOptions): FileExplainerCache | undefined {
  const setting = options.compileCache ?? true;
  if (setting === false || (options.compileCache === undefined && cacheDisabledByEnv())) return undefined;
  const given = setting === true ? {} : setting;
  return new FileExplainerCache({ ...given, dir: given.dir ?? compileCacheDir(options.cacheDir) });
}

/** What the graph and weights come from besides the file: the input changes and the head. */
function modelKey(contentHash: string, options: LoadOptions): string {
  const hash = createHash('sha256').update(contentHash).update(JSON.stringify(options.input ?? null));
  for (const tensor of options.head ? [options.head.kernel, options.head.bias] : []) {
    hash.update(JSON.stringify(tensor.shape)).update(new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength));
  }
  return hash.digest('hex');
}

/**
 * Reads and binds the weights; `cache` gives the SHA-256 of a weight file (regular files and
 * bytes; not random weights) to `onContent` before it is parsed.
 */
async function loadWeights(options: LoadOptions, cache?: FileExplainerCache, onContent?: (contentHash: string | undefined) => void): Promise<{ graph: ModelGraph; weights: ModelWeights; label: string; format: ModelInfo['format'] }> {
  const source = options.weights === undefined ? 'imagenet' : options.weights;
  if (source === null) {
    const seed = options.seed ?? 0;
    const { graph, weights } = randomModel(buildResNet(kerasResNetSpec(50)), seed);
    return { graph: withInput(graph, options.input), weights, label: `random(seed=${seed})`, format: 'random' };
  }
  let path: string | Uint8Array = source;
  if (source === 'imagenet') {
    path = await ensureImageNetWeights({ cacheDir: options.cacheDir, onProgress: options.onDownloadProgress });
  }
  if (await isOnnx(path)) {
    if (cache && typeof path === 'string') onContent?.(await cache.contentHash(path));
    const bytes = typeof path === 'string' ? await readRegularFile(path, MAX_ONNX_BYTES) : path;
    const label = typeof path === 'string' ? path : '<onnx bytes>';
    if (typeof path !== 'string') onContent?.(createHash('sha256').update(bytes).digest('hex'));
    const imported = importOnnx(bytes, { source: label, ...(options.input ? { input: options.input } : {}) });
    return { graph: imported.graph, weights: imported.weights, label, format: 'onnx' };
  }
  if (cache && onContent) onContent(typeof path === 'string' ? await cache.contentHash(path) : createHash('sha256').update(path).digest('hex'));
  // Declared shapes are checked against the model before any value is read (no allocation
  // for a file that declares gigabytes).
  const file = await readKerasH5(path, undefined, { checkShapes: checkKerasShapes(options.head ? { head: options.head } : {}) });
  const { graph, weights } = modelFromKerasFile(file, options.head, options.input);
  return { graph, weights, label: typeof source === 'string' ? source : file.source, format: 'keras' };
}

/**
 * `weights` must be `'imagenet'`, a path, bytes, `null` or absent.
 *
 * @throws TypeError naming what was given.
 */
function checkWeightsSource(weights: unknown): void {
  if (weights === undefined || weights === null || weights instanceof Uint8Array) return;
  if (typeof weights !== 'string') {
    throw new TypeError(`weights must be 'imagenet', a file path, the file's bytes (Uint8Array) or null (random weights), got ${describeValue(weights)}`);
  }
  if (weights === '') throw new TypeError(`weights is an empty string: give 'imagenet', a file path, bytes or null`);
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
