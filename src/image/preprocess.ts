/**
 * Keras "caffe" preprocessing for ResNet50: RGB → BGR, subtract the ImageNet mean, no scaling.
 * The constants live in the model's input description ({@link CAFFE_INPUT}); these are the
 * caffe-specific shorthands the library has always exported.
 */
import { CAFFE_INPUT, CAFFE_MEAN_BGR, inputBounds, PIXEL_MAX, PIXEL_MIN, preprocessRgb } from '../model/input.js';

export { CAFFE_MEAN_BGR, PIXEL_MAX, PIXEL_MIN };

/** Per-channel bounds (BGR) of a preprocessed input: `low = 0 − mean`, `high = 255 − mean`. */
export function caffeInputBounds(): { low: number[]; high: number[] } {
  return inputBounds(CAFFE_INPUT);
}

/**
 * Preprocesses interleaved RGB pixels (height × width × 3, values 0..255) into the model's
 * input layout: height × width × 3, BGR, mean subtracted.
 */
export function caffePreprocess(rgb: ArrayLike<number>): Float32Array {
  if (rgb.length % 3 !== 0) throw new Error(`caffePreprocess: expected interleaved RGB, got ${rgb.length} values`);
  return preprocessRgb(rgb, rgb.length / 3, 1, CAFFE_INPUT);
}
