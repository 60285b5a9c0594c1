/**
 * The page's side of the explainer worker: {@link ExplainerWorker} starts
 * `resnet-lrp-worker.js` and gives models ({@link RemoteLrpModel}) that answer like an
 * {@link Explainer} while the reading, compiling and runs happen in the worker. It imports no
 * onnxruntime and no h5wasm, so a page that uses only this module does not load them itself.
 *
 * ```ts
 * import { ExplainerWorker } from 'resnet-lrp/web';
 * const worker = new ExplainerWorker();                   // resnet-lrp-worker.js next to the bundle
 * const model = await worker.loadModel({ weights: 'models/resnet50.h5' });
 * const image = await worker.decodeImage(file, model.inputDescription);
 * const lrp = await model.computeLrp(image.input, { debug: true });
 * ```
 */
import type { FitMode } from '../image/resize.js';
import type { LrpConfig, LrpOptions } from '../lrp/presets.js';
import type { LrpCallOptions, LrpClassesOptions, LrpResult, ModelInfo, ModelInput, Prediction } from '../runtime/types.js';
import type { InputDescription } from '../model/input.js';
import type { WebImage } from './image.js';
import type { LoadProgress, WebLoadOptions, WebRuntimeOptions } from './index.js';
import { transferables, type ModelSource, type ModelSummary, type WorkerCallName, type WorkerCalls, type WorkerRequest, type WorkerResponse } from './worker-protocol.js';

/** Options of {@link ExplainerWorker.loadModel}: those of `loadModel`, in a worker. */
export interface WorkerLoadOptions extends Omit<WebLoadOptions, 'weights'> {
  /**
   * A URL (relative to the page), a `File`/`Blob`, or the bytes of a Keras `.h5` or ONNX file.
   * Bytes move to the worker: an `ArrayBuffer` (or the one under a `Uint8Array` that spans all of it) is detached here.
   */
  weights: string | URL | Blob | ArrayBuffer | Uint8Array;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  onProgress?: (progress: LoadProgress) => void;
}

/** A dedicated module worker that loads models and explains images off the main thread. */
export class ExplainerWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private lastId = 0;
  /** The script has loaded (it says `ready`); before that, an error event means it never will. */
  private started = false;
  private failure?: Error;

  /**
   * Starts the worker.
   *
   * @param options.url The worker script (default: `resnet-lrp-worker.js` next to this bundle).
   * @param options.runtime onnxruntime-web's set-up inside the worker (default: as `configureRuntime()`).
   */
  constructor(options: { url?: string | URL; runtime?: WebRuntimeOptions } = {}) {
    const url = options.url ?? new URL('./resnet-lrp-worker.js', import.meta.url);
    this.worker = new Worker(url, { type: 'module', name: 'resnet-lrp' });
    this.worker.addEventListener('message', (event: MessageEvent<WorkerResponse>) => this.receive(event.data));
    // A script that does not load: every call so far and later fails. An uncaught error later
    // (none of the requests' own, which come back as answers) fails the calls in flight only.
    this.worker.addEventListener('error', (event: ErrorEvent) => {
      event.preventDefault();
      const error = new Error(`the explainer worker (${String(url)}) failed: ${event.message || 'its script did not load'}`);
      if (this.started) this.rejectPending(error);
      else this.fail(error);
    });
    this.worker.addEventListener('messageerror', () => this.rejectPending(new Error('the explainer worker sent a message that cannot be read')));
    if (options.runtime) void this.call('configure', { options: options.runtime }).catch(() => undefined);
  }

  /**
   * Loads a model file and compiles its explainer in the worker.
   *
   * @throws Error with the message of `loadModel`: not found, not HDF5 / ONNX, weights that do
   *   not fit, an unsupported ONNX graph.
   */
  async loadModel(options: WorkerLoadOptions): Promise<RemoteLrpModel> {
    const { weights, onProgress, ...rest } = options;
    const { source, transfer } = modelSource(weights);
    return this.load({ ...rest, source }, transfer, onProgress);
  }

  /** Decodes an image in the worker and fits it to a model's input, as `decodeImage`. */
  decodeImage(source: Blob | ArrayBuffer | Uint8Array, description: InputDescription, options: { fit?: FitMode; name?: string; maxPixels?: number } = {}): Promise<WebImage> {
    const name = options.name ?? ((source as File).name || undefined);
    // A Blob is a handle (no bytes are copied); bytes are copied once into a Blob, as decodeImage does.
    const blob = source instanceof Blob ? source : new Blob([source as ArrayBuffer]);
    return this.call('decode', { source: blob, description, options: { ...options, ...(name ? { name } : {}) } });
  }

  /** Stops the worker; its models and every unanswered call are gone. */
  terminate(): void {
    this.worker.terminate();
    this.fail(new Error('the explainer worker was terminated'));
  }

  /** @internal */
  async load(args: WorkerCalls['load']['args'], transfer: Transferable[], onProgress?: (progress: LoadProgress) => void): Promise<RemoteLrpModel> {
    const summary = await this.call('load', args, transfer, onProgress);
    const { source: _, ...options } = args;
    return new RemoteLrpModel(this, summary, options);
  }

  /** @internal Sends one request; resolves with its answer. */
  call<K extends WorkerCallName>(type: K, args: WorkerCalls[K]['args'], transfer: Transferable[] = [], onProgress?: (progress: LoadProgress) => void): Promise<WorkerCalls[K]['result']> {
    if (this.failure) return Promise.reject(this.failure);
    const id = ++this.lastId;
    return new Promise((resolve, reject) => {
      // postMessage throws (a detached buffer, a value that cannot be cloned) before anything is sent.
      this.worker.postMessage({ id, type, ...args } as WorkerRequest, transfer);
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, ...(onProgress ? { onProgress } : {}) });
    });
  }

  private receive(message: WorkerResponse): void {
    if (message.type === 'ready') {
      this.started = true;
      return;
    }
    const pending = this.pending.get(message.id);
    if (!pending) return;
    if (message.type === 'progress') {
      pending.onProgress?.(message.progress);
      return;
    }
    this.pending.delete(message.id);
    if (message.type === 'result') pending.resolve(message.value);
    else pending.reject(new Error(message.message));
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.rejectPending(error);
  }

  private rejectPending(error: Error): void {
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }
}

