/**
 * `resnet-lrp explain`: loads the model once, then classifies and explains every input image in
 * batches, writing the requested files and a summary. A bad input is reported and skipped; it
 * never stops the others.
 */
import { mkdir } from 'node:fs/promises';
import { figureTitle } from '../analyze.js';
import type { LoadedImage } from '../image/load.js';
import { LrpResNet, type LrpResult } from '../lrp-resnet.js';
import { IMAGENET_CLASS_COUNT, readLabelsFile, topK } from '../model/labels.js';
import { EXPLAIN_COMMAND, IMAGE_EXTENSIONS, parseExplainArgs, type ExplainSettings } from './explain-options.js';
import { createImageProgress } from './image-progress.js';
import { assignOutputNames, expandInputs, type InputFile } from './inputs.js';
import { allExist, mapStats, outputPaths, writeOutputs, type Explanation } from './outputs.js';
import { chunk, runPipelined } from './pipeline.js';
import { formatSummary, type InputResult } from './table.js';
import { formatHelp, UsageError, type CliIO } from './usage.js';
import { resolveWeights, type ResolvedWeights } from './weights.js';

/** Label added wherever random-weight results are shown. */
export const RANDOM_WEIGHTS_NOTE = 'random weights: NOT a meaningful explanation';

/**
 * Runs `explain` with `argv` (the arguments after `explain`).
 *
 * @returns the exit code: 0 all inputs explained or skipped, 1 some failed.
 * @throws UsageError (exit 2), or the library's error when the model cannot be loaded.
 */
export async function explainCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const request = parseExplainArgs(argv);
  if (request.help) {
    io.stdout.write(formatHelp(EXPLAIN_COMMAND));
    return 0;
  }
  const settings = request.settings;
  const warn = (message: string): void => {
    if (!settings.quiet) io.stderr.write(`warning: ${message}\n`);
  };

  const { files, emptyFolders } = await expandInputs(settings.inputs, IMAGE_EXTENSIONS);
  for (const folder of emptyFolders) warn(`no images (${IMAGE_EXTENSIONS.join(' ')}) in folder ${folder}`);
  if (files.length === 0) throw new UsageError(`no images found in ${settings.inputs.join(', ')}`, 'explain');
  // ImageNet and random weights have 1000 classes: fail before a download or a long load.
  if (settings.weights.kind !== 'file') checkClass(settings.classIndex, IMAGENET_CLASS_COUNT);
  const labels = settings.labels === undefined ? undefined : readLabels(settings.labels);

  const weights = await resolveWeights(settings.weights, { stderr: io.stderr, env: io.env, quiet: settings.quiet });
  if (!weights.meaningful) warn(`--weights random: seeded ${RANDOM_WEIGHTS_NOTE} (for testing the pipeline only)`);
  const model = await LrpResNet.load({
    weights: weights.source,
    rules: settings.rules,
    precision: settings.precision,
    ...(weights.seed !== undefined ? { seed: weights.seed } : {}),
    ...(labels ? { labels } : {}),
  });
  try {
    checkClass(settings.classIndex, model.info.classes);
    await createOutputFolder(settings.outDir);
    const results = await explainAll(model, weights, assignOutputNames(files), settings, io);
    if (settings.json) {
      io.stdout.write(`${JSON.stringify(results.map((r) => ({ ...r, weights: weights.label, meaningful: weights.meaningful })), null, 2)}\n`);
    } else if (!settings.quiet) {
      const note = weights.meaningful ? '' : ` — ${RANDOM_WEIGHTS_NOTE}`;
      io.stdout.write(`\nweights: ${weights.label}${note}\nrules: ${model.info.rules}\n\n${formatSummary(results, settings.outDir)}`);
    }
    return results.some((r) => r.status === 'failed') ? 1 : 0;
  } finally {
    await model.dispose();
  }
}

/** The `--labels` file; a usage error when it cannot be read or is not a list of names. */
function readLabels(path: string): string[] {
  try {
    return readLabelsFile(path);
  } catch (error) {
    throw new UsageError(`--labels ${(error as Error).message}`, 'explain');
  }
}

/** One clear error up front, instead of the same failure for every image. */
async function createOutputFolder(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    throw new Error(`cannot create the output folder ${dir}: ${(error as Error).message}`, { cause: error });
  }
}

function checkClass(classIndex: number | undefined, classes: number): void {
  if (classIndex !== undefined && classIndex >= classes) {
    throw new UsageError(`--class must be in 0..${classes - 1} (the model has ${classes} classes), got ${classIndex}`, 'explain');
  }
}

/** One input on its way through the pipeline. */
interface Job {
  readonly index: number;
  readonly input: InputFile;
  readonly paths: ReturnType<typeof outputPaths>;
}

