/**
 * onnxruntime-node sessions with the settings this project measures and documents.
 */
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import type { Runtime, RuntimeSession, SessionOptions } from './platform.js';

export type { SessionOptions } from './platform.js';

/** Creates an inference session from serialized ONNX bytes. */
export async function createSession(model: Uint8Array, options: SessionOptions = {}): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(model, sessionOptions(options));
}

/** The onnxruntime options {@link createSession} uses (the profiling tool adds its own to these). */
export function sessionOptions(options: SessionOptions = {}): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: ['cpu'],
    graphOptimizationLevel: options.graphOptimization ?? 'all',
    intraOpNumThreads: options.intraOpThreads ?? defaultThreads(),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    enableCpuMemArena: true,
    enableMemPattern: true,
  };
}

function defaultThreads(): number {
  // Beyond ~8 threads a single image gains little; leave the rest of a big machine free.
  return Math.max(1, Math.min(8, availableParallelism()));
}

/** onnxruntime-node as the core's {@link Runtime}. */
export const nodeRuntime: Runtime = {
  createSession: (model, options) => createSession(model, options) as Promise<unknown> as Promise<RuntimeSession>,
  float32: (data, dims) => new ort.Tensor('float32', data, dims),
  int64: (data, dims) => new ort.Tensor('int64', data, dims),
};

export { ort };
