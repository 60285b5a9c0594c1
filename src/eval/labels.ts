/**
 * Ground-truth labels for evaluation: a mapping file (CSV or JSON: image → class index or
 * WordNet id), or folders named by class (`val/n01440764/…`, the ImageNet validation layout,
 * or `data/281/…`). A label becomes the class whose probability the metric measures.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IMAGENET_CLASS_COUNT } from '../model/labels.js';

const WNIDS_PATH = join('assets', 'imagenet', 'wnids.json');
let cachedWnids: ReadonlyMap<string, number> | undefined;

/** WordNet id → ImageNet class index (`n01440764` → 0), from `assets/imagenet/wnids.json`. */
export function imagenetWnids(): ReadonlyMap<string, number> {
  if (cachedWnids === undefined) {
    const start = dirname(fileURLToPath(import.meta.url));
    let path: string | undefined;
    for (let dir = start; ; dir = dirname(dir)) {
      if (existsSync(join(dir, WNIDS_PATH))) {
        path = join(dir, WNIDS_PATH);
        break;
      }
      if (dirname(dir) === dir) throw new Error(`ImageNet WordNet ids not found: no ${WNIDS_PATH} in ${start} or any parent directory`);
    }
    const ids: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (!Array.isArray(ids) || ids.length !== IMAGENET_CLASS_COUNT || !ids.every((id) => typeof id === 'string' && WNID.test(id))) {
      throw new Error(`${path}: expected a JSON array of ${IMAGENET_CLASS_COUNT} WordNet ids`);
    }
    cachedWnids = new Map(ids.map((id: string, i) => [id, i]));
  }
  return cachedWnids;
}

const WNID = /^n\d{8}$/;
const INDEX = /^\d+$/;

/**
 * The class a name stands for: a class index (`281`) below `classes`, or — for a 1000-class
 * model — an ImageNet WordNet id (`n02123045`). Anything else: undefined.
 */
export function parseClassName(name: string, classes: number): number | undefined {
  const text = name.trim();
  if (INDEX.test(text)) {
    const index = Number(text);
    return index < classes ? index : undefined;
  }
  if (WNID.test(text) && classes === IMAGENET_CLASS_COUNT) return imagenetWnids().get(text);
  return undefined;
}

/** Labels read from a mapping file, looked up by {@link labelOf}. */
export type LabelTable = ReadonlyMap<string, number>;

/**
 * Reads a label file: JSON (`{ "cat.jpg": 281, "dog.jpg": "n02085620" }`) or CSV with the
 * image in the first column and the label in the second (a header line is skipped; of the
 * second column only the first word counts, so ImageNet's `LOC_val_solution.csv`, whose
 * second column starts with the WordNet id, works as it is). Keys may be paths, file names or
 * file names without extension.
 *
 * @throws Error naming the file and line of a label that is not a class of the model, or of an
 *   image listed again with another label.
 */
export async function readLabelFile(path: string, classes: number): Promise<LabelTable> {
  const text = await readFile(path, 'utf8').catch((error: Error) => {
    throw new Error(`cannot read the labels file ${path}: ${error.message}`);
  });
  const table = new Map<string, number>();
  const add = (key: string, value: string, where: string): void => {
    const label = parseClassName(value.trim().split(/\s+/)[0] ?? '', classes);
    if (label === undefined) throw new Error(`${path}${where}: "${value}" is not a class of the model (an index 0..${classes - 1}${classes === IMAGENET_CLASS_COUNT ? ' or an ImageNet WordNet id' : ''})`);
    const earlier = table.get(key.trim());
    // Which of two labels would be measured depends on the order of the lines: refuse instead.
    if (earlier !== undefined && earlier !== label) throw new Error(`${path}${where}: "${key.trim()}" is listed again with another label (${label}, before ${earlier})`);
    table.set(key.trim(), label);
  };
  if (extname(path).toLowerCase() === '.json') {
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (error) {
      throw new Error(`${path}: not valid JSON (${(error as Error).message})`);
    }
    if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new Error(`${path}: expected a JSON object { "image": label, … }`);
    for (const [key, value] of Object.entries(data)) add(key, String(value), ` (key "${key}")`);
    return table;
  }
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const [key, value] = line.split(',', 2).map((s) => s.replace(/^"|"$/g, ''));
    if (value === undefined) throw new Error(`${path} line ${i + 1}: expected "image,label"`);
    // A header: the first line whose label is no class.
    if (i === 0 && parseClassName(value.trim().split(/\s+/)[0] ?? '', classes) === undefined) return;
    add(key!, value, ` line ${i + 1}`);
  });
  return table;
}

/** The label of an image: by its path as given, its absolute path, its file name, or its file name without extension. */
export function labelOf(table: LabelTable, path: string): number | undefined {
  const name = basename(path);
  for (const key of [path, resolve(path), name, name.slice(0, name.length - extname(name).length)]) {
    const label = table.get(key);
    if (label !== undefined) return label;
  }
  return undefined;
}
