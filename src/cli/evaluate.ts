/**
 * `resnet-lrp evaluate`: scores attribution methods with patch insertion / deletion over a set
 * of images. Loads the model once, evaluates image after image (decoding the next while
 * onnxruntime works), appends one JSON line per image and method as soon as it is known, and
 * writes the report at the end. `--resume` continues an interrupted run; `--shard i/n` takes a
 * deterministic part for `merge`.
 */
import { join } from 'node:path';
import { InsertionDeletionEvaluator } from '../eval/insertion-deletion.js';
import { evaluateImage } from '../eval/evaluate-image.js';
import { readLabelFile } from '../eval/labels.js';
import { createMethod, type AttributionMethod } from '../eval/methods.js';
import { contextFromModel } from '../eval/model-context.js';
import { classifierFromModel } from '../eval/model-classifier.js';
import {
  appendRecord,
  readRecords,
  readRunInfo,
  RESULTS_FILE,
  roundCurve,
  RUN_FILE,
  settingsDifferences,
  writeRunInfo,
  type RunInfo,
  type RunSettings,
} from '../eval/records.js';
import { describeTies, formatCi, formatConservation, formatTies, REPORT_FILES, summarize, writeReport, type EvaluationReport } from '../eval/report.js';
import type { LoadedImage } from '../image/load.js';
import { LrpModel } from '../lrp-model.js';
import { readLabelsFile } from '../model/labels.js';
import { inputSize } from '../model/input.js';
import type { LrpOptions } from '../lrp/presets.js';
import { collectImages, selectImages, type SelectedImage } from './evaluate-inputs.js';
import { checkPatchGrid, EVALUATE_COMMAND, IMAGE_EXTENSIONS, parseEvaluateArgs, type EvaluateSettings } from './evaluate-options.js';
import { compileCacheSetting } from './option-values.js';
import { RANDOM_WEIGHTS_NOTE } from './explain.js';
import { createImageProgress } from './image-progress.js';
import { chunk, runPipelined } from './pipeline.js';
import { formatTable } from './table.js';
import { formatHelp, UsageError, type CliIO } from './usage.js';
import { checkReplaceable } from '../util/atomic-write.js';
import { lockFolder } from '../util/folder-lock.js';
import { prepareOutputFolder } from './output-folder.js';
import { printable } from './printable.js';
import { modelIdentity, resolveWeights, type ResolvedWeights } from './weights.js';

/** Runs `evaluate` with the arguments after `evaluate`; returns the exit code. */
export async function evaluateCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const request = parseEvaluateArgs(argv, io.env);
  if (request.help) {
    io.stdout.write(formatHelp(EVALUATE_COMMAND));
    return 0;
  }
  const settings = request.settings;
  const warn = (message: string): void => {
    if (!settings.quiet) io.stderr.write(`warning: ${message}\n`);
  };

  let names: string[] | undefined;
  if (settings.classNames !== undefined) {
    try {
      names = readLabelsFile(settings.classNames);
    } catch (error) {
      throw new UsageError(`--class-names ${(error as Error).message}`, EVALUATE_COMMAND.name);
    }
  }
  const resolve = (): Promise<ResolvedWeights> =>
    resolveWeights(settings.weights, { stderr: io.stderr, env: io.env, quiet: settings.quiet, command: EVALUATE_COMMAND.name });
  // A missing weights file is a usage error, found before anything is written.
  const fileWeights = settings.weights.kind === 'file' ? await resolve() : undefined;
  // The output folder next, locked for this run: a bad --out or a second run on it fails now, not after the model load.
  const { stale, undo } = await prepareOutputFolder(settings.outDir, isEvaluateOutput);
  let unlock: () => Promise<void>;
  try {
    // Our fixed names must be regular files (or absent): a FIFO results.jsonl would block every read and append.
    for (const name of EVALUATE_OUTPUTS) await checkReplaceable(join(settings.outDir, name));
    unlock = await lockFolder(settings.outDir);
  } catch (error) {
    await undo();
    throw error;
  }
  let failed = false;
  try {
    if (stale.length > 0) warn(`removed ${stale.length} temporary file${stale.length === 1 ? '' : 's'} left in ${printable(settings.outDir)} by an interrupted run`);
    await refuseEarlierRun(settings);
    const weights = fileWeights ?? (await resolve());
    return await evaluateWith(weights, settings, io, warn, names);
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    await unlock();
    // Stopped before anything was written (weights, model, inputs): leave no empty folder behind.
    if (failed) await undo();
  }
}

