/**
 * The options of `resnet-lrp explain`: their table (parsing + help) and their validation into
 * {@link ExplainSettings}. Everything that can be checked without the model is checked here, so
 * a typo fails in milliseconds instead of after loading 100 MB of weights.
 */
import { COLORMAP_NAMES, type ColormapName } from '../image/colormap.js';
import type { FitMode } from '../image/load.js';
import { DEFAULT_MAX_PIXELS } from '../image/decode-limits.js';
import { DEFAULT_QUANTIZE_LEVELS, MAX_QUANTIZE_LEVELS } from '../image/quantize.js';
import { DEFAULT_MAX_IMAGE_BYTES } from '../image/read-file.js';
import { PRESETS, resolveLrpOptions, SPLIT_MODES, START_MODES, type LrpOptions, type PresetName } from '../lrp/presets.js';
import { RULE_DEFAULTS, type RuleSpec } from '../lrp/rules.js';
import type { Precision } from '../onnx/graph-builder.js';
import { FIT_MODES, noCacheOption, optionValues, parseSizeOption, PRECISIONS, SIZE_OPTION } from './option-values.js';
import { OUTPUT_FORMATS, type OutputFormat } from './outputs.js';
import { DEFAULT_MAX_INPUT_PIXELS } from '../runtime/input-checks.js';
import { DEFAULT_MEMORY_BUDGET } from '../runtime/memory.js';
import { parseCommandLine, UsageError, type CommandSpec, type OptionSpec } from './usage.js';

/** Where the weights come from, as the user chose it. */
export type WeightsChoice = { kind: 'imagenet' } | { kind: 'random'; seed: number } | { kind: 'file'; path: string };

/** A validated `explain` command line. */
export interface ExplainSettings {
  /** Files and folders, as given. */
  readonly inputs: readonly string[];
  readonly weights: WeightsChoice;
  /** Class to explain for every image (default: each image's predicted class). */
  readonly classIndex?: number;
  /** Several classes per image from one forward pass: these indices (`--classes`)… */
  readonly classes?: readonly number[];
  /** …or the K highest-scoring ones (`--top-k`). Outputs get a `.c<index>` / `.top<rank>` tag. */
  readonly topK?: number;
  readonly rules: LrpOptions;
  readonly precision: Precision;
  readonly quantize: number | false;
  readonly positiveOnly: boolean;
  readonly colormap?: ColormapName;
  readonly outDir: string;
  readonly formats: readonly OutputFormat[];
  readonly includeMap: boolean;
  readonly batch: number;
  /** How images are fitted; undefined: the model's own policy (Keras resize, torchvision 256 + centre crop). */
  readonly fit?: FitMode;
  /** Input size for a model with a dynamic input size (`--size N` or `HxW`). */
  readonly size?: { readonly size: number; readonly width?: number };
  /** A JSON file with the class names (an array of strings, one per model output). */
  readonly labels?: string;
  /** Images over this many pixels are refused. */
  readonly maxPixels: number;
  /** Image files over this many bytes are refused. */
  readonly maxBytes: number;
  /** Models whose input has more pixels are refused at load (undefined: the library's default). */
  readonly maxInputPixels?: number;
  /** Working-memory budget of one onnxruntime run, in bytes (undefined: the library's default). */
  readonly memoryBudget?: number;
  readonly resume: boolean;
  readonly json: boolean;
  readonly quiet: boolean;
  /** `--no-cache`: compile the explainer, bypassing the compile cache. */
  readonly noCache: boolean;
}

/** Images per onnxruntime run: 2 was fastest per image on a 2-core machine (1: 7 % slower; 4 and 8: slower and +0.45/+1.3 GB). */
export const DEFAULT_BATCH = 2;
export const DEFAULT_OUT_DIR = './lrp-out';
export const DEFAULT_FORMATS: readonly OutputFormat[] = ['png'];
/** Seed of `--weights random` (fixed, so runs are reproducible). */
export const RANDOM_WEIGHTS_SEED = 0;
/** Extensions a folder is searched for (case-insensitive). */
export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff'] as const;

const d = PRESETS.default;

