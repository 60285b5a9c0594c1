import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import { rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileKind, makeDirectory, reason } from './make-dir.js';
import { forgetTemporaryFile, isStopping, registerTemporaryFile, trackWrite } from './temp-files.js';

/** A sibling temporary name for `path`: same directory, so the final rename is atomic. */
export function temporaryPathFor(path: string): string {
  return `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
}

/**
 * Writes `data` to `path` so that readers never see a half-written file: the bytes go to a
 * temporary sibling first, which is renamed over `path` once complete (and removed on failure,
 * or by {@link removeTemporaryFilesNow} when the process is stopped by a signal). Only a
 * regular file (or nothing) at `path` is replaced: a device node, FIFO, socket or directory
 * there is refused.
 *
 * @throws Error `cannot write <path>: <reason>` — the final name, never the temporary one.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const write = writeViaTemporary(path, data);
  trackWrite(write);
  return write;
}

/**
 * Refuses a `path` that holds something other than a regular file: the final rename would
 * replace a device node, FIFO or socket (as root: `/dev/full`) with our file.
 *
 * @returns what is at `path` (undefined when nothing is).
 * @throws Error `cannot write <shown>: it is a character device, not a regular file …`.
 */
export async function checkReplaceable(path: string, shown = path): Promise<Stats | undefined> {
  const existing = await stat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw new Error(`cannot write ${shown}: ${reason(error)}`, { cause: error });
  });
  if (existing && !existing.isFile()) {
    throw new Error(`cannot write ${shown}: it is ${fileKind(existing)}, not a regular file (outputs are written only where a regular file or nothing is)`);
  }
  return existing;
}

async function writeViaTemporary(path: string, data: string | Uint8Array): Promise<void> {
  const stopped = (): Error => new Error(`cannot write ${path}: the process is stopping (signal)`);
  if (isStopping()) throw stopped();
  await makeDirectory(dirname(path));
  await checkReplaceable(path);
  const tmp = temporaryPathFor(path);
  registerTemporaryFile(tmp);
  try {
    await writeFile(tmp, data);
    if (isStopping()) throw stopped();
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    if (error instanceof Error && error.message.startsWith(`cannot write ${path}: `)) throw error;
    throw new Error(`cannot write ${path}: ${reason(error)}`, { cause: error });
  } finally {
    forgetTemporaryFile(tmp);
  }
}

export { removeTemporaryFilesNow } from './temp-files.js';