/** The evaluation proper, once the output folder is ready and locked. */
async function evaluateWith(weights: ResolvedWeights, settings: EvaluateSettings, io: CliIO, warn: (message: string) => void, names: string[] | undefined): Promise<number> {
  if (!weights.meaningful) warn(`--weights random: seeded ${RANDOM_WEIGHTS_NOTE}; the scores say nothing about real models`);
  const modelId = await modelIdentity(weights);
  const load = (rules: LrpOptions): Promise<LrpModel> =>
    LrpModel.load({
      weights: weights.source,
      rules,
      precision: settings.precision,
      ...(weights.seed !== undefined ? { seed: weights.seed } : {}),
      ...(settings.maxInputPixels !== undefined ? { maxInputPixels: settings.maxInputPixels } : {}),
      ...(settings.size !== undefined ? { input: settings.size } : {}),
      ...(names ? { labels: names } : {}),
      compileCache: compileCacheSetting(settings.noCache, io.env),
    });
  const model = await load({});
  const owned: LrpModel[] = [model];
  const methods: AttributionMethod[] = [];
  let evaluator: InsertionDeletionEvaluator | undefined;
  try {
    // The model's own input description decides preprocessing, layout and "black".
    const classifier = classifierFromModel(model);
    const { height, width } = inputSize(classifier.inputDescription);
    // The metric's patch grid and its fixtures are square.
    if (height !== width) throw new UsageError(`${weights.label}: the model's input is ${height}×${width}; patch insertion/deletion needs a square input (give a square --size)`, EVALUATE_COMMAND.name);
    checkPatchGrid(settings.patch, settings.step, height);
    const classes = classifier.classes;
    const labels = settings.labels === undefined ? undefined : await readLabelFile(settings.labels, classes);
    const { images, emptyFolders } = await collectImages(settings.inputs, { extensions: IMAGE_EXTENSIONS, classes, ...(labels ? { labels } : {}) });
    for (const folder of emptyFolders) warn(`no images in folder ${folder}`);
    if (images.length === 0) throw new UsageError(`no images found in ${settings.inputs.join(', ')}`, EVALUATE_COMMAND.name);
    if (labels) {
      const missing = images.filter((i) => i.label === undefined).length;
      if (missing > 0) warn(`${missing} of ${images.length} images have no label in ${settings.labels}: their predicted class is measured`);
    }
    const { selected, total } = selectImages(images, {
      ...(settings.perClass !== undefined ? { perClass: settings.perClass } : {}),
      ...(settings.limit !== undefined ? { limit: settings.limit } : {}),
      ...(settings.shard ? { shard: settings.shard } : {}),
    });

    const runSettings: RunSettings = {
      size: classifier.inputDescription.size,
      classes,
      patch: settings.patch,
      step: settings.step,
      quantize: settings.quantize,
      ties: settings.ties,
      model: weights.label,
      modelId,
      precision: settings.precision,
      fit: settings.fit ?? model.inputDescription.resize.fit,
      seed: settings.seed,
      igSteps: settings.igSteps,
      total,
    };
    const info = await prepareOutput(settings, runSettings);
    const done = new Set<string>();
    const byIndex = new Map(selected.map((image) => [image.index, image]));
    for (const r of await readRecords(settings.outDir, { repair: true })) {
      const image = byIndex.get(r.index);
      if (!image || image.path !== r.image) {
        throw new Error(`${settings.outDir}: its results are for other inputs (${r.image} at position ${r.index}); use another --out or the same inputs`);
      }
      done.add(key(r.index, r.method));
    }

    const context = contextFromModel(model, {
      seed: settings.seed,
      ig: { steps: settings.igSteps },
      ...(settings.gradcamNode !== undefined ? { gradcamNode: settings.gradcamNode } : {}),
      async loadLrp(rules) {
        const other = await load(rules);
        owned.push(other);
        return other;
      },
    });
    for (const name of settings.methods) methods.push(await createMethod(name, context));
    evaluator = await InsertionDeletionEvaluator.create(classifier, {
      patch: settings.patch,
      step: settings.step,
      quantize: settings.quantize,
      ties: settings.ties,
      tieSeed: settings.seed,
      batchSize: settings.batch,
    });

    const todo = selected.filter((image) => methods.some((m) => !done.has(key(image.index, m.name))));
    if (done.size > 0 && !settings.quiet) io.stderr.write(`--resume: ${selected.length - todo.length} of ${selected.length} images already evaluated\n`);
    const decode = (path: string) => model.loadImage(path, settings.fit ? { fit: settings.fit } : {});
    const failures = await evaluateAll(todo, methods, evaluator, decode, done, settings, io);

    const report = summarize(info, await readRecords(settings.outDir), model.classNames);
    const written = await writeReport(settings.outDir, report);
    if (settings.json) io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    else if (!settings.quiet) io.stdout.write(formatReportTable(report, written, weights.meaningful));
    return failures > 0 ? 1 : 0;
  } finally {
    await evaluator?.dispose();
    for (const m of methods) await m.dispose();
    for (const m of owned) await m.dispose();
  }
}

