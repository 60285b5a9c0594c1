/**
 * The model's input description: how 8-bit RGB pixels become the tensor a model takes. The
 * model owns it (transformers.js attaches a processor to every model the same way), and
 * every consumer reads it from here: the image loader (preprocessing, resizing), the z_b
 * rule's bounds, and anything that builds perturbed inputs ("black" = pixel 0 through the
 * same preprocessing). This module is the single source of truth for the caffe and
 * torchvision constants.
 *
 * A preprocessed value is `(pixel · scale − mean[c]) / std[c]`, with `mean` and `std` in the
 * model's channel order. Browser-safe: no Node imports.
 */

/** Tensor layout of the model input as the user feeds it (and as its relevance comes back). */
export type InputLayout = 'NCHW' | 'NHWC';
/** Order of the colour channels in the model input. */
export type ChannelOrder = 'RGB' | 'BGR';

/**
 * How an image of any size becomes `size × size`: `resize` stretches it (Keras `load_img`),
 * `center-crop` resizes the shorter side to `resizeTo` (default: `size`) and cuts the centre
 * square out (torchvision's `Resize(256)` + `CenterCrop(224)` is `resizeTo: 256`).
 */
export interface ResizePolicy {
  readonly fit: 'resize' | 'center-crop';
  /** Shorter side before the centre crop; only for `center-crop`. */
  readonly resizeTo?: number;
}

export interface InputDescription {
  /** A short name for messages and metadata, e.g. `caffe` or `torchvision`. */
  readonly name: string;
  readonly layout: InputLayout;
  readonly channelOrder: ChannelOrder;
  /** Input height in pixels (and width, unless {@link width} is given). */
  readonly size: number;
  /** Input width in pixels, where it differs from {@link size} (a non-square input). */
  readonly width?: number;
  /** Multiplies raw 0..255 pixels first (1/255 for models that take [0, 1]). */
  readonly scale: number;
  /** Subtracted after scaling, per channel in model channel order. */
  readonly mean: readonly [number, number, number];
  /** Divides after the mean, per channel in model channel order. */
  readonly std: readonly [number, number, number];
  /** The default way images are fitted to `size`. */
  readonly resize: ResizePolicy;
}

/** Range of raw pixel values before preprocessing. */
export const PIXEL_MIN = 0;
export const PIXEL_MAX = 255;

/** ImageNet channel means in BGR order, as subtracted by `keras.applications.resnet.preprocess_input`. */
export const CAFFE_MEAN_BGR: readonly [number, number, number] = [103.939, 116.779, 123.68];