/** `--max-input-pixels` of explain, export and evaluate. */
export const MAX_INPUT_PIXELS_OPTION: OptionSpec = {
  name: 'max-input-pixels', type: 'string', value: '<N|NM>', default: `${Math.sqrt(DEFAULT_MAX_INPUT_PIXELS)}×${Math.sqrt(DEFAULT_MAX_INPUT_PIXELS)}`, group: 'Model',
  description: "refuse a model file whose fixed input has more pixels (height × width), e.g. 1M",
};

const MODEL = 'Model';
const RULES = 'LRP rules (override the preset)';
const LOOK = 'Figures';
const OUTPUT = 'Output';
const RUN = 'Running';

/** The `explain` command: synopsis, options (with the defaults shown in `--help`) and notes. */
export const EXPLAIN_COMMAND: CommandSpec = {
  name: 'explain',
  usage: 'explain [options] <image|folder>...',
  summary:
    'Classifies each image with a ResNet and explains the prediction (or --class) with LRP.\n' +
    `Folders are expanded, not recursively, to the images in them\n(${IMAGE_EXTENSIONS.join(' ')}, any case), sorted by name.`,
  options: [
    { name: 'weights', type: 'string', value: '<imagenet|path|random>', default: 'imagenet', group: MODEL,
      description: 'imagenet: the Keras ImageNet ResNet50 (downloaded once into the cache); a Keras .h5 file; a torchvision-style ResNet exported to .onnx; random: seeded random weights (NOT meaningful, for testing)' },
    { name: 'labels', type: 'string', value: '<file.json>', default: 'ImageNet names for 1000 classes, else indices', group: MODEL,
      description: 'class names: a JSON array of strings, one per model output' },
    { name: 'class', type: 'string', value: '<index>', default: 'the predicted class', group: MODEL,
      description: 'class to explain for every image, 0..classes-1' },
    { name: 'classes', type: 'string', value: '<i,j,…>', default: 'off', group: MODEL,
      description: 'explain several classes of every image from one forward pass; outputs <name>.c<index>.*' },
    { name: 'top-k', type: 'string', value: '<K>', default: 'off', group: MODEL,
      description: 'explain the K highest-scoring classes of every image from one forward pass; outputs <name>.top<rank>.*' },
    { name: 'precision', type: 'string', value: '<float32|float64>', default: 'float32', group: MODEL,
      description: 'arithmetic of the graph (float64 for ill-conditioned rules, e.g. large γ)' },
    { name: 'fit', type: 'string', value: '<resize|center-crop>', default: "the model's: resize (Keras), resize 256 + centre crop (ONNX)", group: MODEL,
      description: 'how an image is fitted to the model input (for 32×32 CIFAR images: resize)' },
    { ...SIZE_OPTION, group: MODEL },
    { name: 'max-pixels', type: 'string', value: '<N|NM>', default: `${DEFAULT_MAX_PIXELS / 1e6}M`, group: MODEL,
      description: 'refuse images with more pixels (e.g. 200M); larger ones are shrunk while decoding, memory stays bounded' },
    { name: 'max-file-size', type: 'string', value: '<MB>', default: String(DEFAULT_MAX_IMAGE_BYTES / 2 ** 20), group: MODEL,
      description: 'refuse image files larger than this many MiB' },
    MAX_INPUT_PIXELS_OPTION,
    noCacheOption(MODEL),
    { name: 'preset', type: 'string', value: '<name>', default: 'default', group: RULES,
      description: `rule preset: ${Object.keys(PRESETS).join(', ')}` },
    { name: 'gamma', type: 'string', value: '<γ>', default: `the preset's conv rule (${ruleName(d.conv)})`, group: RULES,
      description: `use the gamma rule with this γ on the convs (the gamma preset has γ=${RULE_DEFAULTS.gamma})` },
    { name: 'split', type: 'string', value: '<rule>', default: d.split, group: RULES,
      description: `relevance split at skip connections: ${SPLIT_MODES.join(', ')}` },
    { name: 'start', type: 'string', value: '<rule>', default: d.start, group: RULES,
      description: `start relevance of the target class: ${START_MODES.join(', ')}` },
    { name: 'first', type: 'string', value: '<zb|zplus>', default: ruleName(d.first), group: RULES,
      description: 'rule for the first conv (the one reading the image)' },
    { name: 'epsilon', type: 'string', value: '<ε>', default: String(d.epsilon), group: RULES,
      description: 'stabilizer of every division' },
    { name: 'quantize', type: 'string', value: '[levels]', default: 'off', group: LOOK,
      description: `quantize the shown map (the paper's heat quantization), 2..${MAX_QUANTIZE_LEVELS} levels; bare flag = ${DEFAULT_QUANTIZE_LEVELS}` },
    { name: 'positive-only', type: 'boolean', default: 'off', group: LOOK, description: 'show only positive relevance' },
    { name: 'colormap', type: 'string', value: '<name>', default: 'bwr, or Reds with --positive-only', group: LOOK,
      description: `one of ${COLORMAP_NAMES.join(', ')} (Reds and hot imply --positive-only)` },
    { name: 'out', short: 'o', type: 'string', value: '<dir>', default: DEFAULT_OUT_DIR, group: OUTPUT,
      description: 'output directory (created if needed)' },
    { name: 'format', short: 'f', type: 'string', multiple: true, value: '<list>', default: DEFAULT_FORMATS.join(','), group: OUTPUT,
      description: `${OUTPUT_FORMATS.join(', ')}; repeat or comma-separate (see below)` },
    { name: 'include-map', type: 'boolean', default: 'off', group: OUTPUT,
      description: 'put the attribution map (the input size, e.g. 224×224) into the .lrp.json files too' },
    { name: 'resume', type: 'boolean', default: 'off', group: OUTPUT,
      description: 'skip inputs whose outputs (all requested formats) already exist' },
    { name: 'json', type: 'boolean', default: 'off', group: OUTPUT,
      description: 'print the results as one JSON array on stdout (nothing else goes to stdout)' },
    { name: 'batch', short: 'b', type: 'string', value: '<N>', default: String(DEFAULT_BATCH), group: RUN,
      description: 'images per onnxruntime run (more = faster per image, more memory)' },
    { name: 'memory-budget', type: 'string', value: '<MiB>', default: String(DEFAULT_MEMORY_BUDGET / 2 ** 20), group: RUN,
      description: 'working memory of one onnxruntime run: more classes (--classes, --top-k) or images run in several runs, same results' },
    { name: 'quiet', short: 'q', type: 'boolean', default: 'off', group: RUN,
      description: 'no progress, summary table or warnings (errors are still printed)' },
    { name: 'help', short: 'h', type: 'boolean', group: RUN, description: 'show this help' },
  ],
  notes: [
    'Outputs, per input <name> (the file name without extension; inputs with the same name\n' +
      'from different folders get their parent folder names prefixed, e.g. a_cat and b_cat):\n' +
      '  png      <name>.lrp.png          figure: input | relevance | overlay, with title and colour bar\n' +
      '                                   (small inputs zoomed without smoothing: 32×32 drawn 8×)\n' +
      '  heatmap  <name>.heatmap.png      the relevance heatmap alone, at the input size (e.g. 224×224)\n' +
      '  npy      <name>.attribution.npy  raw attribution map, float32 (H, W), never quantized\n' +
      '  json     <name>.lrp.json         prediction, top 5, target, conservation (Σ input / start\n' +
      '                                   relevance) and its error (+ map with --include-map)\n' +
      '  trace    <name>.trace.png        conservation trace: relevance sum per block, start → input',
    '--quantize takes the next argument as its level count only when it is a number:\n' +
      "'--quantize photo.jpg' is the bare flag, '--quantize 4' and '--quantize=4' mean 4 levels.",
    'Exit status: 0 every input explained (or skipped by --resume); 1 some input failed (each\n' +
      'failure is reported with its file name; the others are still written), or the weights could\n' +
      'not be obtained; 2 usage error.',
    'Environment: RESNET_LRP_CACHE (weights and compile cache directory), RESNET_LRP_NO_CACHE=1 (no\n' +
      'compile cache), RESNET_LRP_WEIGHTS_URL (download base URL of the ImageNet weights, e.g. a mirror),\n' +
      'RESNET_LRP_DEBUG=1 (stack traces on errors).',
  ],
};

