/**
 * The output folder, prepared before the model is loaded: created (safely, see make-dir.ts),
 * proven writable by writing a probe file, and cleared of temporary files that an earlier run
 * left behind when it was killed (SIGKILL cannot be caught).
 */
import { rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic-write.js';
import { makeDirectory } from '../util/make-dir.js';
import { removeStaleTemporaryFiles } from '../util/temp-files.js';
import { isOutputName } from './outputs.js';

/**
 * Creates `dir` if needed, checks it can be written, and removes stale temporary files of our
 * own output names.
 *
 * @returns the names of the stale temporary files removed, and a function that removes the
 *   folders created here again if they are still empty (when the run stops before any output).
 * @throws Error `cannot create the directory …` or `the output folder … is not writable: …`.
 */
export async function prepareOutputFolder(dir: string): Promise<{ stale: string[]; undo: () => Promise<void> }> {
  const created = await makeDirectory(dir);
  const undo = async (): Promise<void> => {
    for (const d of [...created].reverse()) await rmdir(d).catch(() => undefined);
  };
  const probe = join(dir, `.resnet-lrp-probe-${process.pid}`);
  try {
    await writeFileAtomic(probe, '');
  } catch (error) {
    const why = (error as Error).message.replace(`cannot write ${probe}: `, '');
    await rm(probe, { force: true });
    await undo();
    throw new Error(`the output folder ${dir} is not writable: ${why}`, { cause: error });
  }
  await rm(probe, { force: true });
  return { stale: await removeStaleTemporaryFiles(dir, isOutputName), undo };
}
