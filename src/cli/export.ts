/**
 * `resnet-lrp export`: writes the compiled explainer (forward pass + relevance, one graph) as
 * a standalone ONNX file that any onnxruntime runs without this library.
 */
import { LrpModel } from '../lrp-model.js';
import { readLabelsFile } from '../model/labels.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { EXPLAIN_COMMAND, parseMaxInputPixels, parseRuleOptions, parseWeights } from './explain-options.js';
import { compileCacheSetting, optionValues, parseSizeOption, PRECISIONS, SIZE_OPTION } from './option-values.js';
import { formatHelp, parseCommandLine, type CliIO, type CommandSpec, type OptionSpec } from './usage.js';
import { prepareOutputFile } from './output-folder.js';
import { resolveWeights, type ResolvedWeights } from './weights.js';

const shared = (names: readonly string[]): OptionSpec[] => EXPLAIN_COMMAND.options.filter((o) => names.includes(o.name));

/** The `export` command: the model and rule options of `explain`, an output file, and the preprocessing switch. */
export const EXPORT_COMMAND: CommandSpec = {
  name: 'export',
  usage: 'export [options] --out <explainer.onnx>',
  summary:
    'Writes the explainer (forward pass + LRP relevance, compiled into one graph) as a standalone\n' +
    'ONNX file: inputs `input` (or `image`) and `target`; outputs logits, probabilities,\n' +
    'explained_class, start_relevance, relevance, attribution and trace; dynamic batch;\n' +
    'metadata_props with the rules, the preprocessing, the trace names and the class names.',
  options: [
    ...shared(['weights', 'labels', 'precision', 'max-input-pixels', 'no-cache', 'preset', 'gamma', 'split', 'start', 'first', 'epsilon']),
    { name: 'out', short: 'o', type: 'string', value: '<file.onnx>', group: 'Output', description: 'the file to write (required)' },
    { ...SIZE_OPTION, group: 'Model' },
    { name: 'include-preprocessing', type: 'boolean', default: 'off', group: 'Output',
      description: 'fold the preprocessing in: the input becomes `image`, uint8 RGB pixels (N, H, W, 3) already fitted to the model size' },
    { name: 'quiet', short: 'q', type: 'boolean', default: 'off', group: 'Running', description: 'print nothing on success' },
    { name: 'help', short: 'h', type: 'boolean', group: 'Running', description: 'show this help' },
  ],
  notes: ['Exit status: 0 written; 1 the model could not be loaded or the file not written; 2 usage error.'],
};

/**
 * Runs `export` with `argv` (the arguments after `export`).
 *
 * @returns 0 when the file was written.
 * @throws UsageError (exit 2), or the library's error when the model cannot be loaded.
 */
export async function exportCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommandLine(EXPORT_COMMAND, argv);
  if (values.help) {
    io.stdout.write(formatHelp(EXPORT_COMMAND));
    return 0;
  }
  const str = (name: string): string | undefined => values[name] as string | undefined;
  const { fail: usage, oneOf, integer } = optionValues(EXPORT_COMMAND.name);
  if (positionals.length > 0) usage(`unexpected argument "${positionals[0]}" (export takes options only)`);
  const out = str('out');
  if (!out) usage('--out <file.onnx> is required');
  let rules;
  let weightsChoice;
  try {
    rules = parseRuleOptions(str);
    weightsChoice = parseWeights(str('weights'));
  } catch (error) {
    usage((error as Error).message);
  }
  const precision = oneOf('precision', str('precision') ?? 'float32', PRECISIONS);
  const size = str('size') === undefined ? undefined : parseSizeOption(str('size')!, EXPORT_COMMAND.name);
  const maxInputPixels = parseMaxInputPixels(str('max-input-pixels'), EXPORT_COMMAND.name);
  let labels: string[] | undefined;
  if (str('labels') !== undefined) {
    try {
      labels = readLabelsFile(str('labels')!);
    } catch (error) {
      usage(`--labels ${(error as Error).message}`);
    }
  }
  const quiet = values.quiet === true;
  const resolve = () => resolveWeights(weightsChoice!, { stderr: io.stderr, env: io.env, quiet, command: EXPORT_COMMAND.name });
  // A weights file is only checked here (no download); the ImageNet file is fetched after --out is checked.
  const fileWeights = weightsChoice!.kind === 'file' ? await resolve() : undefined;
  const inputs = (source: ResolvedWeights['source']): [string, string][] => [
    ...(typeof source === 'string' ? [['--weights', source] as [string, string]] : []),
    ...(str('labels') !== undefined ? [['--labels', str('labels')!] as [string, string]] : []),
  ];
  // --out before anything expensive: a device, a FIFO, the input itself or a read-only folder fails now.
  const { undo } = await prepareOutputFile(out!, inputs(fileWeights?.source ?? null));
  let model: LrpModel;
  let weights: ResolvedWeights;
  try {
    weights = fileWeights ?? (await resolve());
    // The downloaded ImageNet file is an input too.
    if (!fileWeights) await prepareOutputFile(out!, inputs(weights.source));
    model = await LrpModel.load({
      weights: weights.source,
      rules,
      precision,
      ...(weights.seed !== undefined ? { seed: weights.seed } : {}),
      ...(labels ? { labels } : {}),
      ...(maxInputPixels !== undefined ? { maxInputPixels } : {}),
      ...(size !== undefined ? { input: size } : {}),
      compileCache: compileCacheSetting(values['no-cache'] === true, io.env),
    });
  } catch (error) {
    await undo();
    throw error;
  }
  try {
    const bytes = model.exportExplainer({ includePreprocessing: values['include-preprocessing'] === true });
    await writeFileAtomic(out!, bytes);
    if (!quiet) {
      io.stdout.write(`wrote ${out} (${(bytes.length / 2 ** 20).toFixed(1)} MB): ${model.info.architecture}, ${weights.label}\nrules: ${model.info.rules}\n`);
    }
    return 0;
  } finally {
    await model.dispose();
  }
}