/** Explains every input (skipping complete ones with `--resume`); results in input order. */
async function explainAll(
  model: LrpResNet,
  weights: ResolvedWeights,
  inputs: readonly InputFile[],
  settings: ExplainSettings,
  io: CliIO,
): Promise<InputResult[]> {
  const results: InputResult[] = [];
  const jobs: Job[] = [];
  for (const [index, input] of inputs.entries()) {
    const paths = outputPaths(settings.outDir, input.name, settings.formats);
    const existing = Object.values(paths);
    if (settings.resume && (await allExist(existing))) {
      results[index] = { input: input.path, name: input.name, status: 'skipped', outputs: existing };
    } else {
      jobs.push({ index, input, paths });
    }
  }
  const skipped = inputs.length - jobs.length;
  if (skipped > 0 && !settings.quiet) io.stderr.write(`--resume: skipping ${skipped} of ${inputs.length} inputs whose outputs exist\n`);

  const progress = createImageProgress(io.stderr, jobs.length, { enabled: !settings.quiet && jobs.length > 1 });
  const fail = (job: Job, error: unknown): void => {
    const reason = reasonFor(error, job.input.path);
    results[job.index] = { input: job.input.path, name: job.input.name, status: 'failed', error: reason, outputs: [] };
    progress.message(`error: ${job.input.path}: ${reason}`);
    progress.advance(job.input.name);
  };
  const names = model.classNames;

  type Decoded = { job: Job; image: LoadedImage }[];
  await runPipelined<Job, Decoded, { job: Job; image: LoadedImage; lrp: LrpResult }[]>(chunk(jobs, settings.batch), {
    async decode(batch) {
      const loaded = await Promise.allSettled(batch.map((job) => model.loadImage(job.input.path, settings.fit ? { fit: settings.fit } : {})));
      const ok: Decoded = [];
      loaded.forEach((r, i) => (r.status === 'fulfilled' ? ok.push({ job: batch[i]!, image: r.value }) : fail(batch[i]!, r.reason)));
      return ok;
    },
    async compute(decoded) {
      if (decoded.length === 0) return [];
      try {
        const lrps = await model.computeLrpBatch(
          decoded.map((d) => d.image.input),
          { debug: true, ...(settings.classIndex !== undefined ? { classIndices: decoded.map(() => settings.classIndex) } : {}) },
        );
        return decoded.map((d, i) => ({ ...d, lrp: lrps[i]! }));
      } catch (error) {
        decoded.forEach((d) => fail(d.job, error));
        return [];
      }
    },
    async write(computed) {
      await Promise.all(
        computed.map(async ({ job, image, lrp }) => {
          const explanation = explain(lrp, image, weights, model, settings, names);
          try {
            const written = await writeOutputs({
              paths: job.paths,
              image,
              attribution: lrp.attribution.data,
              explanation,
              title: titleOf(explanation, weights),
              style: { quantize: settings.quantize, positiveOnly: settings.positiveOnly, ...(settings.colormap ? { colormap: settings.colormap } : {}) },
              includeMap: settings.includeMap,
            });
            results[job.index] = {
              input: job.input.path,
              name: job.input.name,
              status: 'ok',
              predictedClass: explanation.prediction.classIndex,
              className: explanation.prediction.className,
              confidence: explanation.prediction.confidence,
              targetClass: explanation.target.classIndex,
              targetName: explanation.target.className,
              conservationError: explanation.conservationError,
              outputs: written,
            };
            progress.advance(job.input.name);
          } catch (error) {
            fail(job, error);
          }
        }),
      );
    },
  });
  progress.done();
  return results;
}

/** The JSON record of one result. */
function explain(
  lrp: LrpResult,
  image: LoadedImage,
  weights: ResolvedWeights,
  model: LrpResNet,
  settings: ExplainSettings,
  names: readonly string[],
): Explanation {
  const nameOf = (i: number): string => names[i]!;
  return {
    source: image.source,
    weights: weights.label,
    meaningful: weights.meaningful,
    rules: model.info.rules,
    precision: model.info.precision,
    fit: settings.fit ?? model.inputDescription.resize.fit,
    prediction: { classIndex: lrp.classIndex, className: nameOf(lrp.classIndex), confidence: lrp.probabilities[lrp.classIndex]! },
    top5: topK(lrp.probabilities, 5, names),
    target: { classIndex: lrp.targetClass, className: nameOf(lrp.targetClass), startRelevance: lrp.startRelevance },
    conservationError: lrp.conservationError!,
    attribution: { shape: lrp.attribution.shape, ...mapStats(lrp.attribution.data) },
  };
}

function titleOf(e: Explanation, weights: ResolvedWeights): string {
  const title = figureTitle({
    className: e.prediction.className,
    predictedClass: e.prediction.classIndex,
    confidence: e.prediction.confidence,
    targetClass: e.target.classIndex,
    targetName: e.target.className,
  });
  return weights.meaningful ? title : `${title} [${RANDOM_WEIGHTS_NOTE}]`;
}

/** The error message without the leading `<path>: ` the library's image errors carry. */
function reasonFor(error: unknown, path: string): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.startsWith(`${path}: `) ? message.slice(path.length + 2) : message;
}
