/**
 * Each layer kind that LRP rules apply to, as a linear map and its adjoint (transpose) in
 * ONNX ops. The rules only ever need `layer(x, W)` and `layerᵀ(s, W)`; this module decides
 * how each is computed fast: onnxruntime's Conv is much faster than its ConvTranspose, so
 * stride-1 adjoints are convolutions with flipped, transposed kernels, and only strided
 * convs use a transposed conv. Kernel transforms are ops on initializers, which onnxruntime
 * folds into constants when the session is created.
 */
import type { ConvLayer, DenseLayer, Layer, MaxPoolLayer, Shape } from '../model/graph.js';
import { conv, convTranspose, flipTranspose } from '../onnx/conv.js';
import type { OnnxGraphBuilder } from '../onnx/graph-builder.js';
import type { KernelTransform } from './rules.js';

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
}

/** Applies a rule's kernel transform (and the term's sign) to a kernel initializer. */
export function transformKernel(g: OnnxGraphBuilder, kernel: string, transform: KernelTransform, sign: 1 | -1): string {
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
  };
}

/** Global average pooling as a sum over positions; relevance (N, C) arrives flattened. */
export function globalSumOps(g: OnnxGraphBuilder, layer: Layer, inShape: Shape): LinearOps {
  return {
    apply(x, _kernel, bias) {
      const z = g.op('ReduceSum', [x, g.ints([2, 3])], `${layer.name}/z`, { keepdims: 0 });
      return bias ? g.op('Add', [z, bias], `${layer.name}/z_biased`) : z;
    },
    outChannels: inShape[0]!,
    // s is (N, C); as (N, C, 1, 1) it broadcasts over the positions it was summed from.
    adjoint: (s) => g.op('Unsqueeze', [s, g.ints([2, 3])], `${layer.name}/adjoint`),
  };
}
