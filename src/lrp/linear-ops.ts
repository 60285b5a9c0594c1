/**
 * Each layer kind that linear rules apply to, as a linear map and its adjoint (transpose) in
 * ONNX ops, plus the max pool's gradient (its adjoint as a selection). The rules only ever
 * need `layer(x, W)` and `layerᵀ(s, W)`; this module decides how each is computed fast: onnxruntime's Conv is much faster than its ConvTranspose, so
 * stride-1 adjoints are convolutions with flipped, transposed kernels, and only strided
 * convs use a transposed conv. Kernel transforms are ops on initializers, which onnxruntime
 * folds into constants when the session is created.
 */
import { intsAttr, type GraphNode, type Shape } from '../graph/graph.js';
import { conv, convTranspose, flipTranspose, type ConvGeometry } from '../onnx/conv.js';
import { averagePoolCounts, endPadsForOutput, windowGeometry } from '../onnx/forward.js';
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
  /**
   * Average pools whose windows average different numbers of positions (padding left out, a
   * ceil_mode window cut short): the count per output position, (H', W'), for mean weights.
   */
  readonly counts?: string;
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
    case 'gamma-negative':
      k = g.op('Add', [kernel, g.op('Mul', [g.op('Min', [kernel, g.scalar(0)], `${kernel}-`), g.scalar(transform.gamma)], `${kernel}-γ`)], `${kernel}:gamma-`);
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

/** Linear ops of a Conv node whose input has shape `inShape` (C, H, W) and output `outShape`. */
export function convOps(g: OnnxGraphBuilder, node: GraphNode, inShape: Shape, outShape: Shape): LinearOps {
  const geo = windowGeometry(node);
  const [kh, kw] = geo.kernel as [number, number];
  const [dh, dw] = geo.dilations as [number, number];
  const [pt, pl, pb, pr] = geo.pads as [number, number, number, number];
  const groups = geo.groups ?? 1;
  const [spanH, spanW] = [(kh - 1) * dh + 1, (kw - 1) * dw + 1];
  // The adjoint of a stride-1 conv is a conv with the kernel's in/out swapped and flipped
  // spatially, padded so the output regains the input size (onnxruntime's Conv is much faster
  // than its ConvTranspose).
  const flippedConv = geo.strides.every((s) => s === 1) && [pt, pb].every((p) => p <= spanH - 1) && [pl, pr].every((p) => p <= spanW - 1);
  const single = (s: string, kernel: string, k: number): string => {
    const name = `${node.name}/adjoint${k === 0 ? '' : k}`;
    if (!flippedConv) return convTranspose(g, s, kernel, geo, inShape, outShape, name);
    const flipped = flipTranspose(g, kernel, kh, kw, groups, inShape[0]!, outShape[0]!);
    const adjoint: ConvGeometry = { ...geo, pads: [spanH - 1 - pt, spanW - 1 - pl, spanH - 1 - pb, spanW - 1 - pr] };
    return conv(g, s, flipped, adjoint, outShape, name);
  };
  return {
    apply: (x, kernel, bias) => conv(g, x, kernel, geo, inShape, `${node.name}/z`, bias),
    outChannels: outShape[0]!,
    adjoint(s, kernels) {
      if (kernels.length === 1) return single(s, kernels[0]!, 0);
      if (groups > 1) {
        // Stacked kernels would mix the groups: one adjoint per term.
        return g.op('Concat', kernels.map((k, i) => single(s, k, i)), `${node.name}/adjoint`, { axis: 1 });
      }
      if (flippedConv) {
        const flipped = kernels.map((k) => flipTranspose(g, k, kh, kw));
        const kernel = g.op('Concat', flipped, `${node.name}/adjoint_kernel`, { axis: 0 });
        return conv(g, s, kernel, { ...geo, pads: [spanH - 1 - pt, spanW - 1 - pl, spanH - 1 - pb, spanW - 1 - pr] }, outShape, `${node.name}/adjoint`);
      }
      const kernel = g.op('Concat', kernels, `${node.name}/adjoint_kernel`, { axis: 1 });
      return convTranspose(g, s, kernel, geo, [kernels.length * inShape[0]!, ...inShape.slice(1)], outShape, `${node.name}/adjoint`);
    },
  };
}

