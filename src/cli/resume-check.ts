/**
 * What `--resume` trusts: an output counts as done only when it is complete — the PNGs decode
 * to their expected size, the .npy parses with the map's shape, the JSON parses and holds a
 * finite result. Anything else (empty, truncated, from another run's settings) is redone.
 */
import { readFile, stat } from 'node:fs/promises';
import sharp from 'sharp';
import { figureLayout } from '../image/figure.js';
import { decodeNpy } from '../image/npy.js';
import type { OutputFormat } from './outputs.js';

/** Outputs larger than this are not read back (none of ours comes close). */
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;

/**
 * True when the file at `path` is a complete output of `format` for a `width` × `height` map.
 * Never throws: a file that cannot be read is simply not complete.
 */
export async function isCompleteOutput(format: OutputFormat, path: string, width: number, height: number): Promise<boolean> {
  try {
    const info = await stat(path);
    if (!info.isFile() || info.size === 0 || info.size > MAX_OUTPUT_BYTES) return false;
    switch (format) {
      case 'png':
      case 'heatmap': {
        const expected = format === 'png' ? figureLayout(width, height) : { width, height };
        // Decoding every pixel (not just the header) finds a truncated file.
        const { info: decoded } = await sharp(path, { failOn: 'truncated' }).raw().toBuffer({ resolveWithObject: true });
        return decoded.width === expected.width && decoded.height === expected.height;
      }
      case 'npy': {
        const npy = decodeNpy(await readFile(path));
        return npy.shape.length === 2 && npy.shape[0] === height && npy.shape[1] === width && npy.data.every(Number.isFinite);
      }
      case 'trace': {
        // The chart's size depends on the trace length: a complete PNG is enough.
        const { info: decoded } = await sharp(path, { failOn: 'truncated' }).raw().toBuffer({ resolveWithObject: true });
        return decoded.width > 0 && decoded.height > 0;
      }
      case 'json': {
        const json = JSON.parse(await readFile(path, 'utf8')) as { prediction?: { classIndex?: unknown }; conservationError?: unknown };
        return Number.isInteger(json.prediction?.classIndex) && Number.isFinite(json.conservationError);
      }
    }
  } catch {
    return false;
  }
}

/** True when every output of one input is complete. */
export async function allComplete(paths: Partial<Record<OutputFormat, string>>, width: number, height: number): Promise<boolean> {
  const checks = await Promise.all(
    (Object.entries(paths) as [OutputFormat, string][]).map(([format, path]) => isCompleteOutput(format, path, width, height)),
  );
  return checks.every(Boolean);
}
