/**
 * `resnet-lrp explain`: loads the model once, then classifies and explains every input image in
 * batches, writing the requested files and a summary. A bad input is reported and skipped; it
 * never stops the others.
 */
import { figureTitle } from '../analyze.js';
import type { LoadedImage } from '../image/load.js';
import { readStreamBounded } from '../image/read-file.js';
import { LrpModel, type LoadOptions, type LrpResult } from '../lrp-model.js';
import { IMAGENET_CLASS_COUNT, readLabelsFile, topK } from '../model/labels.js';
import { assertFiniteResult } from '../runtime/result-checks.js';
import { MISSING_CLASSIFIER } from '../weights/bind.js';
import { EXPLAIN_COMMAND, IMAGE_EXTENSIONS, parseExplainArgs, type ExplainSettings } from './explain-options.js';
import { createImageProgress } from './image-progress.js';
import { assignOutputNames, expandInputs, STDIN_INPUT, type InputFile } from './inputs.js';
import { prepareOutputFolder } from './output-folder.js';
import { isOutputName, mapStats, outputPaths, writeOutputs, type Explanation } from './outputs.js';
import { chunk, runPipelined } from './pipeline.js';
import { compileCacheSetting } from './option-values.js';
import { printable } from './printable.js';
import { allComplete } from './resume-check.js';
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

  const { files, emptyFolders, ownOutputs } = await expandInputs(settings.inputs, IMAGE_EXTENSIONS, isOutputName);
  for (const folder of emptyFolders) warn(`no images (${IMAGE_EXTENSIONS.join(' ')}) in folder ${printable(folder)}`);
  if (ownOutputs.length > 0) {
    const example = printable(ownOutputs[0]!);
    warn(`left out ${ownOutputs.length} file${ownOutputs.length === 1 ? '' : 's'} named like outputs of this command (e.g. ${example}): outputs are never inputs`);
  }
  if (files.length === 0) throw new UsageError(`no images found in ${settings.inputs.map(printable).join(', ')}`, 'explain');
  // ImageNet and random weights have 1000 classes: fail before a download or a long load.
  if (settings.weights.kind !== 'file') checkClass(settings.classIndex, IMAGENET_CLASS_COUNT);
  const labels = settings.labels === undefined ? undefined : readLabels(settings.labels);
  const resolve = (): Promise<ResolvedWeights> => resolveWeights(settings.weights, { stderr: io.stderr, env: io.env, quiet: settings.quiet, command: EXPLAIN_COMMAND.name });
  // A missing weights file is a usage error: found before anything is written.
  const fileWeights = settings.weights.kind === 'file' ? await resolve() : undefined;
  // The output folder next: a bad --out fails now, not after a download, the model load or every image.
  const { stale, undo } = await prepareOutputFolder(settings.outDir, isOutputName);
  if (stale.length > 0) warn(`removed ${stale.length} temporary file${stale.length === 1 ? '' : 's'} left in ${printable(settings.outDir)} by an interrupted run`);

  let model: LrpModel;
  try {
    const weights = fileWeights ?? (await resolve());
    if (!weights.meaningful) warn(`--weights random: seeded ${RANDOM_WEIGHTS_NOTE} (for testing the pipeline only)`);
    model = await loadModel({
      weights: weights.source,
      rules: settings.rules,
      precision: settings.precision,
      ...(weights.seed !== undefined ? { seed: weights.seed } : {}),
      ...(labels ? { labels } : {}),
      ...(settings.size !== undefined ? { input: settings.size } : {}),
      ...(settings.maxInputPixels !== undefined ? { maxInputPixels: settings.maxInputPixels } : {}),
      ...(settings.memoryBudget !== undefined ? { memoryBudget: settings.memoryBudget } : {}),
      compileCache: compileCacheSetting(settings.noCache, io.env),
    });
    try {
      checkClass(settings.classIndex, model.info.classes);
      for (const c of settings.classes ?? []) checkClass(c, model.info.classes, 'classes');
      if (settings.topK !== undefined && settings.topK > model.info.classes) {
        throw new UsageError(`--top-k must be at most ${model.info.classes} (the model's classes), got ${settings.topK}`, 'explain');
      }
    } catch (error) {
      await model.dispose();
      throw error;
    }
    return await explainWith(model, weights, files, settings, io);
  } catch (error) {
    // Stopped before any image ran (weights, model, --class): leave no empty folder behind.
    await undo();
    throw error;
  }
}

