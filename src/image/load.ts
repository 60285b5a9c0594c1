/**
 * Image loading: any file sharp can decode → a size×size 8-bit sRGB RGB image plus the
 * model input, preprocessed as the model's input description says (layout, channel order,
 * scale, mean, std; Keras caffe by default). Size and resize policy come from the same
 * description, so a model's images are never preprocessed by hand.
 *
 * Decisions, each matching what the reference fixtures or common practice do:
 * - **Decoding** is sharp's; **resampling** is {@link resizeBilinear}, a port of Pillow's
 *   bilinear `Image.resize` (what Keras' `load_img(…, interpolation='bilinear')` calls). Keras
 *   defaults to `nearest`, but the reference fixture `input_224.png` was made with bilinear and
 *   this reproduces it bit for bit; sharp's own `linear` kernel is off by up to 2 grey levels
 *   there and shifts upsampled images by a fraction of a pixel.
 * - **Transparency**: flattened onto white. (PIL's `convert('RGB')`, which Keras uses, simply
 *   drops alpha, exposing whatever colour transparent pixels happen to store — often black.)
 * - **Orientation**: the EXIF orientation is applied first, so `originalWidth`/`originalHeight`
 *   are the dimensions as displayed.
 * - **Colour**: grayscale, CMYK, 16-bit and ICC-tagged inputs are converted to 8-bit sRGB;
 *   animated / multi-page inputs (GIF, WebP, TIFF) use their first frame.
 */
import sharp, { type Sharp } from 'sharp';
import { CAFFE_INPUT, inputSize, preprocessRgb, type InputDescription } from '../model/input.js';
import { describeValue } from '../runtime/input-checks.js';
import { checkPixelLimit, decodeTargetSize, decoderMessage, DEFAULT_MAX_PIXELS } from './decode-limits.js';
import { DEFAULT_MAX_IMAGE_BYTES, readRegularFile } from './read-file.js';
import { cropResizeTo, fitTo, type FitMode, type RawRgb } from './resize.js';

export type { FitMode } from './resize.js';
export { resizeBilinear } from './resize.js';

/** Options of {@link loadImage}. */
export interface LoadImageOptions {
  /**
   * The model's input description: preprocessing, size and default fit (default: Keras caffe
   * at 224, fit `resize`). `model.loadImage(…)` passes the model's own.
   */
  input?: InputDescription;
  /** Side of the square output in pixels. Default: the description's size (224). */
  size?: number;
  /**
   * `'resize'`: the whole image is resized to size×size, ignoring its aspect ratio (like Keras
   * `load_img(target_size=(size, size))`). `'center-crop'`: the shorter side is resized (to
   * the description's `resizeTo`, e.g. torchvision's 256, else to `size`), then the central
   * size×size square is cut out. Default: the description's policy.
   */
  fit?: FitMode;
  /**
   * Largest image accepted, in pixels (width × height as declared by the file). Default
   * {@link DEFAULT_MAX_PIXELS} (120 MP). Images above 16 MP are shrunk while decoding, so memory
   * stays bounded whatever the size.
   */
  maxPixels?: number;
  /** Largest file read, in bytes. Default {@link DEFAULT_MAX_IMAGE_BYTES} (256 MiB). */
  maxBytes?: number;
}

/** A decoded image ready for the model. */
export interface LoadedImage {
  /** The file path it was loaded from, or `'<buffer>'` for in-memory bytes. */
  readonly source: string;
  /** Interleaved RGB pixels, height × width × 3, row-major, 8-bit sRGB. */
  readonly rgb: Uint8Array;
  readonly width: number;
  readonly height: number;
  /** Dimensions of the decoded image after EXIF orientation, before resizing. */
  readonly originalWidth: number;
  readonly originalHeight: number;
  /** The model input: `rgb` preprocessed by the description, in its layout (caffe: H × W × 3, BGR, mean subtracted). */
  readonly input: Float32Array;
  /** The description the input was made with. */
  readonly description: InputDescription;
}

/** Default model input side (ResNet50). */
export const DEFAULT_IMAGE_SIZE = 224;

const BUFFER_SOURCE = '<buffer>';

/**
 * Decodes an image file or buffer and fits it to a size×size RGB model input.
 *
 * @throws Error whose message starts with the file name (or `<buffer>`) and says what is wrong:
 *   `no such file`, `file is empty`, `is a directory`, `not a regular file` (FIFOs, devices),
 *   `file is too large`, `image is W × H (…), over the limit`, `not a supported image (…)`, or
 *   `could not be decoded (…)` for truncated / corrupt data.
 */
