/**
 * Where the commands write, checked before anything expensive (weights download, model load):
 * one check for every command. An output folder (`explain`, `evaluate`, `merge`) is created
 * safely (see make-dir.ts), proven writable by writing a probe file, and cleared of temporary
 * files that an earlier run left behind when it was killed (SIGKILL cannot be caught). An
 * output file (`export`) must be a regular file or nothing, and never one of the command's
 * inputs. Virtual file systems (procfs, sysfs, …) are refused outright: writes there either
 * hang or reach the kernel, never a file.
 */
import { statfs, rm, rmdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { printable } from './printable.js';
import { checkReplaceable, writeFileAtomic } from '../util/atomic-write.js';
import { makeDirectory } from '../util/make-dir.js';
import { removeStaleTemporaryFiles } from '../util/temp-files.js';

/** What a prepared output leaves to the command. */
export interface PreparedOutput {
  /** Names of the stale temporary files removed. */
  stale: string[];
  /** Removes the folders created here again if they are still empty (when the run stops before any output). */
  undo: () => Promise<void>;
}

/** Kernel file systems that hold no files (statfs magic numbers, linux/magic.h). */
const VIRTUAL_FILE_SYSTEMS: ReadonlyMap<number, string> = new Map([
  [0x9fa0, 'procfs'],
  [0x62656572, 'sysfs'],
  [0x1cd1, 'devpts'],
  [0x27e0eb, 'cgroup'],
  [0x63677270, 'cgroup2'],
  [0x64626720, 'debugfs'],
  [0x74726163, 'tracefs'],
  [0x73636673, 'securityfs'],
  [0xcafe4a11, 'bpf'],
]);

/**
 * Creates `dir` if needed, checks it can be written, and removes stale temporary files whose
 * final name `isOurs` accepts.
 *
 * @throws Error `the output folder … is on procfs …`, `cannot create the directory …` or `the
 *   output folder … is not writable: …`.
 */
export async function prepareOutputFolder(dir: string, isOurs: (name: string) => boolean): Promise<PreparedOutput> {
  await refuseVirtual(dir, `the output folder ${printable(dir)}`);
  const created = await makeDirectory(dir);
  const undo = async (): Promise<void> => {
    for (const d of [...created].reverse()) await rmdir(d).catch(() => undefined);
  };
  try {
    await probeWritable(dir, `the output folder ${printable(dir)}`);
  } catch (error) {
    await undo();
    throw error;
  }
  return { stale: await removeStaleTemporaryFiles(dir, isOurs), undo };
}

/**
 * Checks an output file before anything is computed: a regular file or nothing may be at
 * `path`, it is none of `inputs` (compared by device and inode, so links to an input count as
 * the input), and its folder is created and writable.
 *
 * @param inputs the command's input files, as `[option, path]` (e.g. `['--weights', 'm.onnx']`).
 * @throws Error naming the path and what is wrong.
 */
export async function prepareOutputFile(path: string, inputs: readonly (readonly [string, string])[] = []): Promise<PreparedOutput> {
  const shown = printable(path);
  const existing = await checkReplaceable(path, shown);
  if (existing) {
    for (const [option, input] of inputs) {
      const other = await stat(input).catch(() => undefined);
      if (other && other.dev === existing.dev && other.ino === existing.ino) {
        throw new Error(`--out ${shown} is the ${option} file ${printable(input)}${resolve(path) === resolve(input) ? '' : ' (through a link)'}: writing it would destroy the input; choose another --out`);
      }
    }
  }
  const dir = dirname(path);
  await refuseVirtual(dir, `the folder of ${shown}`);
  const created = await makeDirectory(dir);
  const undo = async (): Promise<void> => {
    for (const d of [...created].reverse()) await rmdir(d).catch(() => undefined);
  };
  try {
    await probeWritable(dir, `the folder of ${shown}`);
  } catch (error) {
    await undo();
    throw error;
  }
  return { stale: await removeStaleTemporaryFiles(dir, (name) => name === basename(path)), undo };
}

/** Refuses a path on a kernel file system (checked on its deepest existing ancestor). */
async function refuseVirtual(path: string, what: string): Promise<void> {
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    const info = await statfs(dir).catch(() => undefined);
    if (info) {
      const name = VIRTUAL_FILE_SYSTEMS.get(Number(info.type));
      if (name) throw new Error(`${what} is on ${name} (${dir}), a kernel file system that holds no files: choose a folder on a disk`);
      return;
    }
    if (dirname(dir) === dir) return;
  }
}

async function probeWritable(dir: string, what: string): Promise<void> {
  const probe = join(dir, `.resnet-lrp-probe-${process.pid}`);
  try {
    await writeFileAtomic(probe, '');
  } catch (error) {
    const why = (error as Error).message.replace(`cannot write ${probe}: `, '');
    await rm(probe, { force: true });
    throw new Error(`${what} is not writable: ${why}`, { cause: error });
  }
  await rm(probe, { force: true });
}
