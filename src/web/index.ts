/**
 * resnet-lrp in the browser (`resnet-lrp/web`): the same core as the Node entry, on
 * onnxruntime-web (WebAssembly, threads and SIMD) and h5wasm's browser build. Images are
 * decoded by the browser and fitted with the same Pillow-exact resampling as in Node.
 *
 * ```ts
 * import { loadModel, decodeImage } from 'resnet-lrp/web';
 * const model = await loadModel({ weights: 'models/resnet50.h5' });   // URL, File, bytes
 * const image = await decodeImage(file, model.inputDescription);       // Blob or bytes
 * const lrp = await model.computeLrp(image.input, { debug: true });
 * const top3 = await model.computeLrp(image.input, { topK: 3 });     // 3 classes, one forward pass
 * ```
 *
 * `loadModel` gives the same {@link Explainer} the Node entry is built on: `predict`,
 * `computeLrp` (one class, or `{ classIndices }` / `{ topK }` for several from one forward
 * pass) and `computeLrpBatch` behave as `LrpModel`'s.
 *
 * The same calls off the main thread (reading, compiling and runs in `resnet-lrp-worker.js`):
 * `new ExplainerWorker()`, then `worker.loadModel(…)`, `worker.decodeImage(…)`, `model.computeLrp(…)`.
 */
import h5wasm from 'h5wasm';
import * as ort from 'onnxruntime-web/wasm';
import labelsJson from '../../assets/imagenet/labels.json' with { type: 'json' };
import type { LrpOptions } from '../lrp/presets.js';
import type { InputDescription } from '../model/input.js';
import type { Precision } from '../onnx/graph-builder.js';
import { outputUnits } from '../onnx/classifier.js';
import { Explainer } from '../runtime/explainer.js';
import type { Runtime, RuntimeSession, SessionOptions } from '../runtime/platform.js';
import type { ClassifierHead } from '../weights/bind.js';
import { modelFromBytes } from '../weights/from-bytes.js';
import { checkHeader, h5wasmModule, readOpened, withThrowingErrors, type KerasWeightFile, type ReadKerasH5Options } from '../weights/keras-h5-reader.js';

/** The model with its explainer: the same core as the Node entry's `LrpModel`, on onnxruntime-web. */
export { Explainer as LrpModel } from '../runtime/explainer.js';
export { colorize, colorScale, COLORMAP_NAMES, type ColormapName } from '../image/colormap.js';
export { quantizeHeat, DEFAULT_QUANTIZE_LEVELS } from '../image/quantize.js';
export { figureLayout, figurePieces, formatScaleValue, type FigureOptions } from '../image/figure-parts.js';
export { decodeImage, renderFigureCanvas, rgbToImageData, type WebImage } from './image.js';
export { ExplainerWorker, RemoteLrpModel, type WorkerLoadOptions } from './worker-client.js';
export { traceChartSvg } from '../image/trace-chart.js';
export { encodeNpy, decodeNpy } from '../image/npy-codec.js';
export { rankClasses, type ClassScore } from '../model/top-k.js';
export { PRESETS, SPLIT_MODES, START_MODES, describeConfig, explainsPredictedOnly, type LrpOptions, type PresetName } from '../lrp/presets.js';
export type { InputDescription } from '../model/input.js';
export { DEFAULT_MEMORY_BUDGET } from '../runtime/memory.js';
export { DEFAULT_MAX_INPUT_PIXELS } from '../runtime/input-checks.js';
export type { LrpBatchOptions, LrpCallOptions, LrpClassesOptions, LrpResult, ModelInfo, ModelInput, Prediction } from '../runtime/types.js';
export { ort };

/** The 1000 ImageNet class names (class id = index). */
export const IMAGENET_LABELS: readonly string[] = Object.freeze(labelsJson as string[]);

/** Where onnxruntime-web finds its `.wasm`/`.mjs` files and how many threads it uses. */
export interface WebRuntimeOptions {
  /** Folder URL of `ort-wasm-simd-threaded.{mjs,wasm}` (default: next to this bundle). */
  wasmPaths?: string;
  /** WebAssembly threads (default: the cores, at most 8, when the page is cross-origin isolated; else 1). */
  numThreads?: number;
}

let configured = false;

/** Sets up onnxruntime-web; called by {@link loadModel} with defaults unless called before. */
export function configureRuntime(options: WebRuntimeOptions = {}): void {
  ort.env.wasm.wasmPaths = options.wasmPaths ?? new URL('./', import.meta.url).href;
  // Threads need SharedArrayBuffer, which needs COOP/COEP headers (resnet-lrp serve sends them).
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  ort.env.wasm.numThreads = options.numThreads ?? (isolated ? Math.max(1, Math.min(8, navigator.hardwareConcurrency || 1)) : 1);
  ort.env.wasm.simd = true;
  configured = true;
}

/** onnxruntime-web as the core's {@link Runtime}. */
export const webRuntime: Runtime = {
  async createSession(model: Uint8Array, options: SessionOptions = {}): Promise<RuntimeSession> {
    if (!configured) configureRuntime();
    const session = await ort.InferenceSession.create(model, {
      executionProviders: ['wasm'],
      graphOptimizationLevel: options.graphOptimization ?? 'all',
    });
    return session as unknown as RuntimeSession;
  },
  float32: (data, dims) => new ort.Tensor('float32', data, dims),
  int64: (data, dims) => new ort.Tensor('int64', data, dims),
};

