/**
 * ImageNet class names (the 1000 ILSVRC-2012 classes in Keras' index order) and top-k
 * ranking of a model's output.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rankClasses, type ClassScore } from './top-k.js';

/** Number of ImageNet classes. */
export const IMAGENET_CLASS_COUNT = 1000;

const LABELS_PATH = join('assets', 'imagenet', 'labels.json');

let cached: readonly string[] | undefined;

/**
 * The package root: the nearest ancestor of this module's directory that holds the labels
 * asset. Walking up (rather than a fixed `../..`) works both from `src/model/` (ts-node,
 * tests) and from the compiled `dist/src/model/`.
 */
function findLabelsFile(): string {
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    const candidate = join(dir, LABELS_PATH);
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) break;
  }
  throw new Error(`ImageNet labels not found: no ${LABELS_PATH} in ${start} or any parent directory`);
}

/**
 * The 1000 ImageNet class names; index = class id (281 = "tabby, tabby cat"). Read once, on
 * first use, from `assets/imagenet/labels.json`; the returned array is frozen.
 */
export function imagenetLabels(): readonly string[] {
  if (cached === undefined) {
    const path = findLabelsFile();
    const labels: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (!Array.isArray(labels) || labels.length !== IMAGENET_CLASS_COUNT || !labels.every((l) => typeof l === 'string')) {
      throw new Error(`${path}: expected a JSON array of ${IMAGENET_CLASS_COUNT} strings`);
    }
    cached = Object.freeze(labels as string[]);
  }
  return cached;
}

/**
 * Names for a classifier with `classes` outputs: `labels` when given (one per class), else
 * the ImageNet names for 1000 classes, else `class 0`, `class 1`, … (e.g. a custom head).
 *
 * @throws Error when `labels` does not have one string per class.
 */
export function classNames(classes: number, labels?: readonly string[]): readonly string[] {
  if (labels !== undefined) {
    if (!Array.isArray(labels) || !labels.every((l) => typeof l === 'string')) throw new Error('labels must be an array of strings (one class name per output)');
    if (labels.length !== classes) throw new Error(`labels: ${labels.length} names for a model with ${classes} classes`);
    return Object.freeze([...labels]);
  }
  return classes === IMAGENET_CLASS_COUNT ? imagenetLabels() : Array.from({ length: classes }, (_, i) => `class ${i}`);
}

/**
 * Class names from a JSON file holding an array of strings (`--labels file.json`).
 *
 * @throws Error naming the file when it cannot be read or is not such an array.
 */
export function readLabelsFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(`${path}: ${code === 'ENOENT' ? 'no such file' : `cannot be read (${(error as Error).message})`}`, { cause: error });
  }
  let labels: unknown;
  try {
    labels = JSON.parse(text);
  } catch (error) {
    throw new Error(`${path}: not JSON (${(error as Error).message})`, { cause: error });
  }
  if (!Array.isArray(labels) || labels.length === 0 || !labels.every((l) => typeof l === 'string')) {
    throw new Error(`${path}: expected a JSON array of class names (strings), one per model output`);
  }
  return labels;
}

/**
 * Class names kept beside a model file: `<name>.labels.json` for `<name>.onnx` (or `.h5`), as
 * the bundled CIFAR-10 model has them. Undefined when there is no such file.
 *
 * @throws Error naming the file when it exists but is not a JSON array of names.
 */
export function companionLabels(modelPath: string): string[] | undefined {
  const path = modelPath.replace(/\.(onnx|h5|hdf5|keras)$/i, '') + '.labels.json';
  if (path === modelPath || !existsSync(path)) return undefined;
  return readLabelsFile(path);
}

export type { ClassScore } from './top-k.js';

/**
 * The k highest-scoring classes, best first (ties: lower class index first; NaN ranks last).
 * Works on probabilities or logits alike — `probability` is just the input value.
 *
 * @param labels class names, default {@link imagenetLabels}; must cover every class.
 * @throws Error if k is not a positive integer or there are fewer labels than classes.
 */
export function topK(probabilities: Float32Array, k: number, labels?: readonly string[]): ClassScore[] {
  return rankClasses(probabilities, k, labels ?? imagenetLabels());
}
