/**
 * What the explainer takes and gives: model inputs, predictions, LRP results, the call options
 * and the model's description. Shared by the Node entry (`LrpModel`) and the browser-safe core
 * (`Explainer`); browser-safe itself (types only).
 */
import type { InputDescription } from '../model/input.js';
import type { Precision } from '../onnx/graph-builder.js';

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
  /** The classes to explain, in the order of the results, each once (a repeat is refused). */
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
