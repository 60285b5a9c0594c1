/**
 * The per-image results of an evaluation run: one JSON line per image and method in
 * `results.jsonl`, appended as soon as it is known (a killed run loses at most the image in
 * flight; `--resume` continues after the last complete line), and the run's settings in
 * `run.json` (so a resumed run or a merge cannot mix incompatible results).
 */
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readRegularFile } from '../image/read-file.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import type { TieRule } from './patch-insdel.js';

/** One image evaluated with one method. */
export interface EvaluationRecord {
  /** The image path as given. */
  image: string;
  /** Position of the image in the whole (unsharded) selection: the sort key of every report. */
  index: number;
  /** Ground-truth class, or null. */
  label: number | null;
  /** The model's class for the unperturbed image. */
  predicted: number;
  /** The class whose probability was measured: the label if known, else the predicted class. */
  target: number;
  method: string;
  insertion: number;
  deletion: number;
  pid: number;
  /** Probability of the target per step, 7 significant digits (float32 precision). */
  insertionCurve: number[];
  deletionCurve: number[];
  /** Wall time of the map and both curves. */
  seconds: number;
  /**
   * Σ input relevance / start relevance of the method's map (`conservationOf`); null for a
   * method without input relevance. Absent in records written before it was recorded.
   */
  conservation?: number | null;
  /** Patches tying with the step thresholds, mean per step (`TieStats.tied`). */
  tied?: number;
  /** Share of patches the paper's tie rule takes ahead of each step (`TieStats.paperLead`). */
  paperLead?: number;
}

/** What must agree between the shards of one evaluation (and between a run and its resume). */
export interface RunSettings {
  /** Metric settings; `size` is the model's input side, `classes` its number of classes. */
  size: number;
  classes: number;
  patch: number;
  step: number;
  quantize: number | false;
  /** How patches of equal score are ordered (`TIE_RULES`; runs before the option: `paper`). */
  ties: TieRule;
  /** Model: the weights' label, the arithmetic, how images are fitted. */
  model: string;
  /**
   * The model's identity by content: `sha256:<hex>` of the weights file, or `random(seed=N)`.
   * Two files under one path are two models (absent in run.json files written before it).
   */
  modelId?: string;
  precision: string;
  fit: string;
  /** Seed of the random baseline and of the `random` tie rule. */
  seed: number;
  /** Integrated Gradients' steps (absent in run.json files written before the option). */
  igSteps?: number;
  /** Number of images in the whole selection (all shards). */
  total: number;
}

/** `run.json`. */
export interface RunInfo {
  format: 'resnet-lrp-evaluate/1';
  settings: RunSettings;
  /** Methods in report order. */
  methods: string[];
  /** This run's shard, or null for the whole selection. */
  shard: { index: number; count: number } | null;
}

export const RESULTS_FILE = 'results.jsonl';
export const RUN_FILE = 'run.json';

/** Rounds to 7 significant digits: float32 precision, half the bytes of the full float64 text. */
export function roundCurve(values: readonly number[]): number[] {
  return values.map((v) => Number(v.toPrecision(7)));
}

/** Appends one record as one line. */
export async function appendRecord(dir: string, record: EvaluationRecord): Promise<void> {
  await appendFile(join(dir, RESULTS_FILE), `${JSON.stringify(record)}\n`);
}

/**
 * Reads the records of a results file. A last line without its newline (a run killed while
 * writing it) is dropped; with `repair` the file is rewritten without it, so appends continue
 * on a clean line.
 *
 * @throws Error naming the file and line of any other malformed line.
 */
export async function readRecords(dir: string, options: { repair?: boolean } = {}): Promise<EvaluationRecord[]> {
  const path = join(dir, RESULTS_FILE);
  const text = (await readRunFile(path)) ?? '';
  const lines = text.split('\n');
  const partial = lines.pop() !== '';
  if (partial && options.repair) await writeFileAtomic(path, lines.map((l) => `${l}\n`).join(''));
  return lines.map((line, i) => {
    try {
      const record = JSON.parse(line) as EvaluationRecord;
      if (typeof record.image !== 'string' || typeof record.method !== 'string' || !Number.isInteger(record.index)) throw new Error('missing fields');
      return record;
    } catch (error) {
      throw new Error(`${path} line ${i + 1}: not an evaluation record (${(error as Error).message})`);
    }
  });
}

