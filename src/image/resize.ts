/**
 * Fitting decoded RGB pixels into the model's square input: Pillow-exact bilinear resampling
 * and the resize / centre-crop policies. Pure TypeScript (no Node, no sharp): the Node loader
 * and the browser share it, so both give the same model input for the same pixels.
 */
import type { InputDescription } from '../model/input.js';

/** How the image is fitted into the square model input. */
export type FitMode = 'resize' | 'center-crop';

/** Interleaved 8-bit RGB pixels, height × width × 3, row-major. */
export interface RawRgb {
  data: Uint8Array;
  width: number;
  height: number;
}

/**
 * The description's shorter side before the crop (torchvision: 256 for 224), at its own size
 * only; `undefined` when the image is resized as a whole or cropped at `size`.
 */
export function cropResizeTo(description: InputDescription, size: number, fit: FitMode): number | undefined {
  return fit === 'center-crop' && description.resize.fit === 'center-crop' && size === description.size && description.width === undefined ? description.resize.resizeTo : undefined;
}

/**
 * Stage 2 for any height × width: a square target goes through {@link fitToSquare}; otherwise
 * `resize` stretches the whole image and `center-crop` scales it to cover the target (keeping
 * its aspect ratio) and cuts out the centre.
 */
export function fitTo(image: RawRgb, outHeight: number, outWidth: number, fit: FitMode, resizeTo?: number): Uint8Array {
  if (outHeight === outWidth) return fitToSquare(image, outHeight, fit, resizeTo);
  const { data, width, height } = image;
  if (fit === 'resize') return resizeBilinear(data, width, height, outWidth, outHeight);
  const scale = Math.max(outWidth / width, outHeight / height);
  const scaledWidth = Math.max(outWidth, Math.round(width * scale));
  const scaledHeight = Math.max(outHeight, Math.round(height * scale));
  const left = Math.floor((scaledWidth - outWidth) / 2);
  const top = Math.floor((scaledHeight - outHeight) / 2);
  return cropRgb(resizeBilinear(data, width, height, scaledWidth, scaledHeight), scaledWidth, left, top, outWidth, outHeight);
}

/** The `outWidth × outHeight` window at (`left`, `top`) of an interleaved RGB image `width` pixels wide. */
function cropRgb(rgb: Uint8Array, width: number, left: number, top: number, outWidth: number, outHeight: number): Uint8Array {
  const out = new Uint8Array(outWidth * outHeight * 3);
  for (let y = 0; y < outHeight; y++) {
    const from = ((top + y) * width + left) * 3;
    out.set(rgb.subarray(from, from + outWidth * 3), y * outWidth * 3);
  }
  return out;
}

/**
 * Stage 2: bilinear resize (whole image, or shorter side + centre crop) to size×size. With
 * `resizeTo` the crop is torchvision's `Resize(resizeTo)` + `CenterCrop(size)` to the pixel:
 * the longer side truncated, the offset rounded half to even.
 */
export function fitToSquare(image: RawRgb, size: number, fit: FitMode, resizeTo?: number): Uint8Array {
  const { data, width, height } = image;
  if (fit === 'resize') return resizeBilinear(data, width, height, size, size);
  let scaledWidth: number;
  let scaledHeight: number;
  let left: number;
  let top: number;
  if (resizeTo !== undefined && resizeTo >= size) {
    const long = Math.floor((resizeTo * Math.max(width, height)) / Math.min(width, height));
    [scaledWidth, scaledHeight] = width <= height ? [resizeTo, long] : [long, resizeTo];
    left = roundHalfEven((scaledWidth - size) / 2);
    top = roundHalfEven((scaledHeight - size) / 2);
  } else {
    // Shorter side → size, longer side scaled alike (rounded), then the central square; an odd
    // surplus leaves the extra pixel on the right / bottom.
    scaledWidth = width <= height ? size : Math.max(size, Math.round((width * size) / height));
    scaledHeight = width <= height ? Math.max(size, Math.round((height * size) / width)) : size;
    left = Math.floor((scaledWidth - size) / 2);
    top = Math.floor((scaledHeight - size) / 2);
  }
  return cropRgb(resizeBilinear(data, width, height, scaledWidth, scaledHeight), scaledWidth, left, top, size, size);
}

