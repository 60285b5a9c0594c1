/**
 * `resnet-lrp evaluate`: scores attribution methods with patch insertion / deletion over a set
 * of images. Loads the model once, evaluates image after image (decoding the next while
 * onnxruntime works), appends one JSON line per image and method as soon as it is known, and
 * writes the report at the end. `--resume` continues an interrupted run; `--shard i/n` takes a
 * deterministic part for `merge`.
 */
import { mkdir } from 'node:fs/promises';
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
  roundCurve,
  settingsDifferences,
  writeRunInfo,
  type RunInfo,
  type RunSettings,
} from '../eval/records.js';
import { summarize, writeReport, type EvaluationReport } from '../eval/report.js';
import type { LoadedImage } from '../image/load.js';
import { LrpResNet50 } from '../lrp-resnet.js';
import type { LrpOptions } from '../lrp/presets.js';
import { collectImages, selectImages, type SelectedImage } from './evaluate-inputs.js';
import { EVALUATE_COMMAND, IMAGE_EXTENSIONS, parseEvaluateArgs, type EvaluateSettings } from './evaluate-options.js';
import { compileCacheSetting } from './option-values.js';
import { RANDOM_WEIGHTS_NOTE } from './explain.js';
import { createImageProgress } from './image-progress.js';
import { chunk, runPipelined } from './pipeline.js';
import { formatTable } from './table.js';
import { formatHelp, UsageError, type CliIO } from './usage.js';
import { resolveWeights } from './weights.js';

/** Runs `evaluate` with the arguments after `evaluate`; returns the exit code. */
export async function evaluateCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const request = parseEvaluateArgs(argv);
  if (request.help) {
    io.stdout.write(formatHelp(EVALUATE_COMMAND));
    return 0;
  }
  const settings = request.settings;
  const warn = (message: string): void => {
    if (!settings.quiet) io.stderr.write(`warning: ${message}\n`);
  };

  const weights = await resolveWeights(settings.weights, { stderr: io.stderr, env: io.env, quiet: settings.quiet });
  if (!weights.meaningful) warn(`--weights random: seeded ${RANDOM_WEIGHTS_NOTE}; the scores say nothing about real models`);
  const load = (rules: LrpOptions): Promise<LrpResNet50> =>
    LrpResNet50.load({
      weights: weights.source, rules, precision: settings.precision, ...(weights.seed !== undefined ? { seed: weights.seed } : {}),
      compileCache: compileCacheSetting(settings.noCache, io.env),
    });
  const model = await load({});
  const owned: LrpResNet50[] = [model];
  const methods: AttributionMethod[] = [];
  let evaluator: InsertionDeletionEvaluator | undefined;
  try {
    // The model's own input description decides preprocessing, layout and "black".
    const classifier = classifierFromModel(model);
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
      model: weights.label,
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

/** Creates the output folder and its run.json; on --resume checks that the settings match. */
async function prepareOutput(settings: EvaluateSettings, runSettings: RunSettings): Promise<RunInfo> {
  try {
    await mkdir(settings.outDir, { recursive: true });
  } catch (error) {
    throw new Error(`cannot create the output folder ${settings.outDir}: ${(error as Error).message}`, { cause: error });
  }
  const shard = settings.shard ?? null;
  const existing = await readRunInfo(settings.outDir);
  const records = existing ? await readRecords(settings.outDir) : [];
  let methods = [...settings.methods];
  if (existing && records.length > 0) {
    if (!settings.resume) {
      throw new UsageError(`${settings.outDir} holds the results of an earlier run: add --resume to continue it, or choose another --out`, EVALUATE_COMMAND.name);
    }
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
  const table = formatTable(
    ['method', 'n', 'insertion ↑', 'deletion ↓', 'PID ↑', 's/image'],
    report.methods.map((m) => [m.method, String(m.n), se(m.insertion), se(m.deletion), se(m.pid), report.timing[m.method]!.toFixed(2)]),
  );
  const note = meaningful ? '' : `\n(${RANDOM_WEIGHTS_NOTE})`;
  return `\n${table}\n\n${report.images} images; report: ${files.join(', ')}${note}\n`;
}
