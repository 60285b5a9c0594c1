/**
 * The options of `resnet-lrp evaluate` and `resnet-lrp merge`: their tables (parsing + help)
 * and validation. Everything that can be checked without the model is checked here.
 */
import { DEFAULT_EVAL_BATCH } from '../eval/insertion-deletion.js';
import { DEFAULT_IG_STEPS } from '../eval/integrated-gradients.js';
import { methodNames } from '../eval/methods.js';
import { INSDEL_DEFAULTS, TIE_RULES, type TieRule } from '../eval/patch-insdel.js';
import type { FitMode } from '../image/load.js';
import { DEFAULT_QUANTIZE_LEVELS, MAX_QUANTIZE_LEVELS } from '../image/quantize.js';
import type { Precision } from '../onnx/graph-builder.js';
import { expandBareQuantize, IMAGE_EXTENSIONS, MAX_INPUT_PIXELS_OPTION, parseMaxInputPixels, parseWeights, type WeightsChoice } from './explain-options.js';
import { FIT_MODES, noCacheOption, optionValues, parseSizeOption, PRECISIONS, SIZE_OPTION } from './option-values.js';
import { parseCommandLine, UsageError, type CommandSpec } from './usage.js';

export const DEFAULT_METHODS = ['lrp', 'lrp-symmetric', 'random'] as const;
export const DEFAULT_EVALUATE_OUT = './evaluate-out';

/** A validated `evaluate` command line. */
export interface EvaluateSettings {
  readonly inputs: readonly string[];
  readonly methods: readonly string[];
  readonly labels?: string;
  /** The model's class names (a JSON array of strings) for the reports. */
  readonly classNames?: string;
  readonly patch: number;
  readonly step: number;
  readonly quantize: number | false;
  readonly ties: TieRule;
  readonly limit?: number;
  readonly perClass?: number;
  readonly shard?: { index: number; count: number };
  readonly weights: WeightsChoice;
  readonly precision: Precision;
  /** Models whose input has more pixels are refused at load (undefined: the library's default). */
  readonly maxInputPixels?: number;
  /** How images are fitted; undefined: the model's own policy. */
  readonly fit?: FitMode;
  /** Input size for a model with a dynamic input size (`--size N` or `HxW`). */
  readonly size?: { readonly size: number; readonly width?: number };
  readonly batch: number;
  readonly seed: number;
  /** Integrated Gradients' steps (m + 1 gradients per image). */
  readonly igSteps: number;
  /** The node Grad-CAM explains; undefined: the last spatial layer. */
  readonly gradcamNode?: string;
  readonly outDir: string;
  readonly resume: boolean;
  readonly json: boolean;
  readonly quiet: boolean;
  /** `--no-cache`: compile the explainers, bypassing the compile cache. */
  readonly noCache: boolean;
}

const DATA = 'Images and labels';
const METRIC = 'Metric';
const MODEL = 'Model';
const OUTPUT = 'Output';
const RUN = 'Running';

