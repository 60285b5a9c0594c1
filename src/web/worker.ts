/**
 * The explainer worker (`dist/web/resnet-lrp-worker.js`): reads model files, compiles the
 * explainers, runs onnxruntime-web and decodes images off the page's main thread, which keeps
 * only the drawing. Driven by {@link ExplainerWorker} (src/web/worker-client.ts) through the
 * messages of src/web/worker-protocol.ts. onnxruntime-web starts its own thread workers from
 * here (nested workers), so WebAssembly threads work as on a page.
 */
import * as ort from 'onnxruntime-web/wasm';
import { decodeImage } from './image.js';
import { configureRuntime, loadModel, modelBytes, type LrpModel, type LoadProgress } from './index.js';
import { transferables, type ModelSource, type ModelSummary, type WorkerCalls, type WorkerRequest, type WorkerResponse } from './worker-protocol.js';

interface WorkerScope {
  onmessage: ((event: MessageEvent<WorkerRequest>) => void) | null;
  postMessage(message: WorkerResponse, transfer?: Transferable[]): void;
  crossOriginIsolated?: boolean;
}
const scope = globalThis as unknown as WorkerScope;

/** The compiled models, with the file bytes they came from (a rule change recompiles from them). */
const models = new Map<number, { explainer: LrpModel; bytes: Uint8Array; label: string }>();
let lastModel = 0;

function held(model: number): { explainer: LrpModel; bytes: Uint8Array; label: string } {
  const entry = models.get(model);
  if (!entry) throw new Error(`no model ${model} in the explainer worker (disposed?)`);
  return entry;
}

async function fileBytes(source: ModelSource, label: string | undefined, onProgress: (progress: LoadProgress) => void): Promise<{ bytes: Uint8Array; label: string }> {
  if ('sameFileAs' in source) {
    const entry = held(source.sameFileAs);
    return { bytes: entry.bytes, label: label ?? entry.label };
  }
  const from = 'url' in source ? source.url : 'blob' in source ? source.blob : source.bytes;
  return modelBytes(from, label, onProgress);
}

type Answer<K extends keyof WorkerCalls> = Promise<WorkerCalls[K]['result']>;

const handlers: { [K in keyof WorkerCalls]: (request: Extract<WorkerRequest, { type: K }>) => Answer<K> } = {
  async configure({ options }) {
    configureRuntime(options);
  },

  async load({ id, source, label, ...options }) {
    const onProgress = (progress: LoadProgress): void => scope.postMessage({ id, type: 'progress', progress });
    const file = await fileBytes(source, label, onProgress);
    const explainer = await loadModel({ ...options, weights: file.bytes, label: file.label, onProgress });
    const model = ++lastModel;
    models.set(model, { explainer, ...file });
    const summary: ModelSummary = {
      model,
      info: explainer.info,
      config: explainer.config,
      classNames: explainer.classNames,
      traceNames: explainer.traceNames,
      runtime: { crossOriginIsolated: scope.crossOriginIsolated === true, numThreads: ort.env.wasm.numThreads ?? 1 },
    };
    return summary;
  },

  async decode({ source, description, options }) {
    return decodeImage(source, description, options);
  },

  async explain({ model, input, options }) {
    return held(model).explainer.computeLrp(input, options);
  },

  async predict({ model, input }) {
    return held(model).explainer.predict(input);
  },

  async dispose({ model }) {
    const entry = models.get(model);
    models.delete(model);
    await entry?.explainer.dispose();
  },
};

async function answer(request: WorkerRequest): Promise<void> {
  try {
    const handler = handlers[request.type] as (r: WorkerRequest) => Promise<unknown>;
    const value = await handler(request);
    scope.postMessage({ id: request.id, type: 'result', value }, transferables(value));
  } catch (err) {
    scope.postMessage({ id: request.id, type: 'error', message: err instanceof Error ? err.message : String(err) });
  }
}

// One request at a time, in order: a session runs one call at a time, and a model is ready
// before the explanations that follow its load.
let queue: Promise<void> = Promise.resolve();
scope.onmessage = (event) => {
  const request = event.data;
  queue = queue.then(() => answer(request));
};
scope.postMessage({ type: 'ready' });