/** Linear ops of a dense (Gemm) node; kernels are (in, out). */
export function denseOps(g: OnnxGraphBuilder, node: GraphNode, units: number): LinearOps {
  return {
    apply: (x, kernel, bias) => (bias ? g.op('Gemm', [x, kernel, bias], `${node.name}/z`) : g.op('MatMul', [x, kernel], `${node.name}/z`)),
    outChannels: units,
    adjoint(s, kernels) {
      const transposed = kernels.map((k) => g.op('Transpose', [k], `${k}:T`, { perm: [1, 0] }));
      const kernel = transposed.length === 1 ? transposed[0]! : g.op('Concat', transposed, `${node.name}/adjoint_kernel`, { axis: 1 });
      return g.op('MatMul', [s, kernel], `${node.name}/adjoint`);
    },
  };
}

/**
 * A pool (MaxPool or AveragePool) as window sums over the same windows (see the spec): a
 * depthwise conv with a kernel of ones. The kernel argument is ignored: the weights are fixed.
 * A ceil_mode window that runs past the padded input sums zeros there, and the adjoint drops
 * the positions outside the input.
 */
export function windowSumOps(g: OnnxGraphBuilder, node: GraphNode, inShape: Shape, outShape: Shape): LinearOps {
  const geo = windowGeometry(node);
  const [kh, kw] = geo.kernel as [number, number];
  const [pt, pl] = geo.pads as [number, number, number, number];
  const [channels] = inShape as [number, number, number];
  const [, oh, ow] = outShape as [number, number, number];
  const ones = g.floatTensor(`${node.name}/ones`, new Float32Array(channels * kh * kw).fill(1), [channels, 1, kh, kw]);
  const windows: ConvGeometry = { ...geo, groups: channels };
  const [endH, endW] = endPadsForOutput(geo, inShape, outShape);
  const counts = node.op === 'AveragePool' ? averagePoolCounts(node, inShape, outShape) : undefined;
  const uneven = counts?.some((c) => c !== kh * kw);
  return {
    apply: (x, _kernel, bias) => conv(g, x, ones, { ...windows, pads: [pt, pl, endH, endW] }, inShape, `${node.name}/z`, bias),
    outChannels: channels,
    adjoint: (s) => convTranspose(g, s, ones, windows, inShape, outShape, `${node.name}/adjoint`),
    windowSize: kh * kw,
    ...(uneven ? { counts: g.floatTensor(`${node.name}/counts`, counts!, [oh, ow]) } : {}),
  };
}

/**
 * A max pool replaced by a 2×2/2 window sum over its unpadded input, as the official code
 * does (`AvgPool2d(2)`): the windows start at `origin` (the padding a zero-padding node put
 * before the pool); rows and columns no window reaches get no relevance.
 */
export function twoByTwoSumOps(g: OnnxGraphBuilder, node: GraphNode, inShape: Shape, outShape: Shape, origin: readonly [number, number]): LinearOps {
  const [channels, h, w] = inShape as [number, number, number];
  const [, oh, ow] = outShape as [number, number, number];
  const [top, left] = origin;
  const cropped = [channels, 2 * oh, 2 * ow];
  const crop = top !== 0 || left !== 0 || 2 * oh !== h || 2 * ow !== w;
  const ones = g.floatTensor(`${node.name}/ones2x2`, new Float32Array(channels * 4).fill(1), [channels, 1, 2, 2]);
  const geometry = { kernel: [2, 2], strides: [2, 2], pads: [0, 0, 0, 0], groups: channels } as const;
  return {
    apply(x, _kernel, bias) {
      const region = crop ? g.op('Slice', [x, g.ints([top, left]), g.ints([top + 2 * oh, left + 2 * ow]), g.ints([2, 3])], `${node.name}/windows`) : x;
      return conv(g, region, ones, geometry, cropped, `${node.name}/z`, bias);
    },
    outChannels: channels,
    adjoint(s) {
      const c = convTranspose(g, s, ones, geometry, cropped, outShape, `${node.name}/adjoint`);
      return crop ? g.op('Pad', [c, g.ints([0, 0, top, left, 0, 0, h - top - 2 * oh, w - left - 2 * ow])], `${node.name}/adjoint_full`) : c;
    },
    windowSize: 4,
  };
}

