/**
 * What the evaluation needs from a model: its input description and class probabilities for a
 * batch of preprocessed images. Any model fits behind it — the library's `LrpModel`
 * ({@link classifierFromModel}), a raw onnxruntime session on an ONNX file
 * ({@link OnnxClassifier}), or anything else that answers `probabilities`. Browser-safe.
 */
import { imageShape, type InputDescription } from '../model/input.js';

/** A classifier the insertion / deletion metric can query. */
export interface Classifier {
  /** Layout, channel order, size and normalisation of the input (where "black" comes from). */
  readonly inputDescription: InputDescription;
  /** Number of classes. */
  readonly classes: number;
  /**
   * Softmax probabilities of `count` preprocessed images laid out back to back in `batch`
   * (each of {@link imageShape} in the description's layout): `count × classes` values.
   */
  probabilities(batch: Float32Array, count: number): Promise<Float32Array>;
}

/** Number of values of one preprocessed image of the classifier. */
export function imageLength(desc: InputDescription): number {
  return imageShape(desc).reduce((a, b) => a * b, 1);
}

/** Row-wise softmax of `count × classes` logits, in float64 (for models whose graph ends at the logits). */
export function softmaxRows(logits: Float32Array, count: number, classes: number): Float32Array {
  if (logits.length !== count * classes) throw new Error(`softmax: ${logits.length} logits for ${count} × ${classes}`);
  const out = new Float32Array(logits.length);
  for (let r = 0; r < count; r++) {
    const row = logits.subarray(r * classes, (r + 1) * classes);
    let max = -Infinity;
    for (let i = 0; i < classes; i++) if (row[i]! > max) max = row[i]!;
    let sum = 0;
    for (let i = 0; i < classes; i++) sum += Math.exp(row[i]! - max);
    for (let i = 0; i < classes; i++) out[r * classes + i] = Math.exp(row[i]! - max) / sum;
  }
  return out;
}
