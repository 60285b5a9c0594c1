/**
 * NumPy `.npy` files on disk (the codec is in `npy-codec.ts`).
 */
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../util/atomic-write.js';
import { decodeNpy, encodeNpy, type NpyArray } from './npy-codec.js';

export { decodeNpy, encodeNpy, type NpyArray } from './npy-codec.js';

/** Reads and decodes an `.npy` file ({@link decodeNpy}); errors name the file. */
export async function readNpy(path: string): Promise<NpyArray> {
  const bytes = await readFile(path);
  try {
    return decodeNpy(bytes);
  } catch (error) {
    throw new Error(`${path}: ${(error as Error).message}`, { cause: error });
  }
}

/** Encodes float32 data ({@link encodeNpy}) and writes it atomically to `path`. */
export async function writeNpy(path: string, data: Float32Array, shape: readonly number[]): Promise<void> {
  await writeFileAtomic(path, encodeNpy(data, shape));
}
