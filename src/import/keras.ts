/**
 * A Keras-style layer list with its weights → the model graph: one ONNX node per layer (same
 * names), parameters in ONNX layouts. The residual blocks' groups become the trace: the relevance
 * at the inputs of each block (and of each conv, dense and pool layer outside one), as the
 * Keras reference fixtures list it.
 *
 * Browser-safe.
 */
import type { GraphNode, ModelGraph, ModelWeights, ParamTensor, Shape, TracePoint } from '../graph/graph.js';
import type { Layer, LayerGraph } from '../model/layers.js';
import type { LayerWeights } from '../weights/types.js';

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

/** Layer kinds traced on their own when outside a group (a residual block). */
const TRACED_KINDS: ReadonlySet<Layer['kind']> = new Set(['conv', 'dense', 'maxPool', 'globalAvgPool']);

/** The trace unit a layer belongs to: its group, or itself for traced kinds. */
function traceUnit(layer: Layer): string | undefined {
  return layer.group ?? (TRACED_KINDS.has(layer.kind) ? layer.name : undefined);
}

/**
 * The model graph of a layer list and its weights.
 *
 * @throws Error naming the layer and parameter when a weight is missing.
 */
export function layersToGraph(layers: LayerGraph, layerWeights: LayerWeights): { graph: ModelGraph; weights: ModelWeights } {
  const nodes: GraphNode[] = [];
  const weights = new Map<string, ParamTensor>();
  const shapes = new Map<string, Shape>();
  const param = (layer: Layer, name: string): ParamTensor => {
    const p = layerWeights.get(layer.name)?.[name];
    if (!p) throw new Error(`no weights for layer ${layer.name} (${name})`);
    return p;
  };
  const add = (name: string, data: Float32Array, shape: readonly number[]) => {
    weights.set(name, { data, shape });
    return name;
  };
  for (const layer of layers.layers) {
    shapes.set(layer.name, layer.outputShape);
    const base = { name: layer.name, outputs: [layer.name], ...(layer.group ? { group: layer.group } : {}) };
    const x = layer.inputs;
    switch (layer.kind) {
      case 'input':
        continue;
      case 'zeroPad': {
        const [top, bottom, left, right] = layer.pads;
        nodes.push({ ...base, op: 'Pad', inputs: x, attributes: { pads: [0, 0, top, left, 0, 0, bottom, right] } });
        break;
      }
      case 'conv': {
        const kernel = param(layer, 'kernel');
        const inputs = [x[0]!, add(`${layer.name}/kernel`, convKernelToOnnx(kernel), [layer.filters, kernel.shape[2]!, layer.kernel[0], layer.kernel[1]])];
        if (layer.useBias) inputs.push(add(`${layer.name}/bias`, param(layer, 'bias').data, [layer.filters]));
        const [top, bottom, left, right] = layer.pads;
        nodes.push({
          ...base, op: 'Conv', inputs,
          attributes: { kernel_shape: layer.kernel, strides: layer.strides, pads: [top, left, bottom, right], dilations: [1, 1], group: 1 },
        });
        break;
      }
      case 'batchNorm': {
        const inputs = ['gamma', 'beta', 'movingMean', 'movingVariance'].map((p) => {
          const t = param(layer, p);
          return add(`${layer.name}/${p}`, t.data, t.shape);
        });
        nodes.push({ ...base, op: 'BatchNormalization', inputs: [x[0]!, ...inputs], attributes: { epsilon: { float: layer.epsilon } } });
        break;
      }
      case 'relu':
        nodes.push({ ...base, op: 'Relu', inputs: x, attributes: {} });
        break;
      case 'maxPool': {
        const [top, bottom, left, right] = layer.pads;
        nodes.push({
          ...base, op: 'MaxPool', inputs: x,
          attributes: { kernel_shape: layer.pool, strides: layer.strides, pads: [top, left, bottom, right], dilations: [1, 1], ceil_mode: 0 },
        });
        break;
      }
      case 'add':
        nodes.push({ ...base, op: x.length === 2 ? 'Add' : 'Sum', inputs: x, attributes: {} });
        break;
      case 'globalAvgPool':
        nodes.push({ ...base, op: 'GlobalAveragePool', inputs: x, attributes: { keepdims: 0 } });
        break;
      case 'dense': {
        const kernel = param(layer, 'kernel');
        const inputs = [x[0]!, add(`${layer.name}/kernel`, kernel.data, kernel.shape), add(`${layer.name}/bias`, param(layer, 'bias').data, [layer.units])];
        nodes.push({ ...base, op: 'Gemm', inputs, attributes: {} });
        break;
      }
    }
  }
  // One trace point per unit, at the inputs of its first layer, from the output down.
  const trace: TracePoint[] = [];
  const all = layers.layers;
  for (let i = all.length - 1; i >= 0; i--) {
    const unit = traceUnit(all[i]!);
    if (unit !== undefined && (i === 0 || traceUnit(all[i - 1]!) !== unit)) trace.push({ name: unit, tensors: all[i]!.inputs });
  }
  const graph: ModelGraph = { name: layers.name, nodes, input: layers.input, output: layers.output, shapes, inputDescription: layers.inputDescription, trace };
  return { graph, weights };
}
