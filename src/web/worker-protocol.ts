/**
 * The messages between a page and the explainer worker (src/web/worker.ts): every request
 * carries an id; the worker answers it with progress messages, then one result or one error.
 * Errors travel as their message text, so the page shows the same plain words as without a
 * worker. Large buffers (model bytes, pixels, maps) are transferred, not copied.
 */
import type { FitMode } from '../image/resize.js';
import type { LrpConfig } from '../lrp/presets.js';
import type { LrpCallOptions, LrpClassesOptions, LrpResult, ModelInfo, ModelInput, Prediction } from '../runtime/types.js';
import type { InputDescription } from '../model/input.js';
import type { WebImage } from './image.js';
import type { LoadProgress, WebLoadOptions, WebRuntimeOptions } from './index.js';

/** Where the worker gets a model file: an absolute URL, a file, bytes, or the file of a model it holds. */
export type ModelSource = { url: string } | { blob: Blob } | { bytes: ArrayBuffer } | { sameFileAs: number };

/** What the worker tells about a model it has compiled; the model itself stays in the worker. */
export interface ModelSummary {
  /** The worker's handle of the model. */
  model: number;
  info: ModelInfo;
  config: LrpConfig;
  classNames: readonly string[];
  traceNames: readonly string[];
  /** onnxruntime-web as the worker set it up. */
  runtime: { crossOriginIsolated: boolean; numThreads: number };
}

/** Each request's arguments and the value of its answer. */
export interface WorkerCalls {
  configure: { args: { options: WebRuntimeOptions }; result: void };
  load: {
    /** `loadModel`'s options, the file as a {@link ModelSource}, and no callback (progress comes as messages). */
    args: Omit<WebLoadOptions, 'weights' | 'onProgress'> & { source: ModelSource };
    result: ModelSummary;
  };
  decode: { args: { source: Blob | ArrayBuffer; description: InputDescription; options: { fit?: FitMode; name?: string; maxPixels?: number } }; result: WebImage };
  /** One class (`LrpCallOptions`: one result) or several from one forward pass (`LrpClassesOptions`: one result each). */
  explain: { args: { model: number; input: ModelInput; options: LrpCallOptions | LrpClassesOptions }; result: LrpResult | LrpResult[] };
  predict: { args: { model: number; input: ModelInput }; result: Prediction[] };
  dispose: { args: { model: number }; result: void };
}

export type WorkerCallName = keyof WorkerCalls;

/** Page → worker. */
export type WorkerRequest = { [K in WorkerCallName]: { id: number; type: K } & WorkerCalls[K]['args'] }[WorkerCallName];

/** Worker → page (`ready` once, when its script has loaded). */
export type WorkerResponse =
  | { type: 'ready' }
  | { id: number; type: 'progress'; progress: LoadProgress }
  | { id: number; type: 'result'; value: unknown }
  | { id: number; type: 'error'; message: string };

/**
 * The distinct `ArrayBuffer`s under the typed arrays in a value (one level of objects and
 * arrays deep, as in results), to transfer instead of copying. Shared buffers cannot move.
 */
export function transferables(value: unknown): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  const visit = (v: unknown, depth: number): void => {
    if (ArrayBuffer.isView(v)) {
      if (v.buffer instanceof ArrayBuffer) buffers.add(v.buffer);
    } else if (v instanceof ArrayBuffer) {
      buffers.add(v);
    } else if (v && typeof v === 'object' && depth < 3) {
      for (const item of Array.isArray(v) ? v : Object.values(v)) visit(item, depth + 1);
    }
  };
  visit(value, 0);
  return [...buffers];
}