const { fail, oneOf, integer } = optionValues(EXPLAIN_COMMAND.name);

/** What the command line asks for: help, or a run with these settings. */
export type ExplainRequest = { help: true } | { help: false; settings: ExplainSettings };

/**
 * Parses and validates the arguments of `explain`.
 *
 * @throws UsageError naming the offending option and value.
 */
export function parseExplainArgs(argv: readonly string[]): ExplainRequest {
  const { values: v, positionals } = parseCommandLine(EXPLAIN_COMMAND, expandBareQuantize(argv));
  if (v.help) return { help: true };
  const str = (name: string): string | undefined => v[name] as string | undefined;
  const flag = (name: string): boolean => v[name] === true;

  if (positionals.length === 0) fail('no inputs: give image files or folders');

  const rules = parseRuleOptions(str);

  const positiveOnly = flag('positive-only');
  const colormap = str('colormap') === undefined ? undefined : (oneOf('colormap', str('colormap'), COLORMAP_NAMES) as ColormapName);
  const quantize =
    str('quantize') === undefined ? false
    : integer('quantize', str('quantize')!, 2, `an integer in 2..${MAX_QUANTIZE_LEVELS} (levels)`, MAX_QUANTIZE_LEVELS);
  const outDir = str('out') ?? DEFAULT_OUT_DIR;
  if (outDir.trim() === '') fail('--out needs a directory name');
  const maxPixels = str('max-pixels') === undefined ? DEFAULT_MAX_PIXELS : pixelCount('max-pixels', str('max-pixels')!);
  const maxInputPixels = parseMaxInputPixels(str('max-input-pixels'));
  const memoryBudget = str('memory-budget') === undefined ? undefined : integer('memory-budget', str('memory-budget')!, 1, 'an integer ≥ 1 (MiB)', 2 ** 32) * 2 ** 20;
  const maxBytes =
    str('max-file-size') === undefined ? DEFAULT_MAX_IMAGE_BYTES : integer('max-file-size', str('max-file-size')!, 1, 'an integer ≥ 1 (MiB)') * 2 ** 20;
  const formats = parseFormats(v.format as string[] | undefined);
  const classIndex = str('class') === undefined ? undefined : integer('class', str('class')!, 0, 'a class index ≥ 0');
  const classes = str('classes') === undefined ? undefined : str('classes')!.split(',').map((c) => integer('classes', c.trim(), 0, 'a comma-separated list of class indices ≥ 0'));
  const topK = str('top-k') === undefined ? undefined : integer('top-k', str('top-k')!, 1, 'an integer ≥ 1');
  if ([classIndex, classes, topK].filter((o) => o !== undefined).length > 1) fail('choose one of --class, --classes and --top-k');
  if (classes && new Set(classes).size !== classes.length) fail(`--classes lists a class twice: ${str('classes')}`);
  if ((classes || topK !== undefined) && v.format && (v.format as string[]).some((f) => f.split(',').includes('trace'))) {
    fail('--format trace needs one class per image: several classes share one run, which computes no per-block trace');
  }
  const fit = str('fit') === undefined ? undefined : oneOf('fit', str('fit'), FIT_MODES);
  if (str('labels') === '') fail('--labels needs a file: a JSON array of class names');

  return {
    help: false,
    settings: {
      inputs: positionals,
      weights: parseWeights(str('weights')),
      ...(classIndex !== undefined ? { classIndex } : {}),
      ...(classes !== undefined ? { classes } : {}),
      ...(topK !== undefined ? { topK } : {}),
      rules,
      precision: oneOf('precision', str('precision') ?? 'float32', PRECISIONS),
      quantize,
      positiveOnly,
      ...(colormap !== undefined ? { colormap } : {}),
      outDir,
      formats,
      includeMap: flag('include-map'),
      batch: str('batch') === undefined ? DEFAULT_BATCH : integer('batch', str('batch')!, 1, 'an integer ≥ 1'),
      ...(fit !== undefined ? { fit } : {}),
      ...(str('size') !== undefined ? { size: parseSizeOption(str('size')!, EXPLAIN_COMMAND.name) } : {}),
      ...(str('labels') !== undefined ? { labels: str('labels')! } : {}),
      maxPixels,
      maxBytes,
      ...(maxInputPixels !== undefined ? { maxInputPixels } : {}),
      ...(memoryBudget !== undefined ? { memoryBudget } : {}),
      resume: flag('resume'),
      json: flag('json'),
      quiet: flag('quiet'),
      noCache: flag('no-cache'),
    },
  };
}

