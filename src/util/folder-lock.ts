/**
 * One writer per output folder: a lock file created with O_EXCL that holds the writer's pid.
 * Two `evaluate --resume` runs on one folder would append the same records twice; the second
 * is refused instead. A lock whose pid no longer runs (a run killed with SIGKILL) is taken
 * over; a signal that can be caught removes the lock with the temporary files (signals.ts).
 */
import { link, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { reason } from './make-dir.js';
import { forgetTemporaryFile, isRunning, registerTemporaryFile } from './temp-files.js';

/** The lock file's name inside the locked folder. */
export const LOCK_FILE = '.resnet-lrp.lock';

/**
 * Locks `dir` for this process.
 *
 * @returns a function that releases the lock.
 * @throws Error `<dir> is in use by another run (pid N, lock file …)` while that pid runs.
 */
export async function lockFolder(dir: string): Promise<() => Promise<void>> {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; ; attempt++) {
    if (await create(path)) break;
    const holder = await readPid(path);
    if (holder === 'gone') continue; // released meanwhile: try again
    if (holder === undefined) {
      // Created but its pid not written yet: a run is starting right now.
      if (attempt < 20) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      throw new Error(`${dir} is locked by ${path}, which holds no process id: if no other run uses the folder, remove the file`);
    }
    // Our own pid in a lock we do not hold is a dead run's whose pid came back (containers
    // reuse small pids on every start): taken over like any dead run's.
    if (holder !== process.pid && isRunning(holder)) {
      throw new Error(
        `${dir} is in use by another run (pid ${holder}, lock file ${path}): wait for it to end, or choose another --out ` +
          '(if no run uses the folder, remove the lock file)',
      );
    }
    if (attempt >= 20) throw new Error(`${dir}: cannot take over the stale lock file ${path}`);
    await takeOver(path, holder);
  }
  registerTemporaryFile(path); // removed if the process is stopped by a signal
  return async () => {
    forgetTemporaryFile(path);
    await rm(path, { force: true });
  };
}

/** Creates the lock with our pid; false when it exists. */
async function create(path: string): Promise<boolean> {
  let file;
  try {
    file = await open(path, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new Error(`cannot create the lock file ${path}: ${reason(error)}`, { cause: error });
  }
  try {
    await file.writeFile(`${process.pid}\n`);
  } finally {
    await file.close();
  }
  return true;
}

async function readPid(path: string): Promise<number | 'gone' | undefined> {
  const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return 'gone' as const;
    throw new Error(`cannot read the lock file ${path}: ${reason(error)}`, { cause: error });
  });
  if (text === 'gone') return text;
  const pid = /^(\d+)\n$/.exec(text)?.[1];
  return pid === undefined ? undefined : Number(pid);
}

/**
 * Moves a dead run's lock aside (rename is atomic: of two runs taking it over, one moves it).
 * If what was moved is no longer that lock (another run took over first and locked anew), it
 * is put back.
 */
async function takeOver(path: string, dead: number): Promise<void> {
  const aside = `${path}.${process.pid}.stale`;
  try {
    await rename(path, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new Error(`cannot take over the stale lock file ${path}: ${reason(error)}`, { cause: error });
  }
  if ((await readPid(aside)) !== dead) await link(aside, path).catch(() => undefined);
  await rm(aside, { force: true });
}
