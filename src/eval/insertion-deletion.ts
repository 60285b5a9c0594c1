/**
 * Patch insertion / deletion (PID), the paper's faithfulness score of an attribution map:
 * insert the most relevant patches into a black image step by step (insertion), or black them
 * out of the image (deletion), and follow the softmax probability of the target class. A
 * faithful map makes the probability rise early under insertion and fall early under
 * deletion: PID = AUC(insertion) − AUC(deletion), higher is better.
 *
 * ```ts
 * const result = await evaluateInsertionDeletion(classifier, input, map, { target: 281 });
 * result.pid; result.insertionCurve;   // 101 probabilities at the defaults
 * ```
 *
 * Per image: 2·ceil(P/step) forward passes (202 at the defaults), batched; the perturbed
 * images are built inside onnxruntime (`perturbation.ts`).
 */
import { performance } from 'node:perf_hooks';
import { createSession, ort, type SessionOptions } from '../runtime/session.js';
import { imageLength, type Classifier } from './classifier.js';
import {
  normalizedAuc,
  rankPatches,
  resolveInsertionDeletionOptions,
  type InsertionDeletionOptions,
  type ResolvedInsertionDeletionOptions,
  type TieStats,
} from './patch-insdel.js';
import { compilePerturbationModel, PERTURBATION_IO, scoreShape } from './perturbation.js';

/** Options of an {@link InsertionDeletionEvaluator}. */
export interface EvaluatorOptions extends InsertionDeletionOptions {
  /** Images per classifier run (insertion and deletion images of the same steps). Default 16. */
  batchSize?: number;
  /** onnxruntime settings of the perturbation session. */
  session?: SessionOptions;
}

/** The metric for one image and one map. */
export interface InsertionDeletionResult {
  /** The class whose probability was measured. */
  target: number;
  /** Normalised AUC of the insertion curve (higher = the map finds what the class needs). */
  insertion: number;
  /** Normalised AUC of the deletion curve (lower = removing the map's top patches hurts early). */
  deletion: number;
  /** insertion − deletion. */
  pid: number;
  /** Probability of the target after step i = 0 … n−1 (most relevant patches inserted first). */
  insertionCurve: number[];
  /** Probability of the target after step i (most relevant patches deleted first). */
  deletionCurve: number[];
  /** How much the (quantized) map ties at the step thresholds. */
  ties: TieStats;
}

/** Where the time went (for the benchmark's "outside onnxruntime" share). */
export interface EvaluatorStats {
  /** Images the classifier was run on. */
  forwardImages: number;
  /** Milliseconds awaiting the classifier. */
  classifierMs: number;
  /** Milliseconds awaiting the perturbation session. */
  perturbationMs: number;
}

/** Default images per classifier run. */
export const DEFAULT_EVAL_BATCH = 16;

/**
 * The metric bound to one classifier and one setting; reuse it for many images and maps (its
 * perturbation session is created once).
 */
export class InsertionDeletionEvaluator {
  readonly stats: EvaluatorStats = { forwardImages: 0, classifierMs: 0, perturbationMs: 0 };

  private constructor(
    readonly classifier: Classifier,
    readonly options: ResolvedInsertionDeletionOptions,
    private readonly batchSize: number,
    private readonly session: ort.InferenceSession,
  ) {}

  /** @throws Error for invalid options (patch size that does not divide the image, …). */
  static async create(classifier: Classifier, options: EvaluatorOptions = {}): Promise<InsertionDeletionEvaluator> {
    const resolved = resolveInsertionDeletionOptions(options, classifier.inputDescription.size);
    const batchSize = options.batchSize ?? DEFAULT_EVAL_BATCH;
    if (!Number.isInteger(batchSize) || batchSize < 2) throw new Error(`batchSize must be an integer ≥ 2, got ${String(batchSize)}`);
    const session = await createSession(compilePerturbationModel(classifier.inputDescription), options.session);
    return new InsertionDeletionEvaluator(classifier, resolved, batchSize, session);
  }

  /** Points per curve: ceil(P / step). */
  get steps(): number {
    return Math.ceil((this.classifier.inputDescription.size / this.options.patch) ** 2 / this.options.step);
  }

