/**
 * The classifier part shared by every model we compile: the image batch input (in the
 * layout of the model's input description), the forward pass, and the logits /
 * probabilities outputs.
 */
import { classCount, inputShape as graphInputShape, type ModelGraph, type ModelWeights } from '../graph/graph.js';
import { emitForward, type ForwardGraph } from './forward.js';
import { OnnxGraphBuilder, type Precision } from './graph-builder.js';

/** Input and output names of compiled models: the runtime feeds and reads these. */
export const IO = {
  /** (N, H, W, C) or (N, C, H, W) float32 (the model's layout), preprocessed as the model expects. */
  input: 'input',
  /** (N, H, W, 3) uint8 RGB pixels: the input of explainers compiled with the preprocessing folded in. */
  rgbImage: 'image',
  /**
   * int64 classes to explain: (N), one per image, or in explainers compiled for several
   * targets per image (N·K), K per image, image-major; K > 1 needs N = 1 (the relevance pass
   * then runs as a batch of K on the one image's forward pass). −1 means the predicted class,
   * −k the class with the k-th highest logit (−1…−5: the top 5).
   */
  target: 'target',
  logits: 'logits',
  probabilities: 'probabilities',
  /** (N·K) int64: the class whose relevance was propagated, per target. */
  explainedClass: 'explained_class',
  /** (N·K) float32: the relevance the target class started with. */
  startRelevance: 'start_relevance',
  /** (N·K, …) relevance per input value, in the model's layout and channel order (like `input`). */
  relevance: 'relevance',
  /** (N·K, H, W) float32: relevance summed over channels. */
  attribution: 'attribution',
  /** (N·K, T) float32: relevance sums after each traced layer or block. */
  trace: 'trace',
} as const;

/** Symbolic batch dimension. */
export const BATCH = 'N';
/** Symbolic dimension of the targets: N·K (K classes per image). */
export const TARGETS = 'NK';

export interface ClassifierGraph {
  readonly g: OnnxGraphBuilder;
  readonly forward: ForwardGraph;
  /** The NCHW image tensor inside the graph. */
  readonly image: string;
  readonly logits: string;
  readonly probabilities: string;
}

/** Options of the compiled graph's input. */
export interface ClassifierOptions {
  /**
   * Fold the model's preprocessing into the graph: the input becomes {@link IO.rgbImage},
   * uint8 RGB pixels (N, H, W, 3) already resized to the model's size.
   */
  includePreprocessing?: boolean;
}

/** Starts a model: input, forward pass, logits and probabilities declared as outputs. */
export function emitClassifier(name: string, graph: ModelGraph, weights: ModelWeights, precision: Precision = 'float32', options: ClassifierOptions = {}): ClassifierGraph {
  const g = new OnnxGraphBuilder(name, precision);
  // The model's own tensor names must never take the names the runtime reads.
  g.reserve(Object.values(IO));
  let nchw: string;
  if (options.includePreprocessing) {
    nchw = emitPreprocessing(g, graph);
  } else {
    g.input(IO.input, 'float32', [BATCH, ...inputDims(graph)]);
    nchw = graph.inputDescription.layout === 'NCHW' ? IO.input : g.op('Transpose', [IO.input], 'image_nchw', { perm: [0, 3, 1, 2] });
  }
  const image = g.castIn(nchw);
  const forward = emitForward(g, graph, weights, image);
  const classes = outputUnits(graph);
  const logits = forward.tensors.get(graph.output)!;
  const probabilities = g.op('Softmax', [logits], 'softmax', { axis: 1 });
  g.castOut(logits, IO.logits, [BATCH, classes]);
  g.castOut(probabilities, IO.probabilities, [BATCH, classes]);
  return { g, forward, image, logits, probabilities };
}

/**
 * uint8 RGB (N, H, W, 3) → the model's preprocessed float32 input as (N, C, H, W):
 * `(pixel · scale − mean) / std` per channel, channels reordered to the model's order.
 */
function emitPreprocessing(g: OnnxGraphBuilder, graph: ModelGraph): string {
  const desc = graph.inputDescription;
  const [, h, w] = inputShape(graph);
  g.input(IO.rgbImage, 'uint8', [BATCH, h, w, 3]);
  let x = g.op('Cast', [IO.rgbImage], 'image_float', { to: 1 /* FLOAT */ });
  if (desc.channelOrder === 'BGR') x = g.op('Slice', [x, g.ints([-1]), g.ints([-4]), g.ints([3]), g.ints([-1])], 'image_bgr');
  const perChannel = (name: string, values: number[]) => g.float32Tensor(name, Float32Array.from(values), [3]);
  x = g.op('Mul', [x, perChannel('preprocess/scale', desc.std.map((s) => desc.scale / s))], 'image_scaled');
  x = g.op('Sub', [x, perChannel('preprocess/shift', desc.mean.map((m, c) => m / desc.std[c]!))], 'image_normalised');
  return g.op('Transpose', [x], 'image_nchw', { perm: [0, 3, 1, 2] });
}

/** Compiles the plain forward pass (logits and probabilities only). */
export function compileForwardModel(graph: ModelGraph, weights: ModelWeights, precision: Precision = 'float32'): Uint8Array {
  return emitClassifier(`${graph.name}_forward`, graph, weights, precision).g.toBytes();
}

/** (C, H, W) of the model input. */
export const inputShape = graphInputShape;

/** Dimensions of one input image in the model's layout: (C, H, W) for NCHW, (H, W, C) for NHWC. */
export function inputDims(graph: ModelGraph): [number, number, number] {
  const [c, h, w] = inputShape(graph);
  return graph.inputDescription.layout === 'NCHW' ? [c, h, w] : [h, w, c];
}

/** Number of classes (units of the output layer). */
export const outputUnits = classCount;
