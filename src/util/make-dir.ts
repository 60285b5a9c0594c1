/**
 * Creating a directory on a user-given path, one level at a time. Node's
 * `mkdir(…, { recursive: true })` retries forever where a file system answers ENOENT for a
 * directory whose parent exists (procfs, sysfs: `--out /proc/x` spun at 100 % CPU); here each
 * missing level gets exactly one `mkdir`, and every failure names the path and the reason.
 */
import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/**
 * Makes sure `path` is a directory, creating it and its missing parents.
 *
 * @returns the directories created, outermost first (empty when `path` existed).
 * @throws Error `cannot create the directory <path>: <reason>` (not a directory, permission
 *   denied, a file system that does not allow it, …).
 */
export async function makeDirectory(path: string): Promise<string[]> {
  if (path === '') throw new Error('cannot create a directory with an empty name');
  const target = resolve(path);
  const fail = (why: string, cause?: unknown): Error =>
    new Error(`cannot create the directory ${path}: ${why}`, cause === undefined ? undefined : { cause });
  // Walk up to the deepest existing ancestor; the levels below it are created top-down.
  const missing: string[] = [];
  for (let dir = target; ; dir = dirname(dir)) {
    const info = await stat(dir).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined;
      throw fail(`${dir}: ${reason(error)}`, error);
    });
    if (info) {
      if (!info.isDirectory()) throw fail(dir === target ? 'it exists and is not a directory' : `${dir} is not a directory`);
      break;
    }
    missing.push(dir);
    if (dirname(dir) === dir) break;
  }
  const created: string[] = [];
  for (const dir of missing.reverse()) {
    try {
      await mkdir(dir);
      created.push(dir);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // Created meanwhile by someone else: fine if it is a directory.
      if (code === 'EEXIST' && (await stat(dir).catch(() => undefined))?.isDirectory()) continue;
      // ENOENT although the parent exists: a virtual file system (procfs, sysfs) refusing it.
      const why = code === 'ENOENT' ? `${dirname(dir)} does not allow creating directories in it` : reason(error);
      throw fail(why, error);
    }
  }
  return created;
}

/** A short reason for a file-system error: `permission denied (EACCES)`, … */
export function reason(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  const known: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EROFS: 'read-only file system',
    ENOSPC: 'no space left on the device',
    EDQUOT: 'disk quota exceeded',
    ENOTDIR: 'a part of the path is not a directory',
    EISDIR: 'is a directory',
    ELOOP: 'too many levels of symbolic links (a symlink loop?)',
    ENAMETOOLONG: 'name too long',
    EEXIST: 'already exists',
  };
  if (e?.code && known[e.code]) return `${known[e.code]} (${e.code})`;
  return e instanceof Error ? e.message : String(error);
}

/** What a file that is not a regular file is, for messages: `a FIFO`, `a character device`, … */
export function fileKind(info: { isDirectory(): boolean; isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean }): string {
  return info.isDirectory() ? 'a directory'
    : info.isFIFO() ? 'a FIFO'
    : info.isCharacterDevice() ? 'a character device'
    : info.isBlockDevice() ? 'a block device'
    : info.isSocket() ? 'a socket'
    : 'not a file';
}