  /**
   * Insertion and deletion curves of one image for one map.
   *
   * @param input one preprocessed image in the classifier's layout.
   * @param map attribution map, size × size, row-major (float32, or float64 to keep ties apart
   *   that float32 would merge).
   * @param target class whose probability is measured (default: the predicted class).
   */
  async evaluate(input: Float32Array, map: Float32Array | Float64Array, target?: number): Promise<InsertionDeletionResult> {
    const desc = this.classifier.inputDescription;
    const length = imageLength(desc);
    if (!(input instanceof Float32Array) || input.length !== length) {
      throw new Error(`input must be one preprocessed image: a Float32Array of ${length} values, got ${input instanceof Float32Array ? input.length : typeof input}`);
    }
    const t = target ?? (await this.predict(input));
    if (!Number.isInteger(t) || t < 0 || t >= this.classifier.classes) {
      throw new Error(`target class ${t} is out of range: the model has classes 0..${this.classifier.classes - 1}`);
    }
    const { pixelRanks, thresholds, ties } = rankPatches(map, desc.size, this.options);
    const n = thresholds.length;
    const image = new ort.Tensor('float32', input, [1, ...(desc.layout === 'NCHW' ? [3, desc.size, desc.size] : [desc.size, desc.size, 3])]);
    const scoreTensor = new ort.Tensor('float32', pixelRanks, scoreShape(desc));
    const classes = this.classifier.classes;
    const insertionCurve: number[] = [];
    const deletionCurve: number[] = [];
    const perRun = Math.floor(this.batchSize / 2);
    for (let start = 0; start < n; start += perRun) {
      const k = Math.min(perRun, n - start);
      const t0 = performance.now();
      const out = await this.session.run({
        [PERTURBATION_IO.image]: image,
        [PERTURBATION_IO.scores]: scoreTensor,
        [PERTURBATION_IO.thresholds]: new ort.Tensor('float32', thresholds.subarray(start, start + k), [k]),
      });
      const t1 = performance.now();
      const probabilities = await this.classifier.probabilities(out[PERTURBATION_IO.images]!.data as Float32Array, 2 * k);
      this.stats.perturbationMs += t1 - t0;
      this.stats.classifierMs += performance.now() - t1;
      this.stats.forwardImages += 2 * k;
      for (let i = 0; i < k; i++) {
        insertionCurve.push(probabilities[i * classes + t]!);
        deletionCurve.push(probabilities[(k + i) * classes + t]!);
      }
    }
    const insertion = normalizedAuc(insertionCurve);
    const deletion = normalizedAuc(deletionCurve);
    return { target: t, insertion, deletion, pid: insertion - deletion, insertionCurve, deletionCurve, ties };
  }

  /** The predicted class of one image (one extra forward pass). */
  async predict(input: Float32Array): Promise<number> {
    const p = await this.classifier.probabilities(input, 1);
    let best = 0;
    for (let i = 1; i < p.length; i++) if (p[i]! > p[best]!) best = i;
    return best;
  }

  /** Releases the perturbation session (not the classifier). */
  async dispose(): Promise<void> {
    await this.session.release();
  }
}

/**
 * The metric for one image and map, as the paper computes it (docs/lrp-spec.md, "Patch insertion /
 * deletion"). For many images create one {@link InsertionDeletionEvaluator} and reuse it.
 *
 * @param model anything that gives class probabilities ({@link Classifier}).
 * @param input one preprocessed image in the model's layout.
 * @param map attribution map, size × size (e.g. relevance summed over channels).
 * @param options patch, step, quantize, the tie rule (`ties`, `tieSeed`), batch size, and the
 *   `target` class (default: predicted).
 */
export async function evaluateInsertionDeletion(
  model: Classifier,
  input: Float32Array,
  map: Float32Array | Float64Array,
  options: EvaluatorOptions & { target?: number } = {},
): Promise<InsertionDeletionResult> {
  const evaluator = await InsertionDeletionEvaluator.create(model, options);
  try {
    return await evaluator.evaluate(input, map, options.target);
  } finally {
    await evaluator.dispose();
  }
}