export const EVALUATE_COMMAND: CommandSpec = {
  name: 'evaluate',
  usage: 'evaluate [options] <image|folder>...',
  summary:
    'Scores attribution methods with patch insertion / deletion (the paper\'s PID): per image and method,\n' +
    'the probability of the class while the most relevant patches are inserted into a black image\n' +
    '(insertion, higher is better) or blacked out (deletion, lower is better). Writes one JSON line per\n' +
    'image and method, then a report (Markdown, JSON, per-class CSV) and a plot of the mean curves.',
  options: [
    { name: 'methods', short: 'm', type: 'string', value: '<list>', default: DEFAULT_METHODS.join(','), group: METRIC,
      description: `comma-separated: ${methodNames().join(', ')}` },
    { name: 'patch', type: 'string', value: '<pixels>', default: String(INSDEL_DEFAULTS.patch), group: METRIC,
      description: "side of the square patches (must divide the model's input side: 224 for ImageNet ResNets, 32 for CIFAR)" },
    { name: 'step', type: 'string', value: '<patches>', default: String(INSDEL_DEFAULTS.step), group: METRIC,
      description: 'patches inserted / deleted per step (2·ceil(patches/step) forward passes per image and method)' },
    { name: 'quantize', type: 'string', value: '[levels]', default: 'off', group: METRIC,
      description: `heat-quantize every map first (the paper evaluates its method so); bare flag = ${DEFAULT_QUANTIZE_LEVELS} levels` },
    { name: 'ties', type: 'string', value: '<paper|stable|random>', default: INSDEL_DEFAULTS.ties, group: METRIC,
      description: "order of patches with equal scores: paper = all that tie with a step's threshold enter at once (the paper's metric; " +
        'inflates quantized maps), stable = by patch index, random = by a permutation drawn from --seed' },
    { name: 'seed', type: 'string', value: '<N>', default: '0', group: METRIC, description: 'seed of the random baseline and of --ties random' },
    { name: 'ig-steps', type: 'string', value: '<m>', default: String(DEFAULT_IG_STEPS), group: METRIC,
      description: 'Integrated Gradients: steps from black to the image (m + 1 gradients per image)' },
    { name: 'gradcam-node', type: 'string', value: '<name>', default: 'the last spatial layer', group: METRIC,
      description: 'Grad-CAM: the node (ONNX node name, or Keras layer name) whose output it weighs' },
    { name: 'labels', type: 'string', value: '<file.csv|file.json>', default: 'class folders, else the predicted class', group: DATA,
      description: 'image → class index or WordNet id (CSV "image,label", e.g. ImageNet\'s LOC_val_solution.csv, or a JSON object)' },
    { name: 'limit', type: 'string', value: '<N>', default: 'all', group: DATA, description: 'evaluate only the first N images' },
    { name: 'per-class', type: 'string', value: '<K>', default: 'all', group: DATA, description: 'at most K images per label (before --limit)' },
    { name: 'shard', type: 'string', value: '<i/n|auto/n>', default: 'all', group: DATA,
      description: 'evaluate shard i (0-based) of n: every n-th image from the i-th; combine with `merge`. ' +
        '`auto/n` takes i from JOB_COMPLETION_INDEX (Kubernetes Indexed Job) or SLURM_ARRAY_TASK_ID (Slurm job array)' },
    { name: 'weights', type: 'string', value: '<imagenet|path|random>', default: 'imagenet', group: MODEL,
      description: 'as for explain' },
    { name: 'class-names', type: 'string', value: '<file.json>', default: 'ImageNet names for 1000 classes, else indices', group: MODEL,
      description: "the model's class names, a JSON array (explain's --labels file), for the per-class report" },
    { name: 'precision', type: 'string', value: '<float32|float64>', default: 'float32', group: MODEL, description: 'arithmetic of the graphs' },
    MAX_INPUT_PIXELS_OPTION,
    noCacheOption(MODEL),
    { name: 'fit', type: 'string', value: '<resize|center-crop>', default: "the model's: resize (Keras), resize 256 + centre crop (ONNX)", group: MODEL, description: 'how an image is fitted to the model input' },
    { ...SIZE_OPTION, group: MODEL },
    { name: 'out', short: 'o', type: 'string', value: '<dir>', default: DEFAULT_EVALUATE_OUT, group: OUTPUT, description: 'output directory' },
    { name: 'resume', type: 'boolean', default: 'off', group: OUTPUT, description: 'continue an interrupted run in --out (same settings)' },
    { name: 'json', type: 'boolean', default: 'off', group: OUTPUT, description: 'print the report as JSON on stdout' },
    { name: 'batch', short: 'b', type: 'string', value: '<N>', default: String(DEFAULT_EVAL_BATCH), group: RUN,
      description: 'perturbed images per forward run (≥ 2)' },
    { name: 'quiet', short: 'q', type: 'boolean', default: 'off', group: RUN, description: 'no progress, table or warnings' },
    { name: 'help', short: 'h', type: 'boolean', group: RUN, description: 'show this help' },
  ],
  notes: [
    'Folders are expanded to their images; a folder named by a WordNet id (n01440764) or a class index\n' +
      'labels its images, and a folder of such folders (ImageNet\'s val/ layout) is expanded one level.',
    `Outputs in --out: results.jsonl (one line per image and method), run.json (settings), report.md,\n` +
      'report.json, per-class.csv, curves.png (mean insertion and deletion curves per method).',
    'Exit status: 0 all images evaluated; 1 some image failed (reported; the others are still scored); 2 usage error.',
  ],
};