/** ImageNet mean and std in RGB order on the [0, 1] scale, as torchvision's `Normalize` uses them. */
export const IMAGENET_MEAN_RGB: readonly [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD_RGB: readonly [number, number, number] = [0.229, 0.224, 0.225];

/** Keras "caffe" preprocessing (ResNet50 from `keras.applications`): NHWC, BGR, mean subtracted. */
export const CAFFE_INPUT: InputDescription = {
  name: 'caffe',
  layout: 'NHWC',
  channelOrder: 'BGR',
  size: 224,
  scale: 1,
  mean: CAFFE_MEAN_BGR,
  std: [1, 1, 1],
  resize: { fit: 'resize' },
};

/** torchvision's ImageNet preprocessing: NCHW, RGB in [0, 1], normalised; Resize(256) + CenterCrop(224). */
export const TORCHVISION_INPUT: InputDescription = {
  name: 'torchvision',
  layout: 'NCHW',
  channelOrder: 'RGB',
  size: 224,
  scale: 1 / 255,
  mean: IMAGENET_MEAN_RGB,
  std: IMAGENET_STD_RGB,
  resize: { fit: 'center-crop', resizeTo: 256 },
};

/** The preprocessed value of a raw pixel value `pixel` in model channel `c`. */
export function preprocessValue(desc: InputDescription, pixel: number, c: number): number {
  return (pixel * desc.scale - desc.mean[c]!) / desc.std[c]!;
}

/**
 * Per-channel bounds of a preprocessed input (model channel order): the values of pixel 0
 * and pixel 255. The z_b rule uses them as its box; `low` is also "black".
 */
export function inputBounds(desc: InputDescription): { low: number[]; high: number[] } {
  const low = [0, 1, 2].map((c) => preprocessValue(desc, PIXEL_MIN, c));
  const high = [0, 1, 2].map((c) => preprocessValue(desc, PIXEL_MAX, c));
  // A negative std would swap the bounds; keep low < high whatever the description says.
  return { low: low.map((l, c) => Math.min(l, high[c]!)), high: high.map((h, c) => Math.max(h, low[c]!)) };
}

/** The preprocessed value of a black pixel (raw 0) per model channel. */
export function blackValues(desc: InputDescription): number[] {
  return [0, 1, 2].map((c) => preprocessValue(desc, PIXEL_MIN, c));
}

/** Height and width of the input in pixels. */
export function inputSize(desc: InputDescription): { height: number; width: number } {
  return { height: desc.size, width: desc.width ?? desc.size };
}

/** Shape of one preprocessed image in the description's layout (no batch dimension). */
export function imageShape(desc: InputDescription): [number, number, number] {
  const { height, width } = inputSize(desc);
  return desc.layout === 'NCHW' ? [3, height, width] : [height, width, 3];
}

/**
 * Preprocesses interleaved RGB pixels (height × width × 3, values 0..255) into the
 * model's input: its channel order, scale, mean, std and layout (one image, no batch dimension).
 */
export function preprocessRgb(rgb: ArrayLike<number>, width: number, height: number, desc: InputDescription): Float32Array {
  const pixels = width * height;
  if (rgb.length !== pixels * 3) throw new Error(`preprocess: expected ${width}×${height} interleaved RGB (${pixels * 3} values), got ${rgb.length}`);
  // Source channel (in RGB) of each model channel, and a table of the 256 preprocessed values.
  const source = desc.channelOrder === 'RGB' ? [0, 1, 2] : [2, 1, 0];
  const tables = [0, 1, 2].map((c) => Float32Array.from({ length: PIXEL_MAX + 1 }, (_, v) => preprocessValue(desc, v, c)));
  // 8-bit pixels go through the table; other numbers (e.g. resampled floats) are computed.
  const bytes = rgb instanceof Uint8Array || rgb instanceof Uint8ClampedArray;
  const out = new Float32Array(pixels * 3);
  const channelStride = desc.layout === 'NCHW' ? pixels : 1;
  const pixelStride = desc.layout === 'NCHW' ? 1 : 3;
  for (let c = 0; c < 3; c++) {
    const table = tables[c]!;
    const s = source[c]!;
    const base = c * channelStride;
    if (bytes) for (let p = 0; p < pixels; p++) out[base + p * pixelStride] = table[rgb[p * 3 + s]!]!;
    else for (let p = 0; p < pixels; p++) out[base + p * pixelStride] = preprocessValue(desc, rgb[p * 3 + s]!, c);
  }
  return out;
}

/**
 * Checks the user's changes to an input description (the `input` load option) before a model
 * is read: three finite means, three finite non-zero stds, a finite non-zero scale, a positive
 * integer size, a known channel order and resize policy.
 *
 * @throws TypeError / RangeError naming the field and the value given.
 */
export function checkInputChanges(changes: unknown): void {
  const show = (v: unknown): string => (Array.isArray(v) ? `[${v.map(String).join(', ')}]` : typeof v === 'string' ? JSON.stringify(v) : String(v));
  if (changes === null || typeof changes !== 'object' || Array.isArray(changes)) throw new TypeError(`input must be an object ({ mean, std, scale, size, resize, … }), got ${show(changes)}`);
  const c = changes as Record<string, unknown>;
  const triple = (key: 'mean' | 'std', ok: (x: number) => boolean, what: string): void => {
    const v = c[key];
    if (v === undefined) return;
    if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && ok(x))) {
      throw new RangeError(`input.${key} must be 3 ${what} (one per channel, model channel order), got ${show(v)}`);
    }
  };
  triple('mean', Number.isFinite, 'finite numbers');
  triple('std', (x) => Number.isFinite(x) && x !== 0, 'finite non-zero numbers');
  if (c.scale !== undefined && !(typeof c.scale === 'number' && Number.isFinite(c.scale) && c.scale !== 0)) throw new RangeError(`input.scale must be a finite non-zero number, got ${show(c.scale)}`);
  for (const key of ['size', 'width'] as const) {
    if (c[key] !== undefined && !(typeof c[key] === 'number' && Number.isSafeInteger(c[key]) && (c[key] as number) >= 1)) throw new RangeError(`input.${key} must be an integer ≥ 1, got ${show(c[key])}`);
  }
  if (c.channelOrder !== undefined && c.channelOrder !== 'RGB' && c.channelOrder !== 'BGR') throw new RangeError(`input.channelOrder must be "RGB" or "BGR", got ${show(c.channelOrder)}`);
  if (c.name !== undefined && typeof c.name !== 'string') throw new TypeError(`input.name must be a string, got ${show(c.name)}`);
  if (c.resize !== undefined) {
    const r = c.resize as Record<string, unknown> | null;
    if (r === null || typeof r !== 'object' || (r.fit !== 'resize' && r.fit !== 'center-crop')) throw new RangeError(`input.resize must be { fit: 'resize' } or { fit: 'center-crop', resizeTo? }, got ${show(r)}`);
    if (r.resizeTo !== undefined && !(typeof r.resizeTo === 'number' && Number.isSafeInteger(r.resizeTo) && r.resizeTo >= 1)) throw new RangeError(`input.resize.resizeTo must be an integer ≥ 1, got ${show(r.resizeTo)}`);
  }
}
