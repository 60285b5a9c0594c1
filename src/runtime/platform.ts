/**
 * What the core needs from an ONNX runtime, as small interfaces (onnxruntime-common's shape):
 * the Node entry passes onnxruntime-node, the browser entry onnxruntime-web. Nothing here
 * imports a runtime, so the core runs on either.
 */

/** Session settings a user may change. */
export interface SessionOptions {
  /** Threads for one op (default: the machine's cores, at most 8). */
  intraOpThreads?: number;
  /** onnxruntime's graph optimization level (default `all`: folds the rule kernels, fuses Conv+BN+ReLU). */
  graphOptimization?: 'disabled' | 'basic' | 'extended' | 'all';
}

/** A tensor as both onnxruntime packages expose it. */
export interface RuntimeTensor {
  readonly data: unknown;
  readonly dims: readonly number[];
}

/** An inference session of either onnxruntime package. */
export interface RuntimeSession {
  run(feeds: Record<string, RuntimeTensor>): Promise<Record<string, RuntimeTensor>>;
  release(): Promise<void>;
}

/** An ONNX runtime: creates sessions from serialized models, and input tensors. */
export interface Runtime {
  createSession(model: Uint8Array, options?: SessionOptions): Promise<RuntimeSession>;
  float32(data: Float32Array, dims: readonly number[]): RuntimeTensor;
  int64(data: BigInt64Array, dims: readonly number[]): RuntimeTensor;
}