async function explainWith(model: LrpModel, weights: ResolvedWeights, files: readonly string[], settings: ExplainSettings, io: CliIO): Promise<number> {
  try {
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

/** LrpModel.load, with advice the command line can follow for a file without classifier. */
async function loadModel(options: LoadOptions): Promise<LrpModel> {
  try {
    return await LrpModel.load(options);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== MISSING_CLASSIFIER) throw error;
    throw new Error(
      `${(error as Error).message}\n` +
        'The command line needs weights that include the classifier (saved with include_top=True), e.g. ' +
        '--weights imagenet. To explain with your own classifier on a notop file, use the library: ' +
        'LrpModel.load({ weights, head: { kernel, bias } }).',
      { cause: error },
    );
  }
}

function checkClass(classIndex: number | undefined, classes: number, option = 'class'): void {
  if (classIndex !== undefined && classIndex >= classes) {
    throw new UsageError(`--${option} must be in 0..${classes - 1} (the model has ${classes} classes), got ${classIndex}`, 'explain');
  }
}

/**
 * The output tags of one image: none for one class; `c<index>` per class of `--classes`;
 * `top<rank>` for `--top-k` (known before the run, so `--resume` can check them).
 */
function outputTags(settings: ExplainSettings): string[] {
  if (settings.classes) return settings.classes.map((c) => `c${c}`);
  if (settings.topK !== undefined) return Array.from({ length: settings.topK }, (_, r) => `top${r + 1}`);
  return [''];
}

const tagged = (name: string, tag: string): string => (tag ? `${name}.${tag}` : name);

/** One input on its way through the pipeline. */
interface Job {
  readonly index: number;
  readonly input: InputFile;
  /** Output paths per class explained (one entry unless --classes / --top-k). */
  readonly paths: ReturnType<typeof outputPaths>[];
}

/** Explains every input (skipping complete ones with `--resume`); results in input order. */
async function explainAll(
  model: LrpModel,
  weights: ResolvedWeights,
  inputs: readonly InputFile[],
  settings: ExplainSettings,
  io: CliIO,
): Promise<InputResult[]> {
  // One row per image and class explained, in input order.
  const results: InputResult[][] = [];
  const jobs: Job[] = [];
  const [, size] = model.info.inputShape;
  const tags = outputTags(settings);
  const pathsOf = (input: InputFile) => tags.map((tag) => outputPaths(settings.outDir, tagged(input.name, tag), settings.formats));
  // --resume trusts only complete outputs (decoded, parsed, of the right size); checked a few at a time.
  const complete = await mapLimited(inputs, 8, async (input) =>
    settings.resume && input.path !== STDIN_INPUT ? (await Promise.all(pathsOf(input).map((p) => allComplete(p, size, size)))).every(Boolean) : false,
  );
  for (const [index, input] of inputs.entries()) {
    const paths = pathsOf(input);
    if (complete[index]) {
      results[index] = [{ input: input.path, name: input.name, status: 'skipped', outputs: paths.flatMap((p) => Object.values(p)) }];
    } else {
      jobs.push({ index, input, paths });
    }
  }
  const skipped = inputs.length - jobs.length;
  if (skipped > 0 && !settings.quiet) io.stderr.write(`--resume: skipping ${skipped} of ${inputs.length} inputs whose outputs are complete\n`);

  const progress = createImageProgress(io.stderr, jobs.length, { enabled: !settings.quiet && jobs.length > 1 });
  const fail = (job: Job, error: unknown): void => {
    const reason = reasonFor(error, job.input.path);
    results[job.index] = [{ input: job.input.path, name: job.input.name, status: 'failed', error: reason, outputs: [] }];
    progress.message(`error: ${printable(job.input.path)}: ${printable(reason)}`);
    progress.advance(printable(job.input.name));
  };
  const names = model.classNames;
  const limits = { ...(settings.fit ? { fit: settings.fit } : {}), maxPixels: settings.maxPixels, maxBytes: settings.maxBytes };
  const load = async (path: string): Promise<LoadedImage> => {
    if (path !== STDIN_INPUT) return model.loadImage(path, limits);
    if (!io.stdin) throw new Error('no standard input to read');
    const image = await model.loadImage(await readStreamBounded(io.stdin, settings.maxBytes, '<stdin>'), limits);
    return { ...image, source: '<stdin>' };
  };

  type Decoded = { job: Job; image: LoadedImage }[];
  type Computed = { job: Job; image: LoadedImage; lrp: LrpResult }[];
  /** Writes the outputs of class `k` of an image; its row of the summary. */
  const writeResult = async (job: Job, image: LoadedImage, lrp: LrpResult, k: number): Promise<InputResult> => {
    const explanation = explain(lrp, image, weights, model, settings, names);
    const written = await writeOutputs({
      paths: job.paths[k]!,
      image,
      attribution: lrp.attribution.data,
      explanation,
      title: titleOf(explanation, weights),
      style: { quantize: settings.quantize, positiveOnly: settings.positiveOnly, ...(settings.colormap ? { colormap: settings.colormap } : {}) },
      includeMap: settings.includeMap,
      ...(lrp.trace ? { trace: lrp.trace } : {}),
    });
    return {
      input: job.input.path,
      name: tagged(job.input.name, tags[k]!),
      status: 'ok',
      predictedClass: explanation.prediction.classIndex,
      className: explanation.prediction.className,
      confidence: explanation.prediction.confidence,
      targetClass: explanation.target.classIndex,
      targetName: explanation.target.className,
      conservation: explanation.conservation,
      conservationError: explanation.conservationError,
      outputs: written,
    };
  };
  /**
   * Several classes of one image share its forward pass, K targets per run. Each run's outputs
   * are written before the next run starts, so any K needs the memory of one run only.
   */
  const explainClasses = async ({ job, image }: Decoded[number]): Promise<void> => {
    const rows: InputResult[] = [];
    const options = settings.classes ? { classIndices: settings.classes, debug: true } : { topK: settings.topK!, debug: true };
    for await (const lrps of model.computeLrpRuns(image.input, options)) {
      for (const lrp of lrps) {
        // A non-finite result is that image's failure, never a figure with NaN in it.
        assertFiniteResult(lrp, job.input.path);
        rows.push(await writeResult(job, image, lrp, rows.length));
      }
    }
    results[job.index] = rows;
    progress.advance(printable(job.input.name));
  };
  const multi = settings.classes !== undefined || settings.topK !== undefined;
  await runPipelined<Job, Decoded, Computed>(chunk(jobs, multi ? 1 : settings.batch), {
    async decode(batch) {
      const loaded = await Promise.allSettled(batch.map((job) => load(job.input.path)));
      const ok: Decoded = [];
      loaded.forEach((r, i) => (r.status === 'fulfilled' ? ok.push({ job: batch[i]!, image: r.value }) : fail(batch[i]!, r.reason)));
      return ok;
    },
    async compute(decoded) {
      if (decoded.length === 0) return [];
      if (multi) {
        for (const d of decoded) await explainClasses(d).catch((error: unknown) => fail(d.job, error));
        return [];
      }
      try {
        const lrps = await model.computeLrpBatch(
          decoded.map((d) => d.image.input),
          { debug: true, ...(settings.classIndex !== undefined ? { classIndices: decoded.map(() => settings.classIndex) } : {}) },
        );
        // A non-finite result is that image's failure, never a figure with NaN in it.
        const ok: Computed = [];
        decoded.forEach((d, i) => {
          try {
            assertFiniteResult(lrps[i]!, d.job.input.path);
            ok.push({ ...d, lrp: lrps[i]! });
          } catch (error) {
            fail(d.job, error);
          }
        });
        return ok;
      } catch (error) {
        decoded.forEach((d) => fail(d.job, error));
        return [];
      }
    },
    async write(computed) {
      await Promise.all(
        computed.map(async ({ job, image, lrp }) => {
          try {
            results[job.index] = [await writeResult(job, image, lrp, 0)];
            progress.advance(printable(job.input.name));
          } catch (error) {
            fail(job, error);
          }
        }),
      );
    },
  });
  progress.done();
  return results.flat();
}

/** The JSON record of one result. */
function explain(
  lrp: LrpResult,
  image: LoadedImage,
  weights: ResolvedWeights,
  model: LrpModel,
  settings: ExplainSettings,
  names: readonly string[],
): Explanation {
  const nameOf = (i: number): string => names[i]!;
  const stats = mapStats(lrp.attribution.data);
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
    // The map is the relevance summed over channels: its sum is the input relevance.
    conservation: stats.sum / lrp.startRelevance,
    conservationError: lrp.conservationError!,
    attribution: { shape: lrp.attribution.shape, ...stats },
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

/** `work` over `items`, at most `limit` at a time; results in order. */
async function mapLimited<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await work(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** The error message without the leading `<path>: ` the library's image errors carry. */
function reasonFor(error: unknown, path: string): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.startsWith(`${path}: `) ? message.slice(path.length + 2) : message;
}