/** A model compiled in an {@link ExplainerWorker}: the calls of an `Explainer`, answered by the worker. */
export class RemoteLrpModel {
  readonly info: ModelInfo;
  readonly config: LrpConfig;
  readonly classNames: readonly string[];
  readonly traceNames: readonly string[];
  /** onnxruntime-web in the worker: cross-origin isolated (threads possible) and its thread count. */
  readonly runtime: ModelSummary['runtime'];
  private readonly model: number;

  /** @internal */
  constructor(private readonly worker: ExplainerWorker, summary: ModelSummary, private readonly options: Omit<WorkerCalls['load']['args'], 'source'>) {
    this.model = summary.model;
    this.info = summary.info;
    this.config = summary.config;
    this.classNames = summary.classNames;
    this.traceNames = summary.traceNames;
    this.runtime = summary.runtime;
  }

  /** How images become this model's input. */
  get inputDescription(): InputDescription {
    return this.info.input;
  }

  /**
   * Explains one image, as `Explainer.computeLrp`: one class, or with `{ classIndices }` /
   * `{ topK }` several classes from one forward pass (one result each). The input is copied
   * to the worker; the maps are transferred back.
   */
  computeLrp(input: ModelInput, options?: LrpCallOptions): Promise<LrpResult>;
  computeLrp(input: ModelInput, options: LrpClassesOptions): Promise<LrpResult[]>;
  computeLrp(input: ModelInput, options: LrpCallOptions | LrpClassesOptions = {}): Promise<LrpResult | LrpResult[]> {
    return this.worker.call('explain', { model: this.model, input, options });
  }

  /** Logits, probabilities and predicted class of each image. */
  predict(input: ModelInput): Promise<Prediction[]> {
    return this.worker.call('predict', { model: this.model, input });
  }

  /** The same file compiled with other rules (the worker kept its bytes: nothing is read again). */
  withRules(rules: LrpOptions, onProgress?: (progress: LoadProgress) => void): Promise<RemoteLrpModel> {
    return this.worker.load({ ...this.options, source: { sameFileAs: this.model }, label: this.info.weights, rules }, [], onProgress);
  }

  /** Releases the model in the worker. */
  dispose(): Promise<void> {
    return this.worker.call('dispose', { model: this.model });
  }
}

/** The message form of a model file; bytes are transferred, a URL is made absolute (the worker's base is its script). */
function modelSource(weights: WorkerLoadOptions['weights']): { source: ModelSource; transfer: Transferable[] } {
  if (weights instanceof ArrayBuffer) return { source: { bytes: weights }, transfer: [weights] };
  if (weights instanceof Uint8Array) {
    const whole = weights.buffer instanceof ArrayBuffer && weights.byteOffset === 0 && weights.byteLength === weights.buffer.byteLength;
    const bytes = whole ? weights.buffer as ArrayBuffer : weights.slice().buffer;
    return { source: { bytes }, transfer: transferables(bytes) };
  }
  if (typeof Blob !== 'undefined' && weights instanceof Blob) return { source: { blob: weights }, transfer: [] };
  const base = typeof document !== 'undefined' ? document.baseURI : globalThis.location?.href;
  return { source: { url: new URL(String(weights), base).href }, transfer: [] };
}