/**
 * The LRP rule options (`--preset`, `--gamma`, `--split`, `--start`, `--first`, `--epsilon`)
 * as library options, checked by the library's own validation. Shared with `export`.
 *
 * @throws UsageError naming the offending option and value.
 */
export function parseRuleOptions(str: (name: string) => string | undefined): LrpOptions {
  const gamma = optionalNumber('gamma', str('gamma'), (x) => x >= 0, 'a number ≥ 0');
  const epsilon = optionalNumber('epsilon', str('epsilon'), (x) => x > 0, 'a number > 0');
  const rules: LrpOptions = {
    ...(str('preset') !== undefined ? { preset: oneOf('preset', str('preset'), Object.keys(PRESETS)) as PresetName } : {}),
    ...(gamma !== undefined ? { conv: { name: 'gamma', gamma } } : {}),
    ...(str('split') !== undefined ? { split: oneOf('split', str('split'), SPLIT_MODES) } : {}),
    ...(str('start') !== undefined ? { start: oneOf('start', str('start'), START_MODES) } : {}),
    ...(str('first') !== undefined ? { first: oneOf('first', str('first'), ['zb', 'zplus'] as const) } : {}),
    ...(epsilon !== undefined ? { epsilon } : {}),
  };
  try {
    resolveLrpOptions(rules); // the library's own checks, so nothing invalid reaches the model
  } catch (error) {
    fail((error as Error).message);
  }

  return rules;
}

