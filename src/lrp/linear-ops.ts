/**
 * Each layer kind that linear rules apply to, as a linear map and its adjoint (transpose) in
 * ONNX ops, plus the max pool's gradient (its adjoint as a selection). The rules only ever
 * need `layer(x, W)` and `layerᵀ(s, W)`; this module decides how each is computed fast: onnxruntime's Conv is much faster than its ConvTranspose, so
 * stride-1 adjoints are convolutions with flipped, transposed kernels, and only strided
 * convs use a transposed conv. Kernel transforms are ops on initializers, which onnxruntime
 * folds into constants when the session is created.
 */
import type { ConvLayer, DenseLayer, Layer, MaxPoolLayer, Shape } from '../model/graph.js';
import { conv, convTranspose, flipTranspose, onnxPads } from '../onnx/conv.js';
import type { OnnxGraphBuilder } from '../onnx/graph-builder.js';
import type { ParamModifier } from './rules.js';

export interface LinearOps {
  /** `layer(x, W)`, plus `bias` (one value per output channel) when given. */
  apply(x: string, kernel: string, bias?: string): string;
  /** Output channels (units) of the layer: the length of a bias for {@link apply}. */
  readonly outChannels: number;
  /**
   * `layerᵀ(s, W_k)` for several kernels at once, stacked along the channel axis of the
   * result: (N, K·C_in, …). One op for all terms of a rule instead of one per term.
   */
  adjoint(s: string, kernels: readonly string[]): string;
  /**
   * Pools only: the number n of positions a window averages. Their weights are fixed ones
   * (non-negative, parameter modifiers do not apply); a rule that wants the mean's weights
   * 1/n gets them from this (see the compiler).
   */
  readonly windowSize?: number;
  /** The adjoint at the input's full shape, where {@link adjoint} relies on broadcasting. */
  full?(c: string): string;
}

/** Applies a rule's parameter modifier (and the term's sign) to a kernel initializer. */
export function transformKernel(g: OnnxGraphBuilder, kernel: string, transform: ParamModifier, sign: 1 | -1): string {
  let k: string;
  switch (transform.kind) {
    case 'identity':
      k = kernel;
      break;
    case 'positive':
      k = g.op('Relu', [kernel], `${kernel}+`);
      break;
    case 'negative':
      k = g.op('Min', [kernel, g.scalar(0)], `${kernel}-`);
      break;
    case 'gamma':
      k = g.op('Add', [kernel, g.op('Mul', [g.op('Relu', [kernel], `${kernel}+`), g.scalar(transform.gamma)], `${kernel}+γ`)], `${kernel}:gamma`);
      break;
    case 'ones':
      k = g.op('Expand', [g.scalar(1), g.op('Shape', [kernel], `${kernel}:shape`)], `${kernel}:ones`);
      break;
    case 'square':
      k = g.op('Mul', [kernel, kernel], `${kernel}²`);
      break;
  }
  return sign === 1 ? k : g.op('Neg', [k], `-${k}`);
}

/** Linear ops of a conv layer whose input has shape `inShape` (C, H, W). */
export function convOps(g: OnnxGraphBuilder, layer: ConvLayer, inShape: Shape): LinearOps {
  const [kh, kw] = layer.kernel;
  const [pt, pb, pl, pr] = layer.pads;
  const stride1 = layer.strides[0] === 1 && layer.strides[1] === 1;
  return {
    apply: (x, kernel, bias) => conv(g, x, kernel, layer, inShape, `${layer.name}/z`, bias),
    outChannels: layer.filters,
    adjoint(s, kernels) {
      if (stride1) {
        // The adjoint of a stride-1 conv is a conv with the kernel's in/out swapped and
        // flipped spatially, padded so the output regains the input size.
        const flipped = kernels.map((k) => flipTranspose(g, k, kh, kw));
        const kernel = flipped.length === 1 ? flipped[0]! : g.op('Concat', flipped, `${layer.name}/adjoint_kernel`, { axis: 0 });
        const geometry = { kernel: layer.kernel, strides: layer.strides, pads: [kh - 1 - pt, kh - 1 - pb, kw - 1 - pl, kw - 1 - pr] } as const;
        return conv(g, s, kernel, geometry, layer.outputShape, `${layer.name}/adjoint`);
      }
      const kernel = kernels.length === 1 ? kernels[0]! : g.op('Concat', kernels, `${layer.name}/adjoint_kernel`, { axis: 1 });
      return convTranspose(g, s, kernel, layer, inShape, layer.outputShape, `${layer.name}/adjoint`);
    },
  };
}

/** Linear ops of a dense layer; kernels are (in, out). */
export function denseOps(g: OnnxGraphBuilder, layer: DenseLayer): LinearOps {
  return {
    apply: (x, kernel, bias) => (bias ? g.op('Gemm', [x, kernel, bias], `${layer.name}/z`) : g.op('MatMul', [x, kernel], `${layer.name}/z`)),
    outChannels: layer.units,
    adjoint(s, kernels) {
      const transposed = kernels.map((k) => g.op('Transpose', [k], `${k}:T`, { perm: [1, 0] }));
      const kernel = transposed.length === 1 ? transposed[0]! : g.op('Concat', transposed, `${layer.name}/adjoint_kernel`, { axis: 1 });
      return g.op('MatMul', [s, kernel], `${layer.name}/adjoint`);
    },
  };
}

/**
 * Max pooling treated as average pooling over the same windows (lrp-spec): a depthwise
 * conv with a kernel of ones. The kernel argument is ignored: the weights are fixed.
 */
