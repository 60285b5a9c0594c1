/**
 * Writes ONNX files the way `torch.onnx.export` writes torchvision ResNets — implicit conv and
 * max-pool padding, BN folded into biased convs or kept as BatchNormalization nodes, a
 * Flatten + Gemm (transB) or Reshape + MatMul + Add head, GlobalAveragePool or ReduceMean,
 * scoped node names — from a torchvision-layout model graph and its weights. The model is
 * returned as editable node and initializer lists, so tests can also build graphs the importer
 * must refuse. Used by the tests and the benchmark (no Python, no torch here).
 */
import onnxProto from 'onnx-proto';
import type { ConvLayer, Layer, LayerGraph, ParamTensor } from '../../src/model/layers.js';
import { convKernelToOnnx } from '../../src/import/keras.js';
import type { LayerWeights } from '../../src/weights/types.js';

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;

export interface TorchOnnxOptions {
  /** Fold every BatchNorm into the conv before it (an eval-mode export's default). Default true. */
  foldBn?: boolean;
  /** `gemm`: Flatten + Gemm(transB=1); `matmul`: Reshape + MatMul + Add. Default `gemm`. */
  head?: 'gemm' | 'matmul';
  /** `gap`: GlobalAveragePool; `reducemean`: ReduceMean over (2, 3) with keepdims. Default `gap`. */
  pool?: 'gap' | 'reducemean';
  /** Default 13. */
  opset?: number;
  inputName?: string;
  outputName?: string;
  /** A fixed batch size, or `dynamic` (default). */
  batch?: number | 'dynamic';
}

export interface AttributeSpec {
  [name: string]: number | number[] | string | { float: number } | onnxProto.onnx.ITensorProto;
}

/** A node under construction. */
export interface NodeSpec {
  name: string;
  op: string;
  inputs: string[];
  outputs: string[];
  attributes?: AttributeSpec;
}

/** An editable ONNX model. */
export interface TorchModel {
  nodes: NodeSpec[];
  initializers: onnxProto.onnx.ITensorProto[];
  input: { name: string; dims: (number | string)[] };
  output: { name: string; dims: (number | string)[] };
  /** More declared graph outputs (torch writes one). */
  extraOutputs?: { name: string; dims: (number | string)[] }[];
  /** Element type of the input (default FLOAT). */
  inputType?: number;
  opset: number;
}

/** A float32 initializer. */
export function floatInit(name: string, data: Float32Array, dims: readonly number[]): onnxProto.onnx.ITensorProto {
  return { name, dataType: FLOAT, dims: [...dims], rawData: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)) };
}

/** An int64 initializer. */
export function intInit(name: string, values: readonly number[]): onnxProto.onnx.ITensorProto {
  const data = BigInt64Array.from(values, (v) => BigInt(v));
  return { name, dataType: INT64, dims: [values.length], rawData: new Uint8Array(data.buffer) };
}

