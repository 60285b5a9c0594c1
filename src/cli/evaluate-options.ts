/**
 * The options of `resnet-lrp evaluate` and `resnet-lrp merge`: their tables (parsing + help)
 * and validation. Everything that can be checked without the model is checked here.
 */
import { DEFAULT_EVAL_BATCH } from '../eval/insertion-deletion.js';
import { DEFAULT_IG_STEPS } from '../eval/integrated-gradients.js';
import { methodNames } from '../eval/methods.js';
import { INSDEL_DEFAULTS } from '../eval/patch-insdel.js';
import type { FitMode } from '../image/load.js';
import { DEFAULT_QUANTIZE_LEVELS } from '../image/quantize.js';
import type { Precision } from '../onnx/graph-builder.js';
import { expandBareQuantize, IMAGE_EXTENSIONS, parseWeights, type WeightsChoice } from './explain-options.js';
import { FIT_MODES, noCacheOption, optionValues, PRECISIONS } from './option-values.js';
import { parseCommandLine, UsageError, type CommandSpec } from './usage.js';

export const DEFAULT_METHODS = ['lrp', 'lrp-symmetric', 'random'] as const;
export const DEFAULT_EVALUATE_OUT = './evaluate-out';

/** A validated `evaluate` command line. */
export interface EvaluateSettings {
  readonly inputs: readonly string[];
  readonly methods: readonly string[];
  readonly labels?: string;
  readonly patch: number;
  readonly step: number;
  readonly quantize: number | false;
  readonly limit?: number;
  readonly perClass?: number;
  readonly shard?: { index: number; count: number };
  readonly weights: WeightsChoice;
  readonly precision: Precision;
  /** How images are fitted; undefined: the model's own policy. */
  readonly fit?: FitMode;
  readonly batch: number;
  readonly seed: number;
  /** Integrated Gradients' steps (m + 1 gradients per image). */
  readonly igSteps: number;
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
      description: 'side of the square patches (must divide 224)' },
    { name: 'step', type: 'string', value: '<patches>', default: String(INSDEL_DEFAULTS.step), group: METRIC,
      description: 'patches inserted / deleted per step (2·ceil(patches/step) forward passes per image and method)' },
    { name: 'quantize', type: 'string', value: '[levels]', default: 'off', group: METRIC,
      description: `heat-quantize every map first (the paper evaluates its method so); bare flag = ${DEFAULT_QUANTIZE_LEVELS} levels` },
    { name: 'seed', type: 'string', value: '<N>', default: '0', group: METRIC, description: 'seed of the random baseline' },
    { name: 'ig-steps', type: 'string', value: '<m>', default: String(DEFAULT_IG_STEPS), group: METRIC,
      description: 'Integrated Gradients: steps from black to the image (m + 1 gradients per image)' },
    { name: 'labels', type: 'string', value: '<file.csv|file.json>', default: 'class folders, else the predicted class', group: DATA,
      description: 'image → class index or WordNet id (CSV "image,label", e.g. ImageNet\'s LOC_val_solution.csv, or a JSON object)' },
    { name: 'limit', type: 'string', value: '<N>', default: 'all', group: DATA, description: 'evaluate only the first N images' },
    { name: 'per-class', type: 'string', value: '<K>', default: 'all', group: DATA, description: 'at most K images per label (before --limit)' },
    { name: 'shard', type: 'string', value: '<i/n>', default: 'all', group: DATA,
      description: 'evaluate shard i (0-based) of n: every n-th image from the i-th; combine with `merge`' },
    { name: 'weights', type: 'string', value: '<imagenet|path|random>', default: 'imagenet', group: MODEL,
      description: 'as for explain' },
    { name: 'precision', type: 'string', value: '<float32|float64>', default: 'float32', group: MODEL, description: 'arithmetic of the graphs' },
    noCacheOption(MODEL),
    { name: 'fit', type: 'string', value: '<resize|center-crop>', default: "the model's: resize (Keras), resize 256 + centre crop (ONNX)", group: MODEL, description: 'how an image is fitted to the model input' },
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
export function parseEvaluateArgs(argv: readonly string[]): EvaluateRequest {
  const { values: v, positionals } = parseCommandLine(EVALUATE_COMMAND, expandBareQuantize(argv));
  if (v.help) return { help: true };
  const str = (name: string): string | undefined => v[name] as string | undefined;
  const { fail, oneOf, integer } = optionValues(EVALUATE_COMMAND.name);
  if (positionals.length === 0) fail('no inputs: give image files or folders');
  /** An integer option, or undefined when not given. */
  const int = (name: string, min: number, what: string): number | undefined => {
    const text = str(name);
    return text === undefined ? undefined : integer(name, text, min, what);
  };
  const methods = (str('methods') ?? DEFAULT_METHODS.join(',')).split(',').map((m) => m.trim()).filter((m) => m !== '');
  if (methods.length === 0) fail('--methods needs at least one method');
  for (const m of methods) if (!methodNames().includes(m)) fail(`unknown method "${m}" (methods: ${methodNames().join(', ')})`);
  const patch = int('patch', 1, 'a positive integer') ?? INSDEL_DEFAULTS.patch;
  if (224 % patch !== 0) fail(`--patch must divide 224, got ${patch}`);
  const step = int('step', 1, 'a positive integer') ?? INSDEL_DEFAULTS.step;
  if (Math.ceil((224 / patch) ** 2 / step) < 2) fail(`--step ${step} leaves fewer than 2 steps for ${(224 / patch) ** 2} patches`);
  const shardText = str('shard');
  let shard: { index: number; count: number } | undefined;
  if (shardText !== undefined) {
    const match = /^(\d+)\/(\d+)$/.exec(shardText.trim());
    if (!match || Number(match[2]) < 1 || Number(match[1]) >= Number(match[2])) fail(`--shard must be i/n with 0 ≤ i < n (e.g. 0/4), got "${shardText}"`);
    shard = { index: Number(match![1]), count: Number(match![2]) };
  }
  const weights = parseWeights(str('weights'), EVALUATE_COMMAND.name);
  const limit = int('limit', 1, 'an integer ≥ 1');
  const perClass = int('per-class', 1, 'an integer ≥ 1');
  return {
    help: false,
    settings: {
      inputs: positionals,
      methods: [...new Set(methods)],
      ...(str('labels') !== undefined ? { labels: str('labels')! } : {}),
      patch,
      step,
      quantize: str('quantize') === undefined ? false : int('quantize', 2, 'an integer ≥ 2 (levels)')!,
      ...(limit !== undefined ? { limit } : {}),
      ...(perClass !== undefined ? { perClass } : {}),
      ...(shard ? { shard } : {}),
      weights,
      precision: oneOf('precision', str('precision') ?? 'float32', PRECISIONS),
      ...(str('fit') !== undefined ? { fit: oneOf('fit', str('fit'), FIT_MODES) } : {}),
      batch: int('batch', 2, 'an integer ≥ 2') ?? DEFAULT_EVAL_BATCH,
      seed: int('seed', 0, 'an integer ≥ 0') ?? 0,
      igSteps: int('ig-steps', 1, 'an integer ≥ 1') ?? DEFAULT_IG_STEPS,
      outDir: str('out') ?? DEFAULT_EVALUATE_OUT,
      resume: v.resume === true,
      json: v.json === true,
      quiet: v.quiet === true,
      noCache: v['no-cache'] === true,
    },
  };
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
