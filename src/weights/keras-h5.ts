/**
 * Reader for Keras HDF5 weight files (`model.save_weights('x.h5')` and whole-model `.h5`
 * files), built on h5wasm.
 *
 * The bytes are checked before h5wasm sees them (HDF5 signature, superblock end-of-file
 * address against the file size), so the common failures — wrong file, interrupted
 * download — get a one-line message instead of an HDF5 error stack. Everything h5wasm does
 * is wrapped: errors come back as `Error`s that name the file, never as a crash.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import h5wasm from 'h5wasm/node';
import { checkHeader, h5wasmModule, readOpened, withThrowingErrors, type ByteReader, type ReadKerasH5Options, type KerasWeightFile } from './keras-h5-reader.js';

export type { KerasWeightFile, KerasWeightShapes, ReadKerasH5Options } from './keras-h5-reader.js';

/**
 * Reads a Keras HDF5 weight file.
 *
 * @param source - a file path, or the file's bytes.
 * @param label - how error messages name the file; defaults to the path
 *   (or `"<in-memory HDF5>"` for bytes).
 * @throws Error naming the file when it is not HDF5, truncated, not in Keras layout, declares
 *   an uncompressed dataset larger than the file, or is unreadable (e.g. unsupported dtype).
 */
export async function readKerasH5(source: string | Uint8Array, label?: string, options: ReadKerasH5Options = {}): Promise<KerasWeightFile> {
  const name = label ?? (typeof source === 'string' ? source : '<in-memory HDF5>');
  let h5Path: string;
  let tempPath: string | undefined;
  let fileSize: number;
  if (typeof source === 'string') {
    h5Path = resolve(source);
    fileSize = await checkHeaderOfFile(h5Path, name);
  } else {
    fileSize = source.length;
    await checkHeader((offset, length) => source.subarray(offset, offset + length), source.length, name);
    // The node build of h5wasm reads the host file system (NODERAWFS): bytes go through a
    // uniquely named temp file, removed again below.
    tempPath = join(tmpdir(), `resnet-lrp-${process.pid}-${randomBytes(8).toString('hex')}.h5`);
    h5Path = tempPath;
  }
  try {
    if (tempPath) await writeFile(tempPath, source as Uint8Array);
    const module = await h5wasmModule(h5wasm, name);
    return withThrowingErrors(module, () => readOpened(h5wasm, h5Path, name, fileSize, options));
  } catch (err) {
    // Safety net: whatever failed (temp file, an aborted wasm module), the message names the file.
    const message = err instanceof Error ? err.message : String(err);
    if (message.startsWith(`${name}: `)) throw err;
    throw new Error(`${name}: ${message}`, { cause: err });
  } finally {
    if (tempPath) await rm(tempPath, { force: true });
  }
}

// ---------------------------------------------------------------------------------------
// HDF5 header checks of a file on disk

/** Checks the header of the file at `path`; returns its size. */
async function checkHeaderOfFile(path: string, name: string): Promise<number> {
  let handle;
  try {
    // O_NONBLOCK: opening a FIFO would otherwise wait for a writer (it is refused below).
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw new Error(`${name}: cannot open: ${(err as Error).message}`, { cause: err });
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw new Error(`${name}: not a regular file`);
    const read: ByteReader = async (offset, length) => {
      const buffer = new Uint8Array(length);
      const { bytesRead } = await handle.read(buffer, 0, length, offset);
      return buffer.subarray(0, bytesRead);
    };
    await checkHeader(read, stats.size, name);
    return stats.size;
  } finally {
    await handle.close();
  }
}