function key(index: number, method: string): string {
  return `${index}\t${method}`;
}

/** The files evaluate writes into its folder. */
const EVALUATE_OUTPUTS: readonly string[] = [RUN_FILE, RESULTS_FILE, ...Object.values(REPORT_FILES)];

/** True for the files evaluate writes into its folder (whose stale temporary files it removes). */
export function isEvaluateOutput(name: string): boolean {
  return EVALUATE_OUTPUTS.includes(name);
}

/** Results of an earlier run in the folder need --resume: refused before the model loads. */
async function refuseEarlierRun(settings: EvaluateSettings): Promise<void> {
  if (settings.resume) return;
  if ((await readRunInfo(settings.outDir)) && (await readRecords(settings.outDir)).length > 0) {
    throw new UsageError(`${settings.outDir} holds the results of an earlier run: add --resume to continue it, or choose another --out`, EVALUATE_COMMAND.name);
  }
}

/** Writes the run.json of the (prepared, locked) output folder; on --resume checks that the settings match. */
async function prepareOutput(settings: EvaluateSettings, runSettings: RunSettings): Promise<RunInfo> {
  const shard = settings.shard ?? null;
  const existing = await readRunInfo(settings.outDir);
  const records = existing ? await readRecords(settings.outDir) : [];
  let methods = [...settings.methods];
  // Without --resume such a folder was refused before the model loaded (refuseEarlierRun).
  if (existing && records.length > 0) {
    const differences = settingsDifferences(existing.settings, runSettings);
    if (JSON.stringify(existing.shard) !== JSON.stringify(shard)) differences.push(`shard: ${JSON.stringify(existing.shard)} ≠ ${JSON.stringify(shard)}`);
    if (differences.length > 0) throw new UsageError(`--resume: the settings differ from the run in ${settings.outDir} (${differences.join('; ')})`, EVALUATE_COMMAND.name);
    methods = [...existing.methods, ...methods.filter((m) => !existing.methods.includes(m))];
  }
  const info: RunInfo = { format: 'resnet-lrp-evaluate/1', settings: runSettings, methods, shard };
  await writeRunInfo(settings.outDir, info);
  return info;
}