export type EvaluateRequest = { help: true } | { help: false; settings: EvaluateSettings };

/** @throws UsageError naming the offending option and value. */
/**
 * @param env where `--shard auto/n` finds its index (the process environment in the CLI).
 */
export function parseEvaluateArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = {}): EvaluateRequest {
  const { values: v, positionals } = parseCommandLine(EVALUATE_COMMAND, expandBareQuantize(argv));
  if (v.help) return { help: true };
  const str = (name: string): string | undefined => v[name] as string | undefined;
  const { fail, oneOf, integer } = optionValues(EVALUATE_COMMAND.name);
  if (positionals.length === 0) fail('no inputs: give image files or folders');
  /** An integer option, or undefined when not given. */
  const int = (name: string, min: number, what: string, max?: number): number | undefined => {
    const text = str(name);
    return text === undefined ? undefined : integer(name, text, min, what, max);
  };
  const methods = (str('methods') ?? DEFAULT_METHODS.join(',')).split(',').map((m) => m.trim()).filter((m) => m !== '');
  if (methods.length === 0) fail('--methods needs at least one method');
  for (const m of methods) if (!methodNames().includes(m)) fail(`unknown method "${m}" (methods: ${methodNames().join(', ')})`);
  const patch = int('patch', 1, 'a positive integer') ?? INSDEL_DEFAULTS.patch;
  const step = int('step', 1, 'a positive integer') ?? INSDEL_DEFAULTS.step;
  const weights = parseWeights(str('weights'), EVALUATE_COMMAND.name);
  // ImageNet and random weights take 224×224: checked now; a file's side once it is loaded.
  if (weights.kind !== 'file') checkPatchGrid(patch, step, 224);
  const shardText = str('shard');
  const shard = shardText === undefined ? undefined : parseShard(shardText, env, fail);
  const limit = int('limit', 1, 'an integer ≥ 1');
  const perClass = int('per-class', 1, 'an integer ≥ 1');
  const maxInputPixels = parseMaxInputPixels(str('max-input-pixels'), EVALUATE_COMMAND.name);
  return {
    help: false,
    settings: {
      inputs: positionals,
      methods: [...new Set(methods)],
      ...(str('labels') !== undefined ? { labels: str('labels')! } : {}),
      ...(str('class-names') !== undefined ? { classNames: str('class-names')! } : {}),
      patch,
      step,
      quantize: str('quantize') === undefined ? false : integer('quantize', str('quantize')!, 2, `an integer in 2..${MAX_QUANTIZE_LEVELS} (levels)`, MAX_QUANTIZE_LEVELS),
      ties: oneOf('ties', str('ties') ?? INSDEL_DEFAULTS.ties, TIE_RULES),
      ...(limit !== undefined ? { limit } : {}),
      ...(perClass !== undefined ? { perClass } : {}),
      ...(shard ? { shard } : {}),
      weights,
      precision: oneOf('precision', str('precision') ?? 'float32', PRECISIONS),
      ...(maxInputPixels !== undefined ? { maxInputPixels } : {}),
      ...(str('fit') !== undefined ? { fit: oneOf('fit', str('fit'), FIT_MODES) } : {}),
      ...(str('size') !== undefined ? { size: parseSizeOption(str('size')!, EVALUATE_COMMAND.name) } : {}),
      batch: int('batch', 2, 'an integer ≥ 2') ?? DEFAULT_EVAL_BATCH,
      seed: int('seed', 0, 'an integer ≥ 0') ?? 0,
      igSteps: int('ig-steps', 1, 'an integer ≥ 1') ?? DEFAULT_IG_STEPS,
      ...(str('gradcam-node') !== undefined ? { gradcamNode: str('gradcam-node')! } : {}),
      outDir: str('out') ?? DEFAULT_EVALUATE_OUT,
      resume: v.resume === true,
      json: v.json === true,
      quiet: v.quiet === true,
      noCache: v['no-cache'] === true,
    },
  };
}

/**
 * Checks --patch and --step against the model's input side.
 *
 * @throws UsageError when the patches do not tile the image or leave fewer than 2 steps.
 */