export async function loadImage(source: string | Uint8Array, options: LoadImageOptions = {}): Promise<LoadedImage> {
  const description = options.input ?? CAFFE_INPUT;
  const size = options.size ?? description.size ?? DEFAULT_IMAGE_SIZE;
  const fit = options.fit ?? description.resize.fit;
  if (!Number.isInteger(size) || size < 1) {
    throw new Error(`loadImage: size must be a positive integer, got ${String(size)}`);
  }
  if (fit !== 'resize' && fit !== 'center-crop') {
    throw new Error(`loadImage: fit must be 'resize' or 'center-crop', got ${String(fit)}`);
  }

  if (typeof source !== 'string' && !(source instanceof Uint8Array)) {
    throw new TypeError(`loadImage takes a file path or the file's bytes (Uint8Array), got ${describeValue(source)}`);
  }
  const name = typeof source === 'string' ? source : BUFFER_SOURCE;
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (!(maxPixels > 0)) throw new Error(`loadImage: maxPixels must be a number > 0, got ${String(maxPixels)}`);
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_IMAGE_BYTES;
  // NaN would fail every "larger than" test and switch the limit off.
  if (typeof maxBytes !== 'number' || !(maxBytes >= 1)) throw new RangeError(`loadImage: maxBytes must be a number ≥ 1, got ${String(maxBytes)}`);
  const bytes = typeof source === 'string' ? await readRegularFile(source, maxBytes) : source;
  if (bytes.length === 0) {
    throw new Error(`${name}: ${typeof source === 'string' ? 'file' : 'buffer'} is empty`);
  }

  // A non-square model input (no `size` override): its own height × width.
  const height = size;
  const width = options.size === undefined ? inputSize(description).width : size;
  // The description's shorter side before the crop (torchvision: 256 for 224), at its own size only.
  const resizeTo = cropResizeTo(description, size, fit);
  const decoded = await decodeToSrgb(bytes, name, { size: Math.max(height, width, resizeTo ?? 0), fit, maxPixels });
  const rgb = fitTo(decoded, height, width, fit, resizeTo);
  return {
    source: name,
    rgb,
    width,
    height,
    originalWidth: decoded.originalWidth,
    originalHeight: decoded.originalHeight,
    input: preprocessRgb(rgb, width, height, description),
    description,
  };
}

/**
 * Stage 1 (sharp): decode to oriented, opaque, 8-bit sRGB — at full size, so that resampling
 * sees exactly the pixels Pillow would, unless the image is large (see decodeTargetSize).
 */
async function decodeToSrgb(bytes: Uint8Array, name: string, limits: { size: number; fit: FitMode; maxPixels: number }): Promise<RawRgb & { originalWidth: number; originalHeight: number }> {
  let pipeline: Sharp;
  let width: number;
  let height: number;
  try {
    // failOn 'error': reject truncated/corrupt pixel data, but tolerate mere warnings
    // (e.g. extraneous bytes) that other decoders also accept. sequentialRead lets a shrinking
    // decode stream instead of holding the full-size image. The pixel limit is ours (below,
    // with a message that says which option raises it), checked before anything is decoded.
    pipeline = sharp(bytes, { failOn: 'error', limitInputPixels: false, sequentialRead: true });
    const meta = await pipeline.metadata();
    if (!meta.width || !meta.height) throw new Error('no image dimensions');
    // EXIF orientations 5–8 swap the axes.
    [width, height] = (meta.orientation ?? 1) >= 5 ? [meta.height, meta.width] : [meta.width, meta.height];
  } catch (error) {
    throw new Error(`${name}: not a supported image (${decoderMessage((error as Error).message)})`, { cause: error });
  }
  checkPixelLimit(name, width, height, limits.maxPixels);
  const target = decodeTargetSize(width, height, limits.size, limits.fit);
  try {
    const oriented = pipeline.rotate();
    const { data, info } = await (target ? oriented.resize(target.width, target.height, { fit: target.fit }) : oriented)
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) {
      throw new Error(`expected 3 channels after conversion to sRGB, got ${info.channels}`);
    }
    const pixels = new Uint8Array(data.buffer, data.byteOffset, data.length);
    return { data: pixels, width: info.width, height: info.height, originalWidth: width, originalHeight: height };
  } catch (error) {
    throw new Error(`${name}: could not be decoded (${decoderMessage((error as Error).message)})`, { cause: error });
  }
}
