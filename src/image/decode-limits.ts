/**
 * Limits of image decoding: a pixel limit (a 250 KB PNG can declare 16000 × 16000 pixels) and
 * the size a large image is shrunk to while it is decoded, so memory per image stays bounded
 * whatever the file declares. Browser-safe: no Node imports.
 */

/** Default largest image accepted, in pixels (120 MP: above the largest camera sensors, ~102 MP). */
export const DEFAULT_MAX_PIXELS = 120_000_000;

/**
 * Images up to this many pixels are decoded at full size and resampled exactly as Pillow does;
 * larger ones are shrunk by the decoder first (see {@link decodeTargetSize}).
 */
export const FULL_DECODE_PIXELS = 16_000_000;

/** A shrunk image keeps at least this many source pixels per output pixel along each axis. */
const SHRINK_MARGIN = 8;

/**
 * Refuses an image over `maxPixels`, with a message that says which option raises the limit.
 *
 * @throws Error `<name>: image is W × H (N megapixels), over the limit of M megapixels (maxPixels)`.
 */
export function checkPixelLimit(name: string, width: number, height: number, maxPixels: number): void {
  const pixels = width * height;
  if (pixels > maxPixels) {
    const mp = (n: number): string => `${Number((n / 1e6).toPrecision(3))} megapixels`;
    throw new Error(`${name}: image is ${width} × ${height} (${mp(pixels)}), over the limit of ${mp(maxPixels)} (maxPixels, --max-pixels)`);
  }
}

/**
 * The size an image of `width` × `height` (as displayed) is decoded at before it is resampled to
 * `size` × `size` by `fit`: unchanged up to {@link FULL_DECODE_PIXELS} (so ordinary photos are
 * bit-exact with Pillow); above, at most {@link SHRINK_MARGIN} × `size` per axis, which the
 * decoder does on load (JPEG, WebP) or while streaming (PNG, TIFF). `resize` shrinks each axis
 * on its own (`fill`); `center-crop` keeps the central square of the shorter side (`cover`),
 * which is all that the crop uses.
 *
 * @returns the decode size and how to reach it, or `undefined` for full size.
 */
export function decodeTargetSize(
  width: number,
  height: number,
  size: number,
  fit: 'resize' | 'center-crop',
): { width: number; height: number; fit: 'fill' | 'cover' } | undefined {
  if (width * height <= FULL_DECODE_PIXELS) return undefined;
  const limit = SHRINK_MARGIN * size;
  if (fit === 'resize') return { width: Math.min(width, limit), height: Math.min(height, limit), fit: 'fill' };
  const side = Math.min(width, height, limit);
  return { width: side, height: side, fit: 'cover' };
}

/** A decoder's error message in one line: libvips repeats lines (one per failed scanline). */
export function decoderMessage(message: string): string {
  const lines = message.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  return [...new Set(lines)].join('; ');
}