export async function readRunInfo(dir: string): Promise<RunInfo | undefined> {
  const path = join(dir, RUN_FILE);
  const text = await readRunFile(path);
  if (text === undefined) return undefined;
  const info = JSON.parse(text) as RunInfo;
  if (info.format !== 'resnet-lrp-evaluate/1') throw new Error(`${path}: not a resnet-lrp evaluate run (format ${String(info.format)})`);
  // Runs from before the tie rules used the paper's.
  info.settings.ties ??= 'paper';
  return info;
}

/** Largest run file read: about the longest string JavaScript holds (V8: 2²⁹ − 24 characters). */
const MAX_RUN_FILE_BYTES = 2 ** 29 - 24;

/**
 * The text of a file of a run folder, or undefined when there is none. Only a regular file is
 * read: a FIFO named results.jsonl would block the run forever, a device never end.
 */
async function readRunFile(path: string): Promise<string | undefined> {
  try {
    return new TextDecoder().decode(await readRegularFile(path, MAX_RUN_FILE_BYTES));
  } catch (error) {
    if (((error as Error).cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return undefined;
    throw error;
  }
}

export async function writeRunInfo(dir: string, info: RunInfo): Promise<void> {
  await writeFileAtomic(join(dir, RUN_FILE), `${JSON.stringify(info, null, 2)}\n`);
}

/** The settings that differ between two runs, as `name: a ≠ b` (empty when compatible). */
export function settingsDifferences(a: RunSettings, b: RunSettings): string[] {
  const keys = Object.keys(a) as (keyof RunSettings)[];
  // The model's identity counts whichever side has it: a folder without one cannot prove it used the same file.
  if (!('modelId' in a) && 'modelId' in b) keys.push('modelId');
  return keys
    .filter((key) => JSON.stringify(a[key]) !== JSON.stringify(b[key]))
    .map((key) => `${key}: ${JSON.stringify(a[key])} ≠ ${JSON.stringify(b[key])}`);
}

/**
 * One record per image and method, as the report and `merge` both count them: of duplicates
 * (the same image position and method twice, e.g. appended by two runs on one folder before
 * folders were locked) the first is kept when they agree in everything but the wall time.
 *
 * @param source names where record `i` came from, for messages (a folder, a file).
 * @throws Error naming both sources when two records of one image and method differ.
 */
export function uniqueRecords(records: readonly EvaluationRecord[], source: (i: number) => string = () => RESULTS_FILE): EvaluationRecord[] {
  const seen = new Map<string, number>();
  const unique: EvaluationRecord[] = [];
  records.forEach((r, i) => {
    const key = `${r.index}\t${r.method}`;
    const first = seen.get(key);
    if (first === undefined) {
      seen.set(key, i);
      unique.push(r);
    } else if (metricValues(records[first]!) !== metricValues(r)) {
      throw new Error(`${source(i)}: ${r.image} with ${r.method} differs from another result for it in ${source(first)}`);
    }
  });
  return unique;
}

/** A record without its wall time: what must agree between two results of one image and method. */
function metricValues(r: EvaluationRecord): string {
  const { seconds: _, ...rest } = r;
  return JSON.stringify(rest);
}

/** Records in report order: by image position, then by the run's method order. */
export function sortRecords(records: readonly EvaluationRecord[], methods: readonly string[]): EvaluationRecord[] {
  const rank = new Map(methods.map((m, i) => [m, i]));
  return [...records].sort((a, b) => a.index - b.index || (rank.get(a.method) ?? Infinity) - (rank.get(b.method) ?? Infinity) || (a.method < b.method ? -1 : a.method > b.method ? 1 : 0));
}