/** Python's `round`: halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Pillow's fixed-point precision for 8-bit resampling (`PRECISION_BITS = 32 - 8 - 2`). */
const PRECISION_BITS = 22;
const PRECISION_SCALE = 2 ** PRECISION_BITS;

/** Per output pixel: first source index, tap count and fixed-point weights of one axis. */
interface AxisCoefficients {
  first: Int32Array;
  count: Int32Array;
  taps: number;
  weights: Int32Array;
}

/**
 * Pillow's `precompute_coeffs` for the bilinear (triangle) filter: pixel centres aligned, and
 * when shrinking the filter is widened by the scale so every source pixel contributes
 * (antialiasing); weights normalised, then rounded to {@link PRECISION_BITS} fixed point.
 */
function axisCoefficients(inSize: number, outSize: number): AxisCoefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterScale; // the triangle's support is 1, widened by the scale
  const taps = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * taps);
  const w = new Float64Array(taps);
  for (let o = 0; o < outSize; o++) {
    const centre = (o + 0.5) * scale;
    const lo = Math.max(0, Math.trunc(centre - support + 0.5));
    const n = Math.min(inSize, Math.trunc(centre + support + 0.5)) - lo;
    let total = 0;
    for (let k = 0; k < n; k++) {
      const t = Math.abs((k + lo - centre + 0.5) / filterScale);
      w[k] = t < 1 ? 1 - t : 0;
      total += w[k]!;
    }
    for (let k = 0; k < n; k++) {
      const v = total !== 0 ? w[k]! / total : w[k]!;
      weights[o * taps + k] = Math.trunc(v * PRECISION_SCALE + (v < 0 ? -0.5 : 0.5));
    }
    first[o] = lo;
    count[o] = n;
  }
  return { first, count, taps, weights };
}

/** Fixed-point accumulator → byte, as Pillow's `clip8`. */
function clip8(acc: number): number {
  const v = Math.floor(acc / PRECISION_SCALE);
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/**
 * Bilinear resize of interleaved RGB, bit-exact with Pillow's `Image.resize(size, BILINEAR)`
 * on 8-bit RGB: separable, horizontal pass first, each pass rounded to 8 bits; an axis whose
 * size does not change is copied, not filtered.
 */
export function resizeBilinear(rgb: Uint8Array, width: number, height: number, outWidth: number, outHeight: number): Uint8Array {
  if (rgb.length !== width * height * 3) throw new Error(`resizeBilinear: expected ${width}×${height}×3 bytes, got ${rgb.length}`);
  let current = rgb;
  if (outWidth !== width) {
    const { first, count, taps, weights } = axisCoefficients(width, outWidth);
    const out = new Uint8Array(outWidth * height * 3);
    for (let y = 0; y < height; y++) {
      const row = y * width;
      for (let o = 0; o < outWidth; o++) {
        const lo = first[o]!;
        const n = count[o]!;
        let r = PRECISION_SCALE / 2;
        let g = r;
        let b = r;
        for (let k = 0; k < n; k++) {
          const wk = weights[o * taps + k]!;
          const s = (row + lo + k) * 3;
          r += current[s]! * wk;
          g += current[s + 1]! * wk;
          b += current[s + 2]! * wk;
        }
        const d = (y * outWidth + o) * 3;
        out[d] = clip8(r);
        out[d + 1] = clip8(g);
        out[d + 2] = clip8(b);
      }
    }
    current = out;
  }
  if (outHeight !== height) {
    const { first, count, taps, weights } = axisCoefficients(height, outHeight);
    const out = new Uint8Array(outWidth * outHeight * 3);
    const stride = outWidth * 3;
    for (let o = 0; o < outHeight; o++) {
      const lo = first[o]!;
      const n = count[o]!;
      for (let x = 0; x < stride; x++) {
        let acc = PRECISION_SCALE / 2;
        for (let k = 0; k < n; k++) acc += current[(lo + k) * stride + x]! * weights[o * taps + k]!;
        out[o * stride + x] = clip8(acc);
      }
    }
    current = out;
  }
  return current === rgb ? rgb.slice() : current;
}
