/**
 * Keras "caffe" preprocessing for ResNet50: RGB → BGR, subtract the ImageNet mean, no scaling.
 * This module is the single source of truth for these constants; the z_b rule's input bounds
 * are derived from them ({@link caffeInputBounds}).
 */

/** ImageNet channel means in BGR order, as subtracted by `keras.applications.resnet.preprocess_input`. */
export const CAFFE_MEAN_BGR: readonly [number, number, number] = [103.939, 116.779, 123.68];

/** Range of raw pixel values before preprocessing. */
export const PIXEL_MIN = 0;
export const PIXEL_MAX = 255;

/** Per-channel bounds (BGR) of a preprocessed input: `low = 0 − mean`, `high = 255 − mean`. */
export function caffeInputBounds(): { low: number[]; high: number[] } {
  return {
    low: CAFFE_MEAN_BGR.map((m) => PIXEL_MIN - m),
    high: CAFFE_MEAN_BGR.map((m) => PIXEL_MAX - m),
  };
}

/**
 * Preprocesses interleaved RGB pixels (height × width × 3, values 0..255) into the model's
 * input layout: height × width × 3, BGR, mean subtracted.
 */
export function caffePreprocess(rgb: ArrayLike<number>): Float32Array {
  if (rgb.length % 3 !== 0) throw new Error(`caffePreprocess: expected interleaved RGB, got ${rgb.length} values`);
  const out = new Float32Array(rgb.length);
  for (let i = 0; i < rgb.length; i += 3) {
    out[i] = rgb[i + 2]! - CAFFE_MEAN_BGR[0];
    out[i + 1] = rgb[i + 1]! - CAFFE_MEAN_BGR[1];
    out[i + 2] = rgb[i]! - CAFFE_MEAN_BGR[2];
  }
  return out;
}
