/**
 * Emits the forward pass of a {@link ModelGraph} as ONNX ops (NCHW inside the graph).
 * Each layer kind maps to one standard op; onnxruntime's optimizer fuses Conv+BN+ReLU, so we
 * keep the graph literal instead of folding by hand, and the LRP pass can use the raw kernels.
 */
import { layerByName, type ConvLayer, type Layer, type ModelGraph, type ParamTensor } from '../model/graph.js';
import type { ModelWeights } from '../weights/types.js';
import { conv, onnxPads } from './conv.js';
import type { OnnxGraphBuilder } from './graph-builder.js';

/** What the forward emission produced, for the relevance pass to build on. */
export interface ForwardGraph {
  /** ONNX tensor holding each layer's output (NCHW feature maps, (N, units) vectors). */
  readonly outputs: ReadonlyMap<string, string>;
  /** Kernel initializers in ONNX layout: conv (out, in, kh, kw), dense (in, out). */
  readonly kernels: ReadonlyMap<string, string>;
  /** Bias initializers of convs with a bias and of dense layers. */
  readonly biases: ReadonlyMap<string, string>;
}

/** Keras conv kernel (kh, kw, in, out) → ONNX (out, in, kh, kw). */
export function convKernelToOnnx(kernel: ParamTensor): Float32Array {
  const [kh, kw, cin, cout] = kernel.shape as [number, number, number, number];
  const src = kernel.data;
  const dst = new Float32Array(src.length);
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      for (let i = 0; i < cin; i++) {
        const from = ((y * kw + x) * cin + i) * cout;
        for (let o = 0; o < cout; o++) dst[((o * cin + i) * kh + y) * kw + x] = src[from + o]!;
      }
    }
  }
  return dst;
}

/**
 * Emits the forward ops for `graph`, reading the NCHW input tensor `input`.
 * Returns the tensor of every layer's output plus the kernel/bias initializers.
 */
export function emitForward(g: OnnxGraphBuilder, graph: ModelGraph, weights: ModelWeights, input: string): ForwardGraph {
  const outputs = new Map<string, string>();
  const kernels = new Map<string, string>();
  const biases = new Map<string, string>();
  const shapeOf = (name: string) => layerByName(graph, name).outputShape;
  const param = (layer: Layer, name: string): ParamTensor => {
    const p = weights.get(layer.name)?.[name];
    if (!p) throw new Error(`no weights for layer ${layer.name} (${name})`);
    return p;
  };

  for (const layer of graph.layers) {
    const x = layer.inputs.map((i) => outputs.get(i)!);
    const out = layer.name;
    let y: string;
    switch (layer.kind) {
      case 'input':
        y = input;
        break;
      case 'zeroPad':
        y = g.op('Pad', [x[0]!, g.ints([0, 0, layer.pads[0], layer.pads[2], 0, 0, layer.pads[1], layer.pads[3]])], out, { mode: 'constant' });
        break;
      case 'conv': {
        const kernel = param(layer, 'kernel');
        const w = g.floatTensor(`${layer.name}/kernel`, convKernelToOnnx(kernel), convKernelShape(layer, kernel));
        kernels.set(layer.name, w);
        let b: string | undefined;
        if (layer.useBias) {
          b = g.floatTensor(`${layer.name}/bias`, param(layer, 'bias').data, [layer.filters]);
          biases.set(layer.name, b);
        }
        y = conv(g, x[0]!, w, layer, shapeOf(layer.inputs[0]!), out, b);
        break;
      }
      case 'batchNorm': {
        const [scale, shift, mean, variance] = ['gamma', 'beta', 'movingMean', 'movingVariance'].map((p) => {
          const t = param(layer, p);
          return g.floatTensor(`${layer.name}/${p}`, t.data, t.shape);
        });
        y = g.op('BatchNormalization', [x[0]!, scale!, shift!, mean!, variance!], out, { epsilon: { float: layer.epsilon } });
        break;
      }
      case 'relu':
        y = g.op('Relu', [x[0]!], out);
        break;
      case 'maxPool':
        y = g.op('MaxPool', [x[0]!], out, { kernel_shape: layer.pool, strides: layer.strides, pads: onnxPads(layer.pads) });
        break;
      case 'add':
        y = x.length === 2 ? g.op('Add', x, out) : g.op('Sum', x, out);
        break;
      case 'globalAvgPool':
        // ReduceMean rather than GlobalAveragePool: the latter has no float64 kernel.
        y = g.op('ReduceMean', [x[0]!], out, { axes: [2, 3], keepdims: 0 });
        break;
      case 'dense': {
        const kernel = param(layer, 'kernel');
        const w = g.floatTensor(`${layer.name}/kernel`, kernel.data, kernel.shape);
        const b = g.floatTensor(`${layer.name}/bias`, param(layer, 'bias').data, [layer.units]);
        kernels.set(layer.name, w);
        biases.set(layer.name, b);
        // The layer's output is the logits; its activation is applied by the caller.
        y = g.op('Gemm', [x[0]!, w, b], out);
        break;
      }
    }
    outputs.set(layer.name, y);
  }
  return { outputs, kernels, biases };
}

function convKernelShape(layer: ConvLayer, kernel: ParamTensor): number[] {
  return [layer.filters, kernel.shape[2]!, layer.kernel[0], layer.kernel[1]];
}
