/**
 * Reading an image file without trusting what the path points to: only regular files are read
 * (a FIFO would block forever, `/dev/zero` never ends), and only up to a size limit. The file
 * is opened without blocking and checked on the open handle, so what is checked is what is read.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { fileKind } from '../util/make-dir.js';

/** Default largest image file read, in bytes (256 MiB: far above any photo; TIFF scans fit). */
export const DEFAULT_MAX_IMAGE_BYTES = 256 * 1024 * 1024;

/**
 * Reads the regular file at `path`, at most `maxBytes` bytes.
 *
 * @throws Error whose message starts with `path` and says what is wrong: `no such file`,
 *   `is a directory`, `permission denied`, `not a regular file (a FIFO)`, `file is too large
 *   (… bytes, the limit is …)`, or `cannot be read (…)`.
 */
export async function readRegularFile(path: string, maxBytes: number = DEFAULT_MAX_IMAGE_BYTES): Promise<Uint8Array> {
  let handle: FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    throw new Error(`${path}: ${openProblem(error)}`, { cause: error });
  }
  try {
    const info = await handle.stat();
    if (info.isDirectory()) throw new Error(`${path}: is a directory`);
    if (!info.isFile()) throw new Error(`${path}: not a regular file (${fileKind(info)}); only regular files are read`);
    if (info.size > maxBytes) throw new Error(`${path}: file is too large (${info.size} bytes; the limit is ${maxBytes})`);
    // Read what stat promised and one byte more, to notice a file that grows while we read.
    const buffer = new Uint8Array(info.size + 1);
    let filled = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
      if (filled === buffer.length) throw new Error(`${path}: the file grew while it was read`);
    }
    return buffer.subarray(0, filled);
  } catch (error) {
    if (error instanceof Error && error.message.startsWith(`${path}: `)) throw error;
    throw new Error(`${path}: cannot be read (${(error as Error).message})`, { cause: error });
  } finally {
    await handle.close();
  }
}

/**
 * Reads a stream (stdin) to its end, refusing more than `maxBytes`.
 *
 * @throws Error `<name>: more than <maxBytes> bytes`.
 */
export async function readStreamBounded(stream: AsyncIterable<Uint8Array | string>, maxBytes: number, name: string): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const bytes = typeof chunk === 'string' ? new TextEncoder().encode(chunk) : chunk;
    total += bytes.length;
    if (total > maxBytes) throw new Error(`${name}: more than ${maxBytes} bytes (the limit)`);
    chunks.push(bytes);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function openProblem(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' ? 'no such file'
    : code === 'EISDIR' ? 'is a directory'
    : code === 'EACCES' || code === 'EPERM' ? 'permission denied'
    : code === 'ELOOP' ? 'too many levels of symbolic links (a symlink loop?)'
    : code === 'ENXIO' ? 'not a regular file (a socket or a device without a reader)'
    : `cannot be read (${(error as Error).message})`;
}
