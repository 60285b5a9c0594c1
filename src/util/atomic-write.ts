import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { makeDirectory, reason } from './make-dir.js';
import { forgetTemporaryFile, registerTemporaryFile } from './temp-files.js';

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
  await makeDirectory(dirname(path));
  const tmp = temporaryPathFor(path);
  registerTemporaryFile(tmp);
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw new Error(`cannot write ${path}: ${reason(error)}`, { cause: error });
  } finally {
    forgetTemporaryFile(tmp);
  }
}

export { removeTemporaryFilesNow } from './temp-files.js';
