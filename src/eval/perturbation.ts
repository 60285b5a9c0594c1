/**
 * The perturbed images of patch insertion / deletion, built inside onnxruntime: a small ONNX
 * graph turns one preprocessed image, its per-pixel patch ranks and K threshold ranks into K
 * insertion and K deletion images,
 *
 *     m_k       = float(ranks ≥ τ_k)                (K, 1, H, W) or (K, H, W, 1)
 *     insertion = image·m_k + black·(1 − m_k)       black = pixel 0 through the preprocessing
 *     deletion  = image·(1 − m_k) + black·m_k
 *     output    = Concat(insertion, deletion)       (2K, …image shape)
 *
 * so no JavaScript loop touches the 2·K·H·W·C values. With m ∈ {0, 1} the products are exact
 * (x·1 + b·0 = x), and onnxruntime's broadcasting Mul/Add ran twice as fast as `Where` here.
 * Browser-safe (the graph is bytes).
 */
import { blackValues, type InputDescription } from '../model/input.js';
import { OnnxGraphBuilder } from '../onnx/graph-builder.js';

/** Input and output names of the perturbation graph. */
export const PERTURBATION_IO = {
  /** (1, …image shape) float32: the preprocessed image, in the model's layout. */
  image: 'image',
  /** (1, 1, H, W) for NCHW or (1, H, W, 1) for NHWC, float32: every pixel's patch rank (or score). */
  scores: 'scores',
  /** (K) float32: one threshold per step. */
  thresholds: 'thresholds',
  /** (2K, …image shape) float32: K insertion images, then K deletion images. */
  images: 'perturbed',
} as const;

/** Shape of the per-pixel score tensor for the description's layout. */
export function scoreShape(desc: InputDescription): [number, number, number, number] {
  return desc.layout === 'NCHW' ? [1, 1, desc.size, desc.size] : [1, desc.size, desc.size, 1];
}

/** Compiles the perturbation graph for images of this input description. */
export function compilePerturbationModel(desc: InputDescription): Uint8Array {
  const g = new OnnxGraphBuilder('patch_insertion_deletion');
  const nchw = desc.layout === 'NCHW';
  const s = desc.size;
  const imageDims = nchw ? [1, 3, s, s] : [1, s, s, 3];
  g.input(PERTURBATION_IO.image, 'float32', imageDims);
  g.input(PERTURBATION_IO.scores, 'float32', scoreShape(desc));
  g.input(PERTURBATION_IO.thresholds, 'float32', ['K']);
  const black = g.floatTensor('black', Float32Array.from(blackValues(desc)), nchw ? [1, 3, 1, 1] : [1, 1, 1, 3]);
  const tau = g.op('Reshape', [PERTURBATION_IO.thresholds, g.ints([-1, 1, 1, 1])], 'tau');
  const keep = g.toFloat(g.op('GreaterOrEqual', [PERTURBATION_IO.scores, tau], 'mask'), 'keep');
  const drop = g.op('Sub', [g.scalar(1), keep], 'drop');
  const mix = (imageWeight: string, blackWeight: string, name: string): string =>
    g.op('Add', [g.op('Mul', [PERTURBATION_IO.image, imageWeight], `${name}_image`), g.op('Mul', [black, blackWeight], `${name}_black`)], name);
  const insertion = mix(keep, drop, 'insertion');
  const deletion = mix(drop, keep, 'deletion');
  const out = g.op('Concat', [insertion, deletion], PERTURBATION_IO.images, { axis: 0 });
  g.output(out, 'float32', nchw ? ['M', 3, s, s] : ['M', s, s, 3]);
  return g.toBytes();
}
