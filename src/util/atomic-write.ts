import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { makeDirectory, reason } from './make-dir.js';
import { forgetTemporaryFile, isStopping, registerTemporaryFile, trackWrite } from './temp-files.js';

/** A sibling temporary name for `path`: same directory, so the final rename is atomic. */
export function temporaryPathFor(path: string): string {
  return `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
}

/**
 * Writes `data` to `path` so that readers never see a half-written file: the bytes go to a
 * temporary sibling first, which is renamed over `path` once complete (and removed on failure,
 * or by {@link removeTemporaryFilesNow} when the process is stopped by a signal).
 *
 * @throws Error `cannot write <path>: <reason>` — the final name, never the temporary one.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const write = writeViaTemporary(path, data);
  trackWrite(write);
  return write;
}

async function writeViaTemporary(path: string, data: string | Uint8Array): Promise<void> {
  const stopped = (): Error => new Error(`cannot write ${path}: the process is stopping (signal)`);
  if (isStopping()) throw stopped();
  await makeDirectory(dirname(path));
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
