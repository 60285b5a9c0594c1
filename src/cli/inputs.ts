/**
 * From command-line arguments to a list of image files, each with a unique output name.
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve, sep } from 'node:path';

/** The input that means standard input. */
export const STDIN_INPUT = '-';

/** One image to explain. */
export interface InputFile {
  /** The path as given (or folder + entry), used in messages. */
  readonly path: string;
  /** Base of the output file names, unique among the inputs of one run. */
  readonly name: string;
}

/**
 * Expands the arguments: a folder becomes the files in it (not recursively) whose extension is
 * in `extensions` (case-insensitive), sorted by name; a file is taken as is, whatever its
 * extension (naming it says it is meant to be read; a non-image fails with a clear message
 * later); a path that does not exist is kept too, so it is reported as a failed input while
 * the others are still processed. The same file given twice is processed once. In a folder,
 * entries that are not regular files (FIFOs, devices, symlinks to them) are kept too, so that
 * they are reported (the reader refuses them) rather than silently ignored.
 *
 * Files that `isOwnOutput` accepts (this program's own outputs, e.g. `cat.lrp.png` when
 * `--out` is the input folder) are never inputs: they are left out and listed in `ownOutputs`.
 *
 * @returns the files and, separately, folders that held no images (for a warning) and the
 *   outputs left out.
 */
export async function expandInputs(
  args: readonly string[],
  extensions: readonly string[],
  isOwnOutput: (name: string) => boolean = () => false,
): Promise<{ files: string[]; emptyFolders: string[]; ownOutputs: string[] }> {
  const files: string[] = [];
  const emptyFolders: string[] = [];
  const ownOutputs: string[] = [];
  const seen = new Set<string>();
  const add = (path: string): void => {
    const key = resolve(path);
    if (!seen.has(key)) {
      seen.add(key);
      files.push(path);
    }
  };
  for (const arg of args) {
    if (arg === STDIN_INPUT) {
      add(arg);
      continue;
    }
    const info = await stat(arg).catch(() => undefined);
    if (!info?.isDirectory()) {
      if (isOwnOutput(basename(arg))) ownOutputs.push(arg);
      else add(arg);
      continue;
    }
    const entries = await readdir(arg, { withFileTypes: true });
    const images: string[] = [];
    const outputsBefore = ownOutputs.length;
    for (const entry of entries) {
      if (!extensions.includes(extname(entry.name).toLowerCase())) continue;
      const path = join(arg, entry.name);
      if (isOwnOutput(entry.name)) {
        ownOutputs.push(path);
        continue;
      }
      // Anything but a folder (or a symlink to one): non-regular files are refused when read.
      const isDirectory = entry.isDirectory() || (entry.isSymbolicLink() && (await stat(path).catch(() => undefined))?.isDirectory());
      if (!isDirectory) images.push(path);
    }
    // Code-unit order: the same on every machine and locale.
    images.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    if (images.length === 0 && ownOutputs.length === outputsBefore) emptyFolders.push(arg);
    images.forEach(add);
  }
  return { files, emptyFolders, ownOutputs };
}

/**
 * Gives every file an output name: its base name without extension, unless another input has
 * the same one (compared case-insensitively, for case-insensitive file systems). Colliding
 * names get parent folder names prefixed, one level at a time until they differ
 * (`a/cat.png`, `b/cat.png` → `a_cat`, `b_cat`); files differing only in extension keep it
 * (`cat.png`, `cat.jpg` → `cat_png`, `cat_jpg`); anything still equal gets `-2`, `-3`, ….
 * Names depend only on the set of inputs, so a rerun (e.g. `--resume`) finds the same files.
 */
export function assignOutputNames(paths: readonly string[]): InputFile[] {
  const parts = paths.map((p) => {
    if (p === STDIN_INPUT) return { stem: 'stdin', ext: '', dirs: [] as string[] };
    const dirs = dirname(resolve(p)).split(sep).filter((s) => s !== '');
    const ext = extname(p);
    return { stem: basename(p, ext) || basename(p), ext: ext.slice(1), dirs };
  });
  const names = parts.map((p) => p.stem);
  const key = (name: string): string => name.toLowerCase();
  const collisions = (): number[][] => {
    const groups = new Map<string, number[]>();
    names.forEach((n, i) => groups.set(key(n), [...(groups.get(key(n)) ?? []), i]));
    return [...groups.values()].filter((g) => g.length > 1);
  };

  for (const group of collisions()) {
    // Prefix folder names until the group's names differ (or the folders run out).
    // Folders cannot separate files of the same folder: good enough is when only those still
    // collide (the extension step below handles them).
    const folder = (i: number): string => parts[i]!.dirs.join(sep);
    if (new Set(group.map(folder)).size === 1) continue;
    const maxDepth = Math.max(...group.map((i) => parts[i]!.dirs.length));
    for (let depth = 1; depth <= maxDepth; depth++) {
      const candidates = group.map((i) => [...parts[i]!.dirs.slice(-depth), parts[i]!.stem].join('_'));
      const separated = group.every((i, k) => group.every((j, l) => key(candidates[k]!) !== key(candidates[l]!) || folder(i) === folder(j)));
      if (separated) {
        group.forEach((i, k) => (names[i] = candidates[k]!));
        break;
      }
    }
  }
  // Same folder, different extension (or folders that could not tell them apart).
  for (const group of collisions()) {
    for (const i of group) if (parts[i]!.ext) names[i] = `${names[i]}_${parts[i]!.ext}`;
  }
  // Last resort (e.g. a file literally named like another's disambiguated name).
  const taken = new Set<string>();
  names.forEach((n, i) => {
    let name = n;
    for (let k = 2; taken.has(key(name)); k++) name = `${n}-${k}`;
    taken.add(key(name));
    names[i] = name;
  });
  return paths.map((path, i) => ({ path, name: names[i]! }));
}