/** Progress of {@link loadModel}. */
export type LoadProgress =
  | { stage: 'download'; received: number; total?: number }
  | { stage: 'read' | 'compile' };

/** Options of {@link loadModel}. */
export interface WebLoadOptions {
  /** A URL (relative to the page), a `File`/`Blob`, or the bytes of a Keras `.h5` or ONNX file. */
  weights: string | URL | Blob | ArrayBuffer | Uint8Array;
  /** How messages name the file (default: the URL or file name). */
  label?: string;
  rules?: LrpOptions;
  precision?: Precision;
  /** One class name per output (default: ImageNet for 1000 classes, else `class <i>`). */
  labels?: readonly string[];
  head?: ClassifierHead;
  input?: Partial<Omit<InputDescription, 'layout'>>;
  session?: SessionOptions;
  /** Working-memory budget of one run, in bytes (as `LoadOptions.memoryBudget` of the Node entry; default 1 GiB). */
  memoryBudget?: number;
  /** Largest model input in pixels, refused at load (as `LoadOptions.maxInputPixels`; default 4096²). */
  maxInputPixels?: number;
  onProgress?: (progress: LoadProgress) => void;
}

/**
 * Loads a model file and compiles its explainer for onnxruntime-web. The explainer for several
 * classes per image (`computeLrp(input, { classIndices })` or `{ topK }`) is compiled on its
 * first use.
 *
 * @throws Error naming the file: not found, not HDF5 / ONNX, weights that do not fit, an
 *   unsupported ONNX graph.
 */
export async function loadModel(options: WebLoadOptions): Promise<Explainer> {
  const { bytes, label } = await modelBytes(options.weights, options.label, options.onProgress);
  options.onProgress?.({ stage: 'read' });
  await nextPaint();
  const { graph, weights, format } = await modelFromBytes(bytes, {
    label,
    readKeras: readKerasBytes,
    ...(options.head ? { head: options.head } : {}),
    ...(options.input ? { input: options.input } : {}),
  });
  options.onProgress?.({ stage: 'compile' });
  // Compiling blocks the thread for a moment: let the page show the progress first.
  await nextPaint();
  const classes = outputUnits(graph);
  const classNames = options.labels ?? (classes === IMAGENET_LABELS.length ? IMAGENET_LABELS : Array.from({ length: classes }, (_, i) => `class ${i}`));
  return Explainer.create(webRuntime, {
    graph, weights, label, format, classNames,
    ...(options.rules ? { rules: options.rules } : {}),
    ...(options.precision ? { precision: options.precision } : {}),
    ...(options.session ? { session: options.session } : {}),
    ...(options.memoryBudget !== undefined ? { memoryBudget: options.memoryBudget } : {}),
    ...(options.maxInputPixels !== undefined ? { maxInputPixels: options.maxInputPixels } : {}),
  });
}

/** Resolves after the browser has painted (at once where there is nothing to paint, e.g. a worker). */
function nextPaint(): Promise<void> {
  // Chromium's workers have requestAnimationFrame too, but no page of their own to show.
  if (typeof requestAnimationFrame !== 'function' || typeof document === 'undefined') return Promise.resolve();
  return new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
}

/**
 * The bytes of a model given as a URL, a `File`/`Blob` or bytes, with download progress.
 *
 * @throws Error naming the file when it cannot be downloaded.
 */
export async function modelBytes(source: WebLoadOptions['weights'], label?: string, onProgress?: WebLoadOptions['onProgress']): Promise<{ bytes: Uint8Array; label: string }> {
  if (source instanceof Uint8Array) return { bytes: source, label: label ?? '<model bytes>' };
  if (source instanceof ArrayBuffer) return { bytes: new Uint8Array(source), label: label ?? '<model bytes>' };
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    return { bytes: new Uint8Array(await source.arrayBuffer()), label: label ?? ((source as File).name || '<model file>') };
  }
  const url = String(source);
  const name = label ?? url;
  let response: Response;
  try {
    response = await fetch(url);
  } catch (err) {
    throw new Error(`${name}: cannot be downloaded (${(err as Error).message}; a URL on another site must allow it with CORS)`, { cause: err });
  }
  if (!response.ok) throw new Error(`${name}: cannot be downloaded (HTTP ${response.status} ${response.statusText})`);
  const total = Number(response.headers.get('content-length')) || undefined;
  if (!response.body) return { bytes: new Uint8Array(await response.arrayBuffer()), label: name };
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    received += value.length;
    onProgress?.({ stage: 'download', received, ...(total ? { total } : {}) });
  }
  const bytes = new Uint8Array(received);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  return { bytes, label: name };
}

let h5Files = 0;

/** Keras HDF5 bytes through h5wasm's in-memory file system (removed again after reading). */
async function readKerasBytes(bytes: Uint8Array, label: string, options: ReadKerasH5Options): Promise<KerasWeightFile> {
  await checkHeader((offset, length) => bytes.subarray(offset, offset + length), bytes.length, label);
  const module = await h5wasmModule(h5wasm, label);
  const path = `/resnet-lrp-${++h5Files}.h5`;
  try {
    module.FS!.writeFile(path, bytes);
    return withThrowingErrors(module, () => readOpened(h5wasm, path, label, bytes.length, options));
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (message.startsWith(`${label}: `)) throw err;
    throw new Error(`${label}: ${message}`, { cause: err });
  } finally {
    try {
      module.FS!.unlink(path);
    } catch {
      // not written: nothing to remove
    }
  }
}