export function windowSumOps(g: OnnxGraphBuilder, layer: MaxPoolLayer, inShape: Shape): LinearOps {
  const [kh, kw] = layer.pool;
  const channels = inShape[0]!;
  const ones = g.floatTensor(`${layer.name}/ones`, new Float32Array(channels * kh * kw).fill(1), [channels, 1, kh, kw]);
  const geometry = { kernel: layer.pool, strides: layer.strides, pads: layer.pads, groups: channels } as const;
  return {
    apply: (x, _kernel, bias) => conv(g, x, ones, geometry, inShape, `${layer.name}/z`, bias),
    outChannels: channels,
    adjoint: (s) => convTranspose(g, s, ones, geometry, inShape, layer.outputShape, `${layer.name}/adjoint`),
    windowSize: kh * kw,
  };
}

/**
 * A max pool replaced by a 2×2/2 window sum over its unpadded input, as the official code
 * does (`AvgPool2d(2)`): the windows start at `origin` (the padding a zero-padding layer put
 * before the pool); rows and columns no window reaches get no relevance.
 */
export function twoByTwoSumOps(g: OnnxGraphBuilder, layer: MaxPoolLayer, inShape: Shape, origin: readonly [number, number]): LinearOps {
  const [channels, h, w] = inShape as [number, number, number];
  const [, oh, ow] = layer.outputShape as [number, number, number];
  const [top, left] = origin;
  const cropped = [channels, 2 * oh, 2 * ow];
  const crop = top !== 0 || left !== 0 || 2 * oh !== h || 2 * ow !== w;
  const ones = g.floatTensor(`${layer.name}/ones2x2`, new Float32Array(channels * 4).fill(1), [channels, 1, 2, 2]);
  const geometry = { kernel: [2, 2], strides: [2, 2], pads: [0, 0, 0, 0], groups: channels } as const;
  return {
    apply(x, _kernel, bias) {
      const region = crop ? g.op('Slice', [x, g.ints([top, left]), g.ints([top + 2 * oh, left + 2 * ow]), g.ints([2, 3])], `${layer.name}/windows`) : x;
      return conv(g, region, ones, geometry, cropped, `${layer.name}/z`, bias);
    },
    outChannels: channels,
    adjoint(s) {
      const c = convTranspose(g, s, ones, geometry, cropped, layer.outputShape, `${layer.name}/adjoint`);
      return crop ? g.op('Pad', [c, g.ints([0, 0, top, left, 0, 0, h - top - 2 * oh, w - left - 2 * ow])], `${layer.name}/adjoint_full`) : c;
    },
    windowSize: 4,
  };
}

/** Global average pooling as a sum over positions; relevance (N, C) arrives flattened. */
export function globalSumOps(g: OnnxGraphBuilder, layer: Layer, inShape: Shape): LinearOps {
  const [c, h, w] = inShape as [number, number, number];
  return {
    apply(x, _kernel, bias) {
      const z = g.op('ReduceSum', [x, g.ints([2, 3])], `${layer.name}/z`, { keepdims: 0 });
      return bias ? g.op('Add', [z, bias], `${layer.name}/z_biased`) : z;
    },
    outChannels: c,
    // s is (N, C); as (N, C, 1, 1) it broadcasts over the positions it was summed from.
    adjoint: (s) => g.op('Unsqueeze', [s, g.ints([2, 3])], `${layer.name}/adjoint`),
    windowSize: h * w,
    full: (s) => g.op('Expand', [s, g.ints([1, c, h, w])], `${layer.name}/adjoint_full`),
  };
}

/**
 * The max pool's gradient: each window's relevance goes to its maximum, summed where windows
 * overlap. Ties go to the first maximum in row-major window order, which is the index
 * onnxruntime's MaxPool reports (and PyTorch's); padding (−∞) is never chosen.
 */
export function argmaxRouting(g: OnnxGraphBuilder, layer: MaxPoolLayer, x: string, inShape: Shape, r: string): string {
  const [c, h, w] = inShape as [number, number, number];
  const [, indices] = g.opMulti('MaxPool', [x], [`${layer.name}/max`, `${layer.name}/argmax`], {
    kernel_shape: layer.pool, strides: layer.strides, pads: onnxPads(layer.pads),
  });
  // The indices count over the whole (N, C, H, W) input; each row of the relevance (N·K of
  // them: K targets of one image, or one target per image) scatters into its own C·H·W.
  const size = c * h * w;
  const local = g.op('Mod', [g.op('Reshape', [indices, g.ints([0, -1])], `${layer.name}/argmax_rows`), g.ints([size])], `${layer.name}/argmax_local`);
  const rows = g.op('Reshape', [r, g.ints([0, -1])], `${layer.name}/R_rows`);
  const rowIndices = g.op('Expand', [local, g.op('Shape', [rows], `${layer.name}/R_rows_shape`)], `${layer.name}/argmax_per_row`);
  const zerosShape = g.op('Concat', [g.op('Shape', [rows], `${layer.name}/targets`, { start: 0, end: 1 }), g.ints([size])], `${layer.name}/zeros_shape`, { axis: 0 });
  const zeros = g.castIn(g.op('ConstantOfShape', [zerosShape], `${layer.name}/zeros`));
  const routed = g.op('ScatterElements', [zeros, rowIndices, rows], `${layer.name}/routed`, { axis: 1, reduction: 'add' });
  return g.op('Reshape', [routed, g.ints([-1, c, h, w])], `R:${layer.name}:in`);
}
