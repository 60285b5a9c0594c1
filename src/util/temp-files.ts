/**
 * Temporary files of this process (see atomic-write.ts): which exist right now, so a signal
 * handler can remove them, and which were left behind by a process that no longer runs
 * (SIGKILL, power loss), so the next run can remove them.
 *
 * Our temporary names are `<final name>.<pid>.<8 hex digits>.tmp`.
 */
import { unlinkSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

const live = new Set<string>();
/** Writes in flight (their temporary file may not exist yet: it is created on a worker thread). */
const pending = new Set<Promise<unknown>>();
let stopping = false;

/** The pattern of our temporary names; group 1 is the final name, group 2 the writer's pid. */
export const TEMPORARY_NAME = /^(.+)\.(\d+)\.[0-9a-f]{8}\.tmp$/;

export function registerTemporaryFile(path: string): void {
  live.add(path);
}

export function forgetTemporaryFile(path: string): void {
  live.delete(path);
}

/** Follows a write until it settles, so {@link stopWriting} can wait for it. */
export function trackWrite(write: Promise<unknown>): void {
  pending.add(write);
  const done = (): void => void pending.delete(write);
  write.then(done, done);
}

/** True once {@link stopWriting} was called: no new temporary file may be created. */
export function isStopping(): boolean {
  return stopping;
}

/**
 * For a signal handler: refuses new writes, removes the temporary files, waits (at most
 * `timeoutMs`) for the writes in flight — one may create its file on a worker thread after the
 * removal — and removes what they left.
 */
export async function stopWriting(timeoutMs = 2000): Promise<void> {
  stopping = true;
  removeTemporaryFilesNow();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.allSettled([...pending]), new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
  clearTimeout(timer);
  removeTemporaryFilesNow();
}

/** The temporary files this process is writing right now. */
export function liveTemporaryFiles(): string[] {
  return [...live];
}

/**
 * Removes every temporary file this process is writing, synchronously (for signal handlers,
 * which must finish before the process exits).
 */
export function removeTemporaryFilesNow(): void {
  for (const path of live) {
    try {
      unlinkSync(path);
    } catch {
      // already renamed or removed
    }
  }
  live.clear();
}

/**
 * Removes the temporary files in `dir` that a process which is no longer running left behind,
 * and whose final name `isOurs` accepts (e.g. ends in one of our output suffixes).
 *
 * @returns the names removed.
 */
export async function removeStaleTemporaryFiles(dir: string, isOurs: (finalName: string) => boolean): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const removed: string[] = [];
  for (const entry of entries) {
    const match = TEMPORARY_NAME.exec(entry.name);
    if (!match || !entry.isFile() || !isOurs(match[1]!)) continue;
    const pid = Number(match[2]);
    if (pid === process.pid || isRunning(pid)) continue; // a concurrent run still writing it
    await rm(join(dir, entry.name), { force: true });
    removed.push(entry.name);
  }
  return removed;
}

/** True while process `pid` exists (ours or another user's). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}
