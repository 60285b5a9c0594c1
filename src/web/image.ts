/**
 * Images in the browser: decoding and fitting a photo to a model's input (on a page or in a
 * worker: it needs only `createImageBitmap` and `OffscreenCanvas`), and drawing RGB pixels and
 * the Node figure on a page's canvas.
 */
import { checkPixelLimit, DEFAULT_MAX_PIXELS } from '../image/decode-limits.js';
import { figurePieces, BACKGROUND, type FigureOptions } from '../image/figure-parts.js';
import { cropResizeTo, fitTo, type FitMode } from '../image/resize.js';
import { inputSize, preprocessRgb, type InputDescription } from '../model/input.js';

/** An image decoded by the browser and fitted to the model. */
export interface WebImage {
  /** Interleaved RGB of the fitted image, size × size × 3. */
  rgb: Uint8Array;
  width: number;
  height: number;
  originalWidth: number;
  originalHeight: number;
  /** The model input, preprocessed as the description says. */
  input: Float32Array;
}

/**
 * Decodes an image (any format the browser reads), flattens transparency onto white and fits
 * it to the model's input with the Node loader's resampling (equal input for PNGs).
 *
 * @throws Error `<name>: not a supported image (…)` or over the pixel limit.
 */
export async function decodeImage(
  source: Blob | ArrayBuffer | Uint8Array,
  description: InputDescription,
  options: { fit?: FitMode; name?: string; maxPixels?: number } = {},
): Promise<WebImage> {
  const name = options.name ?? ((source as File).name || '<image>');
  const blob = source instanceof Blob ? source : new Blob([source as ArrayBuffer]);
  if (blob.size === 0) throw new Error(`${name}: the file is empty`);
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none', imageOrientation: 'from-image' });
  } catch (err) {
    throw new Error(`${name}: not a supported image (the browser cannot decode it: ${(err as Error).message || 'unknown format or corrupt data'})`, { cause: err });
  }
  const { width, height } = bitmap;
  checkPixelLimit(name, width, height, options.maxPixels ?? DEFAULT_MAX_PIXELS);
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, width, height);
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  const rgba = ctx.getImageData(0, 0, width, height).data;
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    rgb[j] = rgba[i]!;
    rgb[j + 1] = rgba[i + 1]!;
    rgb[j + 2] = rgba[i + 2]!;
  }
  const { height: outHeight, width: outWidth } = inputSize(description);
  const fit = options.fit ?? description.resize.fit;
  const fitted = fitTo({ data: rgb, width, height }, outHeight, outWidth, fit, cropResizeTo(description, outHeight, fit));
  return { rgb: fitted, width: outWidth, height: outHeight, originalWidth: width, originalHeight: height, input: preprocessRgb(fitted, outWidth, outHeight, description) };
}

/** Interleaved RGB → RGBA `ImageData`. */
export function rgbToImageData(rgb: Uint8Array, width: number, height: number): ImageData {
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let i = 0, j = 0; j < rgb.length; i += 4, j += 3) {
    rgba[i] = rgb[j]!;
    rgba[i + 1] = rgb[j + 1]!;
    rgba[i + 2] = rgb[j + 2]!;
    rgba[i + 3] = 255;
  }
  return new ImageData(rgba, width, height);
}

/** The Node figure (panels, colour bar, title, captions) drawn on a canvas; `.toBlob()` gives the PNG. */
export async function renderFigureCanvas(options: FigureOptions): Promise<HTMLCanvasElement> {
  const { layout, blocks, svg } = figurePieces(options);
  const canvas = document.createElement('canvas');
  canvas.width = layout.width;
  canvas.height = layout.height;
  const ctx = canvas.getContext('2d')!;
  ctx.fillStyle = BACKGROUND;
  ctx.fillRect(0, 0, layout.width, layout.height);
  for (const { rgb, rect } of blocks) ctx.putImageData(rgbToImageData(rgb, rect.width, rect.height), rect.left, rect.top);
  const url = URL.createObjectURL(new Blob([svg], { type: 'image/svg+xml' }));
  try {
    const text = new Image();
    text.src = url;
    await text.decode();
    ctx.drawImage(text, 0, 0);
  } finally {
    URL.revokeObjectURL(url);
  }
  return canvas;
}
