/**
 * The images of an evaluation: expanding arguments (files, folders, ImageNet-style class
 * folders), their labels, and the deterministic selection (`--per-class`, `--limit`,
 * `--shard i/n`) that makes shards of one run add up to the whole run.
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { expandInputs } from './inputs.js';
import { labelOf, parseClassName, type LabelTable } from '../eval/labels.js';

/** One image to evaluate. */
export interface DatasetImage {
  /** Path as given (or folder + entry). */
  readonly path: string;
  /** Ground-truth class, if known. */
  readonly label?: number;
}

/**
 * Expands the arguments into images with labels. A folder named by a class (`n01440764`,
 * `281`) labels the images in it; a folder holding such class folders is expanded one level
 * (the ImageNet validation layout `val/n01440764/…`), plus any images directly in it. With a
 * label table, the table decides every label instead.
 *
 * @returns images in argument order (folders sorted by name), and folders without images.
 */
export async function collectImages(
  args: readonly string[],
  options: { extensions: readonly string[]; classes: number; labels?: LabelTable },
): Promise<{ images: DatasetImage[]; emptyFolders: string[] }> {
  const images: DatasetImage[] = [];
  const emptyFolders: string[] = [];
  const seen = new Set<string>();
  const add = (path: string, label: number | undefined): void => {
    if (seen.has(path)) return;
    seen.add(path);
    const final = options.labels ? labelOf(options.labels, path) : label;
    images.push(final === undefined ? { path } : { path, label: final });
  };
  const folder = async (dir: string, label: number | undefined): Promise<number> => {
    const { files } = await expandInputs([dir], options.extensions);
    files.forEach((f) => add(f, label));
    return files.length;
  };
  for (const arg of args) {
    const info = await stat(arg).catch(() => undefined);
    if (!info?.isDirectory()) {
      add(arg, undefined);
      continue;
    }
    const own = parseClassName(basename(arg), options.classes);
    if (own !== undefined) {
      if ((await folder(arg, own)) === 0) emptyFolders.push(arg);
      continue;
    }
    let found = await folder(arg, undefined);
    const entries = (await readdir(arg, { withFileTypes: true }))
      .filter((e) => e.isDirectory() && parseClassName(e.name, options.classes) !== undefined)
      .map((e) => e.name)
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const name of entries) found += await folder(join(arg, name), parseClassName(name, options.classes));
    if (found === 0) emptyFolders.push(arg);
  }
  return { images, emptyFolders };
}

/** Which images of the collected list a run evaluates. */
export interface Selection {
  /** At most this many images per label (unlabeled images count as one group). */
  readonly perClass?: number;
  /** At most this many images in total (after `perClass`). */
  readonly limit?: number;
  /** This shard (0-based) of `count`: images whose position modulo count is `index`. */
  readonly shard?: { readonly index: number; readonly count: number };
}

/** An image with its position in the whole selection (the same in every shard). */
export interface SelectedImage extends DatasetImage {
  readonly index: number;
}

/**
 * Applies `perClass`, then `limit`, in list order, then takes the shard (every n-th image, so
 * each shard gets a similar mix of classes). Deterministic: the same arguments give the same
 * positions on every machine.
 */
export function selectImages(images: readonly DatasetImage[], selection: Selection): { selected: SelectedImage[]; total: number } {
  const counts = new Map<number | undefined, number>();
  let chosen = images.filter((image) => {
    if (selection.perClass === undefined) return true;
    const n = counts.get(image.label) ?? 0;
    counts.set(image.label, n + 1);
    return n < selection.perClass;
  });
  if (selection.limit !== undefined) chosen = chosen.slice(0, selection.limit);
  const indexed = chosen.map((image, index) => ({ ...image, index }));
  const shard = selection.shard;
  return { selected: shard ? indexed.filter((image) => image.index % shard.count === shard.index) : indexed, total: chosen.length };
}