export function checkPatchGrid(patch: number, step: number, size: number): void {
  const { fail } = optionValues(EVALUATE_COMMAND.name);
  if (size % patch !== 0) fail(`--patch must divide ${size} (the model's input side), got ${patch}`);
  const patches = (size / patch) ** 2;
  if (Math.ceil(patches / step) < 2) fail(`--step ${step} leaves fewer than 2 steps for ${patches} patches`);
}

export { IMAGE_EXTENSIONS };

/** `resnet-lrp merge`. */
export const MERGE_COMMAND: CommandSpec = {
  name: 'merge',
  usage: 'merge [options] <run folder>... --out <dir>',
  summary:
    'Combines the output folders of `evaluate --shard i/n` runs (or of any runs with the same settings)\n' +
    'into one results.jsonl and one report, the same as a single run over all images.',
  options: [
    { name: 'out', short: 'o', type: 'string', value: '<dir>', group: OUTPUT, description: 'output directory (required)' },
    { name: 'json', type: 'boolean', default: 'off', group: OUTPUT, description: 'print the report as JSON on stdout' },
    { name: 'quiet', short: 'q', type: 'boolean', default: 'off', group: RUN, description: 'no table or warnings' },
    { name: 'help', short: 'h', type: 'boolean', group: RUN, description: 'show this help' },
  ],
};

export interface MergeSettings {
  readonly inputs: readonly string[];
  readonly outDir: string;
  readonly json: boolean;
  readonly quiet: boolean;
}

export function parseMergeArgs(argv: readonly string[]): { help: true } | { help: false; settings: MergeSettings } {
  const { values: v, positionals } = parseCommandLine(MERGE_COMMAND, argv);
  if (v.help) return { help: true };
  if (positionals.length === 0) throw new UsageError('no run folders given', MERGE_COMMAND.name);
  if (typeof v.out !== 'string' || v.out === '') throw new UsageError('--out <dir> is required', MERGE_COMMAND.name);
  return { help: false, settings: { inputs: positionals, outDir: v.out, json: v.json === true, quiet: v.quiet === true } };
}

/** The environment variables that hold a batch system's task index, in the order they are read. */
export const SHARD_INDEX_VARIABLES = ['JOB_COMPLETION_INDEX', 'SLURM_ARRAY_TASK_ID'] as const;

/**
 * `--shard i/n`, or `auto/n` with i from the first of {@link SHARD_INDEX_VARIABLES} that is set:
 * a Kubernetes Indexed Job's pod index, or a Slurm array task's id (0-based: `--array=0-<n−1>`).
 */
export function parseShard(
  text: string,
  env: Readonly<Record<string, string | undefined>>,
  fail: (message: string) => never,
): { index: number; count: number } {
  const match = /^(\d+|auto)\/(\d+)$/.exec(text.trim());
  if (match && !Number.isSafeInteger(Number(match[2]))) fail(`--shard i/n: n must be at most ${Number.MAX_SAFE_INTEGER}, got "${text}"`);
  if (!match || Number(match[2]) < 1) fail(`--shard must be i/n or auto/n with 0 ≤ i < n (e.g. 0/4), got "${text}"`);
  const count = Number(match![2]);
  if (match![1] !== 'auto') {
    const index = Number(match![1]);
    if (index >= count) fail(`--shard must be i/n or auto/n with 0 ≤ i < n (e.g. 0/4), got "${text}"`);
    return { index, count };
  }
  const name = SHARD_INDEX_VARIABLES.find((v) => env[v] !== undefined && env[v] !== '');
  if (name === undefined) {
    fail(`--shard ${text}: neither ${SHARD_INDEX_VARIABLES.join(' nor ')} is set (run it as a Kubernetes Indexed Job or a Slurm job array, or give the index: --shard i/${count})`);
  }
  const value = env[name!]!;
  if (!/^\d+$/.test(value.trim()) || Number(value) >= count) {
    fail(`--shard ${text}: ${name}=${JSON.stringify(value)} is not a shard index 0..${count - 1}` +
      (name === 'SLURM_ARRAY_TASK_ID' ? ` (submit with --array=0-${count - 1})` : ` (set completions: ${count})`));
  }
  return { index: Number(value), count };
}