/** Evaluates every image (skipping finished image/method pairs); returns the number of failed images. */
async function evaluateAll(
  images: readonly SelectedImage[],
  methods: readonly AttributionMethod[],
  evaluator: InsertionDeletionEvaluator,
  decode: (path: string) => Promise<LoadedImage>,
  done: ReadonlySet<string>,
  settings: EvaluateSettings,
  io: CliIO,
): Promise<number> {
  const progress = createImageProgress(io.stderr, images.length, { enabled: !settings.quiet && images.length > 0 });
  let failures = 0;
  const fail = (image: SelectedImage, error: unknown): void => {
    failures++;
    const message = error instanceof Error ? error.message : String(error);
    progress.message(`error: ${image.path}: ${message.startsWith(`${image.path}: `) ? message.slice(image.path.length + 2) : message}`);
    progress.advance(image.path);
  };
  type Decoded = { image: SelectedImage; loaded: LoadedImage } | undefined;
  await runPipelined<SelectedImage, Decoded, void>(chunk(images, 1), {
    async decode([image]) {
      try {
        return { image: image!, loaded: await decode(image!.path) };
      } catch (error) {
        fail(image!, error);
        return undefined;
      }
    },
    async compute(decoded) {
      if (!decoded) return;
      const { image, loaded } = decoded;
      const todo = methods.filter((m) => !done.has(key(image.index, m.name)));
      try {
        await evaluateImage(evaluator, todo, loaded.input, image.label, async (outcome, predicted, target) => {
          await appendRecord(settings.outDir, {
            image: image.path,
            index: image.index,
            label: image.label ?? null,
            predicted,
            target,
            method: outcome.method,
            insertion: outcome.insertion,
            deletion: outcome.deletion,
            pid: outcome.pid,
            insertionCurve: roundCurve(outcome.insertionCurve),
            deletionCurve: roundCurve(outcome.deletionCurve),
            seconds: Math.round(outcome.seconds * 1000) / 1000,
            conservation: outcome.conservation,
            tied: outcome.ties.tied,
            paperLead: outcome.ties.paperLead,
          });
        });
        progress.advance(image.path);
      } catch (error) {
        fail(image, error);
      }
    },
    async write() {},
  });
  progress.done();
  return failures;
}

/** The human summary: the table per method and where the files are. */
export function formatReportTable(report: EvaluationReport, files: readonly string[], meaningful = true): string {
  const se = (m: { mean: number; se: number | null }): string => `${m.mean.toFixed(3)} ± ${m.se === null ? '—' : m.se.toFixed(3)}`;
  const quantized = report.settings.quantize !== false;
  const table = formatTable(
    ['method', 'n', 'insertion ↑', 'deletion ↓', 'PID ↑', 'PID 95 % CI', 'conservation', ...(quantized ? ['ties'] : []), 's/image'],
    report.methods.map((m) => [
      m.method, String(m.n), se(m.insertion), se(m.deletion), se(m.pid), formatCi(m.pidCi95), formatConservation(m), ...(quantized ? [formatTies(m)] : []),
      report.timing[m.method]!.toFixed(2),
    ]),
  );
  const note = meaningful ? '' : `\n(${RANDOM_WEIGHTS_NOTE})`;
  const ties = quantized ? '; ties: patches tied at the thresholds per step (share of all patches the paper\'s rule takes ahead)' : '';
  const differences = report.differences.map((d) => `${d.a} − ${d.b}: ${d.mean.toFixed(3)} ${formatCi(d.ci95)} (n = ${d.n})`);
  return `\n${table}\n\n${differences.length > 0 ? `paired PID differences (95 % CI): ${differences.join('; ')}\n` : ''}` +
    `conservation: Σ input relevance / start relevance${ties}\nties ${describeTies(report.settings)}\n` +
    `${report.images} images; report: ${files.join(', ')}${note}\n`;
}