/** A global pool as a sum over positions; relevance arrives as (N, C) or (N, C, 1, 1) (`keepdims`). */
export function globalSumOps(g: OnnxGraphBuilder, node: GraphNode, inShape: Shape, keepdims: boolean): LinearOps {
  const [c, h, w] = inShape as [number, number, number];
  return {
    apply(x, _kernel, bias) {
      const z = g.op('ReduceSum', [x, g.ints([2, 3])], `${node.name}/z`, { keepdims: keepdims ? 1 : 0 });
      if (!bias) return z;
      return g.op('Add', [z, keepdims ? g.op('Unsqueeze', [bias, g.ints([1, 2])], `${bias}:c11`) : bias], `${node.name}/z_biased`);
    },
    outChannels: c,
    // s as (N, C, 1, 1) broadcasts over the positions it was summed from.
    adjoint: (s) => (keepdims ? s : g.op('Unsqueeze', [s, g.ints([2, 3])], `${node.name}/adjoint`)),
    windowSize: h * w,
    full: (s) => g.op('Expand', [s, g.ints([1, c, h, w])], `${node.name}/adjoint_full`),
  };
}

/**
 * The max pool's gradient: each window's relevance goes to its maximum, summed where windows
 * overlap. Ties go to the first maximum in row-major window order, which is the index
 * onnxruntime's MaxPool reports (and PyTorch's); padding (−∞) is never chosen.
 */
export function argmaxRouting(g: OnnxGraphBuilder, node: GraphNode, x: string, inShape: Shape, r: string): string {
  const [c, h, w] = inShape as [number, number, number];
  const global = node.op === 'GlobalMaxPool';
  const [, indices] = g.opMulti('MaxPool', [x], [`${node.name}/max`, `${node.name}/argmax`], global
    ? { kernel_shape: [h, w] }
    : {
      kernel_shape: intsAttr(node, 'kernel_shape'), strides: intsAttr(node, 'strides'), pads: intsAttr(node, 'pads'),
      dilations: intsAttr(node, 'dilations', [1, 1]), ceil_mode: node.attributes.ceil_mode === 1 ? 1 : 0,
    });
  // The indices count over the whole (N, C, H, W) input; each row of the relevance (N·K of
  // them: K targets of one image, or one target per image) scatters into its own C·H·W.
  const size = c * h * w;
  const local = g.op('Mod', [g.op('Reshape', [indices, g.ints([0, -1])], `${node.name}/argmax_rows`), g.ints([size])], `${node.name}/argmax_local`);
  const rows = g.op('Reshape', [r, g.ints([0, -1])], `${node.name}/R_rows`);
  const rowIndices = g.op('Expand', [local, g.op('Shape', [rows], `${node.name}/R_rows_shape`)], `${node.name}/argmax_per_row`);
  const zerosShape = g.op('Concat', [g.op('Shape', [rows], `${node.name}/targets`, { start: 0, end: 1 }), g.ints([size])], `${node.name}/zeros_shape`, { axis: 0 });
  const zeros = g.castIn(g.op('ConstantOfShape', [zerosShape], `${node.name}/zeros`));
  const routed = g.op('ScatterElements', [zeros, rowIndices, rows], `${node.name}/routed`, { axis: 1, reduction: 'add' });
  return g.op('Reshape', [routed, g.ints([-1, c, h, w])], `R:${node.name}:in`);
}