/**
 * `--quantize` has an optional value, which parseArgs cannot express: a bare `--quantize` (not
 * followed by a number) becomes `--quantize=<default levels>`.
 */
export function expandBareQuantize(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      out.push(...argv.slice(i));
      break;
    }
    if (arg === '--quantize') {
      const next = argv[i + 1];
      if (next !== undefined && /^\d+$/.test(next)) {
        out.push(`--quantize=${next}`);
        i++;
      } else {
        out.push(`--quantize=${DEFAULT_QUANTIZE_LEVELS}`);
      }
      continue;
    }
    out.push(arg);
  }
  return out;
}

/** `--weights` as a choice: imagenet (default), random, or a file (.h5 or .onnx); errors name `command`. */
export function parseWeights(value: string | undefined, command: string = EXPLAIN_COMMAND.name): WeightsChoice {
  if (value === undefined || value === 'imagenet') return { kind: 'imagenet' };
  if (value === 'random') return { kind: 'random', seed: RANDOM_WEIGHTS_SEED };
  if (value === '') throw new UsageError('--weights needs a value: imagenet, random or a file path', command);
  return { kind: 'file', path: value };
}

function parseFormats(values: readonly string[] | undefined): OutputFormat[] {
  if (values === undefined) return [...DEFAULT_FORMATS];
  const asked = values.flatMap((v) => v.split(',')).map((s) => s.trim()).filter((s) => s !== '');
  if (asked.length === 0) fail(`--format needs at least one of ${OUTPUT_FORMATS.join(', ')}`);
  for (const f of asked) oneOf('format', f, OUTPUT_FORMATS);
  // Canonical order, no duplicates: the same outputs whatever order they were asked in.
  return OUTPUT_FORMATS.filter((f) => asked.includes(f));
}

/** `--max-pixels`, `--max-input-pixels`: a pixel count, or megapixels with an `M` suffix (`200M`). */
function pixelCount(option: string, text: string, command = EXPLAIN_COMMAND.name): number {
  const match = /^(\d+(?:\.\d+)?)([mM]?)$/.exec(text.trim());
  const value = match ? Math.round(Number(match[1]) * (match[2] ? 1e6 : 1)) : NaN;
  if (!(value >= 1) || !Number.isSafeInteger(value)) throw new UsageError(`--${option} must be a pixel count ≥ 1, e.g. 50000000 or 50M, got "${text}"`, command);
  return value;
}

/** `--max-input-pixels` of `command`, or undefined when not given. */
export function parseMaxInputPixels(text: string | undefined, command = EXPLAIN_COMMAND.name): number | undefined {
  return text === undefined ? undefined : pixelCount('max-input-pixels', text, command);
}

function optionalNumber(option: string, text: string | undefined, ok: (x: number) => boolean, what: string): number | undefined {
  if (text === undefined) return undefined;
  // Number('') is 0 and Number(' ') too: require some non-blank text.
  const value = text.trim() === '' ? NaN : Number(text);
  if (!Number.isFinite(value) || !ok(value)) fail(`--${option} must be ${what}, got "${text}"`);
  return value;
}

function ruleName(rule: RuleSpec): string {
  return typeof rule === 'string' ? rule : rule.name;
}
