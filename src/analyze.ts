/**
 * The one-call API: from an image file to a prediction, an attribution map and a figure.
 *
 * ```ts
 * const result = await analyzeImage('cat.jpg', { figure: 'cat-lrp.png' });
 * console.log(result.className, result.confidence);
 * ```
 */
import { renderFigure, type HeatmapStyle } from './image/figure.js';
import type { FitMode, LoadedImage } from './image/load.js';
import { quantizeHeat } from './image/quantize.js';
import { LrpModel, type LoadOptions, type LrpResult } from './lrp-model.js';
import { topK, type ClassScore } from './model/labels.js';
import { assertFiniteResult } from './runtime/result-checks.js';
import { writeFileAtomic } from './util/atomic-write.js';

export interface AnalyzeOptions {
  /** A loaded model, or options to load one (default: ImageNet weights, default rules). */
  model?: LrpModel | LoadOptions;
  /** Class to explain (default: the predicted class). */
  classIndex?: number;
  /** Quantize the returned map to this many levels (the paper's heat quantization); default off. */
  quantize?: number | false;
  /** How the image is fitted to the model input (default: the model's input description; Keras `resize`). */
  fit?: FitMode;
  /** Write a three-panel figure (original, relevance, overlay) to this PNG path. */
  figure?: string;
  /** Colormap, positive-only, … of the figure. */
  style?: Omit<HeatmapStyle, 'quantize'>;
}

export interface AnalyzeResult {
  /** The image path, or `<buffer>`. */
  source: string;
  /** Predicted class, its name and softmax probability. */
  predictedClass: number;
  className: string;
  confidence: number;
  top5: ClassScore[];
  /** The explained class and its name (the predicted one unless `classIndex` was given). */
  targetClass: number;
  targetName: string;
  /** The attribution map (quantized if asked), H × W row-major. */
  attribution: { data: Float32Array; shape: [number, number] };
  /** The image as shown to the model (RGB, resized). */
  image: LoadedImage;
  /** |Σ R_input − R_start| / |R_start|. */
  conservationError: number;
  /** The full LRP result (unquantized map, per-channel relevance, trace). */
  lrp: LrpResult;
  /** Where the figure was written, when asked. */
  figurePath?: string;
}

const defaultModels = new Map<string, Promise<LrpModel>>();

/** Loads (once per process and options) the model analyzeImage uses when given none. */
function modelFor(option: AnalyzeOptions['model']): Promise<LrpModel> {
  if (option instanceof LrpModel) return Promise.resolve(option);
  const key = JSON.stringify(option ?? {}, (_, v) => (v instanceof Uint8Array ? `<${v.length} bytes>` : v));
  let model = defaultModels.get(key);
  if (!model) {
    model = LrpModel.load(option ?? {});
    defaultModels.set(key, model);
    model.catch(() => defaultModels.delete(key));
  }
  return model;
}

/**
 * Classifies an image and explains the prediction (or `classIndex`) with LRP.
 *
 * @throws Error naming the image when it cannot be loaded, or when the result holds a
 *   non-finite number (the weights, rules or input overflow): never a NaN figure.
 */
export async function analyzeImage(image: string | Uint8Array | LoadedImage, options: AnalyzeOptions = {}): Promise<AnalyzeResult> {
  const model = await modelFor(options.model);
  const loaded = isLoaded(image) ? image : await model.loadImage(image, options.fit ? { fit: options.fit } : {});
  const lrp = await model.computeLrp(loaded.input, { classIndex: options.classIndex, debug: true });
  assertFiniteResult(lrp, loaded.source);
  const labels = model.classNames;
  const nameOf = (i: number) => labels[i]!;
  const top5 = topK(lrp.probabilities, 5, labels);
  const map = options.quantize ? quantizeHeat(lrp.attribution.data, options.quantize) : lrp.attribution.data;
  const result: AnalyzeResult = {
    source: loaded.source,
    predictedClass: lrp.classIndex,
    className: nameOf(lrp.classIndex),
    confidence: lrp.probabilities[lrp.classIndex]!,
    top5,
    targetClass: lrp.targetClass,
    targetName: nameOf(lrp.targetClass),
    attribution: { data: map, shape: lrp.attribution.shape },
    image: loaded,
    conservationError: lrp.conservationError!,
    lrp,
  };
  if (options.figure) {
    const png = await renderFigure({ ...options.style, image: loaded, attribution: map, title: figureTitle(result) });
    await writeFileAtomic(options.figure, png);
    result.figurePath = options.figure;
  }
  return result;
}

/** `tabby, tabby cat (281) — 87.3 %`, plus the explained class when it is not the predicted one. */
export function figureTitle(result: Pick<AnalyzeResult, 'className' | 'predictedClass' | 'confidence' | 'targetClass' | 'targetName'>): string {
  const predicted = `${result.className} (${result.predictedClass}) — ${(100 * result.confidence).toFixed(1)} %`;
  return result.targetClass === result.predictedClass ? predicted : `${predicted}; explaining ${result.targetName} (${result.targetClass})`;
}

function isLoaded(image: string | Uint8Array | LoadedImage): image is LoadedImage {
  return typeof image === 'object' && !(image instanceof Uint8Array) && 'input' in image;
}