/** The torch export of a torchvision-layout graph (built by `buildResNet` with zero-pad layers before conv1 and the max pool). */
export function torchvisionModel(graph: LayerGraph, weights: LayerWeights, options: TorchOnnxOptions = {}): TorchModel {
  const foldBn = options.foldBn ?? true;
  const nodes: NodeSpec[] = [];
  const initializers: onnxProto.onnx.ITensorProto[] = [];
  const inputName = options.inputName ?? 'input';
  const outputName = options.outputName ?? 'logits';
  const tensor = new Map<string, string>([[graph.input, inputName]]);
  const pending = new Map<string, readonly [number, number, number, number]>();
  const byName = new Map(graph.layers.map((l) => [l.name, l]));
  const readers = new Map<string, Layer[]>();
  for (const l of graph.layers) for (const i of l.inputs) readers.set(i, [...(readers.get(i) ?? []), l]);
  const param = (layer: string, name: string): ParamTensor => weights.get(layer)![name]!;
  const out = (layer: Layer, op: string) => `/${layer.group ?? layer.name}/${layer.name}/${op}_output_0`;

  for (const layer of graph.layers) {
    const x = layer.inputs.map((i) => tensor.get(i)!);
    switch (layer.kind) {
      case 'input':
        break;
      case 'zeroPad':
        // torch has no pad layer: the consumer pads implicitly.
        pending.set(layer.name, layer.pads);
        tensor.set(layer.name, tensor.get(layer.inputs[0]!)!);
        break;
      case 'conv': {
        const pads = addPads(layer.pads, pending.get(layer.inputs[0]!));
        const bn = foldBn ? readers.get(layer.name)?.find((r) => r.kind === 'batchNorm') : undefined;
        const kernel = convKernelToOnnx(param(layer.name, 'kernel'));
        const bias = layer.useBias ? Float32Array.from(param(layer.name, 'bias').data) : new Float32Array(layer.filters);
        if (bn) foldInto(kernel, bias, bn, weights, layer);
        const w = `${layer.name}.weight`;
        initializers.push(floatInit(w, kernel, [layer.filters, kernel.length / (layer.filters * layer.kernel[0] * layer.kernel[1]), ...layer.kernel]));
        const inputs = [x[0]!, w];
        if (bn || layer.useBias) {
          initializers.push(floatInit(`${layer.name}.bias`, bias, [layer.filters]));
          inputs.push(`${layer.name}.bias`);
        }
        const y = out(layer, 'Conv');
        nodes.push({ name: `/${layer.name}/Conv`, op: 'Conv', inputs, outputs: [y], attributes: {
          dilations: [1, 1], group: 1, kernel_shape: [...layer.kernel], pads: [pads[0], pads[2], pads[1], pads[3]], strides: [...layer.strides],
        } });
        tensor.set(layer.name, y);
        if (bn) tensor.set(bn.name, y);
        break;
      }
      case 'batchNorm': {
        if (foldBn) break;
        const names = ['gamma', 'beta', 'movingMean', 'movingVariance'].map((p, k) => {
          const n = `${layer.name}.${['weight', 'bias', 'running_mean', 'running_var'][k]}`;
          initializers.push(floatInit(n, param(layer.name, p).data, [param(layer.name, p).data.length]));
          return n;
        });
        const y = out(layer, 'BatchNormalization');
        nodes.push({ name: `/${layer.name}/BatchNormalization`, op: 'BatchNormalization', inputs: [x[0]!, ...names], outputs: [y], attributes: { epsilon: { float: layer.epsilon }, momentum: { float: 0.9 } } });
        tensor.set(layer.name, y);
        break;
      }
      case 'relu':
      case 'add': {
        const op = layer.kind === 'relu' ? 'Relu' : 'Add';
        const y = out(layer, op);
        // Functional ops sit in their block's scope, as in torch's names.
        nodes.push({ name: layer.kind === 'add' ? `/${layer.group}/Add` : `/${layer.name}/Relu`, op, inputs: x, outputs: [y] });
        tensor.set(layer.name, y);
        break;
      }
      case 'maxPool': {
        const pads = addPads(layer.pads, pending.get(layer.inputs[0]!));
        const y = out(layer, 'MaxPool');
        nodes.push({ name: `/${layer.name}/MaxPool`, op: 'MaxPool', inputs: x, outputs: [y], attributes: {
          ceil_mode: 0, kernel_shape: [...layer.pool], pads: [pads[0], pads[2], pads[1], pads[3]], strides: [...layer.strides],
        } });
        tensor.set(layer.name, y);
        break;
      }
      case 'globalAvgPool': {
        const y = out(layer, 'Pool');
        if (options.pool === 'reducemean') {
          const opset = options.opset ?? 13;
          if (opset >= 18) {
            initializers.push(intInit('pool_axes', [2, 3]));
            nodes.push({ name: `/${layer.name}/ReduceMean`, op: 'ReduceMean', inputs: [x[0]!, 'pool_axes'], outputs: [y], attributes: { keepdims: 1 } });
          } else {
            nodes.push({ name: `/${layer.name}/ReduceMean`, op: 'ReduceMean', inputs: x, outputs: [y], attributes: { axes: [2, 3], keepdims: 1 } });
          }
        } else {
          nodes.push({ name: `/${layer.name}/GlobalAveragePool`, op: 'GlobalAveragePool', inputs: x, outputs: [y] });
        }
        tensor.set(layer.name, y);
        break;
      }
      case 'dense': {
        const kernel = param(layer.name, 'kernel');
        const [inUnits, units] = kernel.shape as [number, number];
        if (options.head === 'matmul') {
          // x.view(x.size(0), -1): Shape → Gather → Unsqueeze → Concat → Reshape, then x @ W + b.
          initializers.push(intInit('gather_0', [0]), intInit('minus_1', [-1]));
          nodes.push(
            { name: '/Shape', op: 'Shape', inputs: x, outputs: ['/Shape_output_0'] },
            { name: '/Gather', op: 'Gather', inputs: ['/Shape_output_0', 'gather_0'], outputs: ['/Gather_output_0'], attributes: { axis: 0 } },
            { name: '/Concat', op: 'Concat', inputs: ['/Gather_output_0', 'minus_1'], outputs: ['/Concat_output_0'], attributes: { axis: 0 } },
            { name: '/Reshape', op: 'Reshape', inputs: [x[0]!, '/Concat_output_0'], outputs: ['/Reshape_output_0'] },
          );
          initializers.push(floatInit(`${layer.name}.weight_t`, kernel.data, [inUnits, units]), floatInit(`${layer.name}.bias`, param(layer.name, 'bias').data, [units]));
          nodes.push(
            { name: `/${layer.name}/MatMul`, op: 'MatMul', inputs: ['/Reshape_output_0', `${layer.name}.weight_t`], outputs: ['/fc/MatMul_output_0'] },
            { name: `/${layer.name}/Add`, op: 'Add', inputs: [`${layer.name}.bias`, '/fc/MatMul_output_0'], outputs: [outputName] },
          );
        } else {
          const transposed = new Float32Array(kernel.data.length);
          for (let i = 0; i < inUnits; i++) for (let j = 0; j < units; j++) transposed[j * inUnits + i] = kernel.data[i * units + j]!;
          initializers.push(floatInit(`${layer.name}.weight`, transposed, [units, inUnits]), floatInit(`${layer.name}.bias`, param(layer.name, 'bias').data, [units]));
          nodes.push(
            { name: '/Flatten', op: 'Flatten', inputs: x, outputs: ['/Flatten_output_0'], attributes: { axis: 1 } },
            { name: `/${layer.name}/Gemm`, op: 'Gemm', inputs: ['/Flatten_output_0', `${layer.name}.weight`, `${layer.name}.bias`], outputs: [outputName], attributes: { alpha: { float: 1 }, beta: { float: 1 }, transB: 1 } },
          );
        }
        tensor.set(layer.name, outputName);
        break;
      }
    }
  }
  const [c, h, w] = byName.get(graph.input)!.outputShape;
  const batch = options.batch ?? 'dynamic';
  const n = batch === 'dynamic' ? 'batch' : batch;
  return {
    nodes,
    initializers,
    input: { name: inputName, dims: [n, c!, h!, w!] },
    output: { name: outputName, dims: [n, byName.get(graph.output)!.outputShape[0]!] },
    opset: options.opset ?? 13,
  };
}

