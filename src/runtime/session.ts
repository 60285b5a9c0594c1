/**
 * onnxruntime-node sessions with the settings this project measures and documents.
 */
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';

/** Session settings a user may change. */
export interface SessionOptions {
  /** Threads for one op (default: the machine's cores, at most 8). */
  intraOpThreads?: number;
  /** onnxruntime's graph optimization level (default `all`: folds the rule kernels, fuses Conv+BN+ReLU). */
  graphOptimization?: 'disabled' | 'basic' | 'extended' | 'all';
}

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

export { ort };