/** Serializes a model (IR version 7, as torch 1.13 writes). */
export function encodeModel(m: TorchModel): Uint8Array {
  const valueInfo = (v: { name: string; dims: (number | string)[] }, elemType = FLOAT) => ({
    name: v.name,
    type: { tensorType: { elemType, shape: { dim: v.dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  });
  const model = onnx.ModelProto.create({
    irVersion: 7,
    producerName: 'pytorch',
    producerVersion: '1.13.0',
    opsetImport: [{ domain: '', version: m.opset }],
    graph: {
      name: 'main_graph',
      node: m.nodes.map((n) => ({ name: n.name, opType: n.op, input: n.inputs, output: n.outputs, attribute: Object.entries(n.attributes ?? {}).map(([k, v]) => attribute(k, v)) })),
      initializer: m.initializers,
      input: [valueInfo(m.input, m.inputType)],
      output: [m.output, ...(m.extraOutputs ?? [])].map((o) => valueInfo(o)),
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

/** The ONNX bytes of {@link torchvisionModel}. */
export function torchvisionOnnx(graph: LayerGraph, weights: LayerWeights, options: TorchOnnxOptions = {}): Uint8Array {
  return encodeModel(torchvisionModel(graph, weights, options));
}

function attribute(name: string, value: AttributeSpec[string]): onnxProto.onnx.IAttributeProto {
  const { AttributeType } = onnx.AttributeProto;
  if (typeof value === 'number') return { name, type: AttributeType.INT, i: value };
  if (typeof value === 'string') return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: AttributeType.INTS, ints: value };
  if ('float' in value && typeof value.float === 'number') return { name, type: AttributeType.FLOAT, f: value.float };
  return { name, type: AttributeType.TENSOR, t: value as onnxProto.onnx.ITensorProto };
}

function addPads(own: readonly [number, number, number, number], extra?: readonly [number, number, number, number]): [number, number, number, number] {
  return [0, 1, 2, 3].map((k) => own[k]! + (extra?.[k] ?? 0)) as [number, number, number, number];
}

/** W' = W·γ/√(σ²+ε) per output channel, b' = (b − μ)·γ/√(σ²+ε) + β. */
function foldInto(kernel: Float32Array, bias: Float32Array, bn: Layer, weights: LayerWeights, conv: ConvLayer): void {
  const p = weights.get(bn.name)!;
  const eps = (bn as { epsilon: number }).epsilon;
  const per = kernel.length / conv.filters;
  for (let o = 0; o < conv.filters; o++) {
    const scale = p.gamma!.data[o]! / Math.sqrt(p.movingVariance!.data[o]! + eps);
    for (let k = 0; k < per; k++) kernel[o * per + k]! *= scale;
    bias[o] = (bias[o]! - p.movingMean!.data[o]!) * scale + p.beta!.data[o]!;
  }
}
