/**
 * Imports a ResNet from an ONNX file (what `torch.onnx.export` writes for torchvision's
 * `resnet18/34/50/101/152` and `wide_resnet50_2/101_2`) into the model graph and its weights.
 *
 * Two passes. The first maps ONNX nodes onto the layer graph's kinds (conv, batchNorm, relu,
 * maxPool, add, globalAvgPool, dense; zero padding for files exported from Keras) and absorbs
 * what carries no computation (Flatten/Reshape/Squeeze of the pooled vector, Identity,
 * Dropout, the Shape/Gather/Concat arithmetic of a dynamic Reshape, a final Softmax). The
 * second checks that the layers form a ResNet — stem conv → (BN) → ReLU → max pool, residual
 * blocks each ending in Add → ReLU, global average pool, one dense layer — and assigns every
 * block's layers to one trace group. Anything else is refused with an error naming the node,
 * its op and the reason, before anything is computed: an explanation of a graph we do not
 * understand would be silently wrong.
 *
 * Browser-safe: takes bytes, imports nothing from Node.
 */
import onnxProto from 'onnx-proto';
import type { ModelWeights } from '../weights/types.js';
import {
  consumers, layerOutputShape, type Layer, type LayerParams, type LayerWithoutShape, type ModelGraph, type ParamTensor, type Shape,
} from './graph.js';
import { TORCHVISION_INPUT, type InputDescription } from './input.js';

const { onnx } = onnxProto;
// Decoded messages always carry their repeated fields (empty by default): type them so.
type IAttribute = onnxProto.onnx.IAttributeProto;
type ITensor = onnxProto.onnx.ITensorProto;
type INode = onnxProto.onnx.INodeProto & { input: string[]; output: string[]; attribute: IAttribute[] };
type IValueInfo = onnxProto.onnx.IValueInfoProto;
interface IGraph {
  node: INode[];
  initializer: ITensor[];
  input: IValueInfo[];
  output: IValueInfo[];
}
/** A layer as a node maps to it, before it gets its name, inputs and shape. */
type LayerSpec = LayerWithoutShape extends infer L ? (L extends LayerWithoutShape ? Omit<L, 'name' | 'inputs'> : never) : never;
type Long = { toNumber(): number };

/** Opsets of the default domain this importer reads (every op it maps is stable over them). */
export const SUPPORTED_OPSETS = { min: 9, max: 22 } as const;

export interface OnnxImportOptions {
  /** Name of the file for messages (default `<onnx>`). */
  source?: string;
  /**
   * Changes to the input description. The default is torchvision's preprocessing (RGB,
   * /255, ImageNet mean/std, Resize(256) + CenterCrop(224)) at the file's input size, in the
   * file's layout; the layout itself comes from the file and cannot be changed.
   */
  input?: Partial<Omit<InputDescription, 'layout'>>;
}

/** A ResNet read from an ONNX file. */
export interface ImportedResNet {
  readonly graph: ModelGraph;
  readonly weights: ModelWeights;
  /** The file's own input and output names, its default-domain opset and its batch axis. */
  readonly file: { readonly input: string; readonly output: string; readonly opset: number; readonly batch: number | 'dynamic' };
}

/** Refusal of an ONNX file, naming the file and (where there is one) the node and its op. */
export class OnnxImportError extends Error {
  override readonly name = 'OnnxImportError';
}

/**
 * Reads an ONNX file's bytes and returns the ResNet in it as a model graph with weights.
 *
 * @throws OnnxImportError when the file is not ONNX, or the graph is not a ResNet this
 *   library can explain faithfully; the message names the node, its op and why.
 */
export function importOnnxResNet(bytes: Uint8Array, options: OnnxImportOptions = {}): ImportedResNet {
  const source = options.source ?? '<onnx>';
  let model: onnxProto.onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (error) {
    throw new OnnxImportError(`${source}: not an ONNX model (${(error as Error).message})`, { cause: error });
  }
  if (!model.graph || (model.graph.node?.length ?? 0) === 0) throw new OnnxImportError(`${source}: not an ONNX model (no graph or an empty one)`);
  return new Importer(source, model, options.input ?? {}).run();
}

/** What flows along a data edge: a layer's output, as a feature map, a pooled (N,C,1,1) map or a vector. */
interface DataTensor {
  readonly layer: string;
  readonly form: 'map' | 'pooled' | 'vector';
}

class Importer {
  private readonly graph: IGraph;
  private readonly opset: number;
  /** Initializers and Constant node outputs. */
  private readonly constants = new Map<string, ITensor>();
  /** Data tensors by ONNX name. */
  private readonly data = new Map<string, DataTensor>();
  /** Tensors computed from shapes and constants only (a dynamic Reshape's target shape). */
  private readonly meta = new Set<string>();
  private readonly layers: Layer[] = [];
  private readonly shapes = new Map<string, Shape>();
  private readonly params = new Map<string, Record<string, ParamTensor>>();
  /** The ONNX node each layer came from, for messages. */
  private readonly origin = new Map<string, INode>();
  private readonly usedNames = new Set<string>();
  /** Dense layers from a MatMul still waiting for their bias Add. */
  private readonly openMatMul = new Set<string>();
  private softmax = false;
  /** Nodes already accounted for (the NHWC → NCHW transpose of the input). */
  private readonly absorbed = new Set<INode>();

  constructor(private readonly source: string, model: onnxProto.onnx.ModelProto, private readonly overrides: OnnxImportOptions['input'] & object) {
    this.graph = model.graph as unknown as IGraph;
    const defaultDomain = model.opsetImport.find((o) => !o.domain || o.domain === 'ai.onnx');
    this.opset = defaultDomain ? toNumber(defaultDomain.version) : 0;
  }

  run(): ImportedResNet {
    const { graph } = this;
    if (this.opset < SUPPORTED_OPSETS.min || this.opset > SUPPORTED_OPSETS.max) {
      throw this.error(`opset ${this.opset} of the default domain is not supported (${SUPPORTED_OPSETS.min}–${SUPPORTED_OPSETS.max}; torch.onnx.export's opset_version chooses it)`);
    }
    for (const t of graph.initializer) this.constants.set(t.name!, t);
    const { input, batch, description } = this.readInput();

    for (const node of graph.node) this.mapNode(node);

    const outputs = graph.output.map((o) => o.name!);
    if (outputs.length !== 1) throw this.error(`the model has ${outputs.length} outputs (${outputs.join(', ')}); expected one, the class scores`);
    const output = this.data.get(outputs[0]!);
    const last = output && this.layers.find((l) => l.name === output.layer);
    if (!output || !last || last.kind !== 'dense') {
      const node = this.producerOf(outputs[0]!);
      throw this.error(`the output ${outputs[0]} must be the class scores of a dense layer (Gemm, or MatMul + Add), optionally through Softmax`, node);
    }

    const layers = this.layers.map((l) => (l.kind === 'dense' && this.softmax ? { ...l, activation: 'softmax' as const } : l));
    const resnet: ModelGraph = { name: 'resnet', layers, input, output: last.name, inputDescription: description };
    const checked = new ResNetChecker(resnet, (layer, reason) => this.error(reason, this.origin.get(layer))).check();
    return {
      graph: checked,
      weights: new Map<string, LayerParams>(this.params),
      file: { input: graph.input.find((i) => !this.constants.has(i.name!))!.name!, output: outputs[0]!, opset: this.opset, batch },
    };
  }

  // ---- the input ----

  private readInput(): { input: string; batch: number | 'dynamic'; description: InputDescription } {
    const inputs = this.graph.input.filter((i) => !this.constants.has(i.name!));
    if (inputs.length !== 1) {
      throw this.error(`the model has ${inputs.length} inputs (${inputs.map((i) => i.name).join(', ')}); expected one image batch`);
    }
    const info = inputs[0]!;
    const name = info.name!;
    const tensorType = info.type?.tensorType;
    if (!tensorType || tensorType.elemType !== onnx.TensorProto.DataType.FLOAT) {
      throw this.error(`input ${name} must be a float32 tensor, got ${tensorType ? dataTypeName(tensorType.elemType ?? 0) : 'no tensor type'}`);
    }
    const dims = (tensorType.shape?.dim ?? []).map((d) => (d.dimValue !== undefined && d.dimValue !== null && toNumber(d.dimValue) > 0 ? toNumber(d.dimValue) : undefined));
    if (dims.length !== 4) throw this.error(`input ${name} has rank ${dims.length}; expected an image batch (N, 3, H, W)`);
    // A Keras model exported with tf2onnx takes NHWC and transposes first.
    const readers = this.graph.node.filter((n) => n.input.includes(name));
    const transpose = readers.length === 1 && readers[0]!.opType === 'Transpose' && ints(attr(readers[0]!, 'perm')).join() === '0,3,1,2' ? readers[0]! : undefined;
    const layout = transpose ? 'NHWC' : 'NCHW';
    const [batchDim, c, h, w] = layout === 'NCHW' ? dims : [dims[0], dims[3], dims[1], dims[2]];
    if (c !== 3) throw this.error(`input ${name} has ${c ?? 'a dynamic number of'} channels; expected 3 (RGB or BGR) in ${layout} order`);
    if (h !== w) throw this.error(`input ${name} is ${h ?? '?'}×${w ?? '?'}; expected a square image (or both sides dynamic)`);
    const size = h ?? this.overrides.size ?? TORCHVISION_INPUT.size;
    if (this.overrides.size !== undefined && h !== undefined && this.overrides.size !== h) {
      throw this.error(`input size ${this.overrides.size} was asked for, but input ${name} is fixed at ${h}×${h}`);
    }
    const description: InputDescription = {
      ...TORCHVISION_INPUT,
      // torchvision's Resize(256) + CenterCrop(224) keeps its ratio at other sizes.
      resize: { fit: 'center-crop', resizeTo: Math.round((size * 256) / 224) },
      ...this.overrides,
      size,
      layout,
    };
    this.layers.push({ kind: 'input', name, inputs: [], outputShape: [3, size, size] });
    this.shapes.set(name, [3, size, size]);
    this.usedNames.add(name);
    this.data.set(name, { layer: name, form: 'map' });
    if (transpose) {
      this.data.set(transpose.output[0]!, { layer: name, form: 'map' });
      this.absorbed.add(transpose);
    }
    return { input: name, batch: batchDim ?? 'dynamic', description };
  }

  // ---- pass 1: nodes to layers ----

  private mapNode(node: INode): void {
    const op = node.opType ?? '';
    if (this.absorbed.has(node)) return;
    if (node.domain && node.domain !== 'ai.onnx') throw this.error(`custom operator domain "${node.domain}" is not supported`, node);
    if (op === 'Constant') {
      const value = attr(node, 'value')?.t;
      if (value) this.constants.set(node.output[0]!, value);
      else this.meta.add(node.output[0]!);
      return;
    }
    for (const input of node.input) {
      if (input && !this.data.has(input) && !this.constants.has(input) && !this.meta.has(input)) {
        throw this.error(`reads "${input}", which no earlier node, initializer or graph input produces (nodes must be in topological order)`, node);
      }
    }
    const dataInputs = node.input.filter((i) => this.data.has(i));
    if (dataInputs.length === 0 || op === 'Shape') {
      // Shape arithmetic (Shape → Gather → Unsqueeze → Concat → Reshape's target) and constant folding.
      for (const o of node.output) this.meta.add(o);
      return;
    }
    switch (op) {
      case 'Conv':
        return this.conv(node);
      case 'BatchNormalization':
        return this.batchNorm(node);
      case 'Relu':
        return this.simple(node, { kind: 'relu' });
      case 'MaxPool':
        return this.maxPool(node);
      case 'Add':
        return this.add(node);
      case 'GlobalAveragePool':
        return this.globalPool(node, 'pooled');
      case 'ReduceMean':
        return this.reduceMean(node);
      case 'AveragePool':
        return this.averagePool(node);
      case 'Pad':
        return this.pad(node);
      case 'Identity':
      case 'Dropout':
        this.onlyFirstOutput(node);
        return this.alias(node, this.dataIn(node, 0));
      case 'Flatten':
      case 'Reshape':
      case 'Squeeze':
        return this.flatten(node);
      case 'Gemm':
        return this.gemm(node);
      case 'MatMul':
        return this.matMul(node);
      case 'Softmax':
        return this.softmaxHead(node);
      case 'Concat':
        throw this.error('concatenates feature maps (DenseNet / Inception style); a ResNet only adds them', node);
      case 'Sigmoid':
      case 'LogSoftmax':
      case 'Tanh':
        throw this.error('is not part of a ResNet classifier: the head must end in a dense layer (optionally followed by Softmax), whose scores LRP explains', node);
      default:
        throw this.error('is not an operation of a torchvision-style ResNet (Conv, BatchNormalization, Relu, MaxPool, Add, GlobalAveragePool/ReduceMean, Flatten/Reshape, Gemm or MatMul+Add)', node);
    }
  }

  private conv(node: INode): void {
    const x = this.mapInput(node, 0);
    const kernel = this.constant(node, 1, 'kernel');
    if (kernel.shape.length !== 4) throw this.error(`kernel ${node.input[1]} has rank ${kernel.shape.length}; expected a 2-D convolution`, node);
    const [m, cIn, kh, kw] = kernel.shape as [number, number, number, number];
    const group = toNumber(attr(node, 'group')?.i ?? 1);
    if (group !== 1) throw this.error(`group=${group}: grouped or depthwise convolutions (ResNeXt, MobileNet) are not supported`, node);
    const dilations = ints(attr(node, 'dilations'));
    if (dilations.some((d) => d !== 1)) throw this.error(`dilations=[${dilations}]: dilated convolutions are not supported`, node);
    const inShape = this.shapes.get(x.layer)!;
    if (cIn !== inShape[0]) throw this.error(`kernel ${node.input[1]} expects ${cIn} input channels, its input has ${inShape[0]}`, node);
    const strides = this.pair(node, 'strides', 1);
    const pads = this.pads(node, [kh, kw], strides, inShape);
    const params: Record<string, ParamTensor> = { kernel: { data: onnxKernelToLayer(kernel), shape: [kh, kw, cIn, m] } };
    const useBias = node.input.length > 2 && !!node.input[2];
    if (useBias) params.bias = this.vector(node, 2, 'bias', m);
    this.emit(node, { kind: 'conv', filters: m, kernel: [kh, kw], strides, pads, useBias }, [x.layer], params);
  }

  private batchNorm(node: INode): void {
    const x = this.mapInput(node, 0);
    this.onlyFirstOutput(node);
    if (toNumber(attr(node, 'training_mode')?.i ?? 0) !== 0) throw this.error('training_mode=1: export the model in eval mode (model.eval())', node);
    const c = this.shapes.get(x.layer)![0]!;
    const [gamma, beta, movingMean, movingVariance] = ['scale', 'bias', 'mean', 'variance'].map((what, k) => this.vector(node, k + 1, what, c));
    const epsilon = attr(node, 'epsilon')?.f ?? 1e-5;
    this.emit(node, { kind: 'batchNorm', epsilon }, [x.layer], { gamma: gamma!, beta: beta!, movingMean: movingMean!, movingVariance: movingVariance! });
  }

  private maxPool(node: INode): void {
    const x = this.mapInput(node, 0);
    this.onlyFirstOutput(node);
    const kernel = ints(attr(node, 'kernel_shape'));
    if (kernel.length !== 2) throw this.error(`kernel_shape=[${kernel}]: expected a 2-D pool`, node);
    const dilations = ints(attr(node, 'dilations'));
    if (dilations.some((d) => d !== 1)) throw this.error(`dilations=[${dilations}] are not supported`, node);
    const strides = this.pair(node, 'strides', 1);
    const inShape = this.shapes.get(x.layer)!;
    const pads = this.pads(node, kernel as [number, number], strides, inShape);
    const layer = { kind: 'maxPool', pool: kernel as [number, number], strides, pads } as const;
    if (toNumber(attr(node, 'ceil_mode')?.i ?? 0) !== 0) {
      // Accepted where rounding up gives the same size (then ceil_mode changes nothing).
      const ceil = (size: number, k: number, s: number, p: number) => Math.ceil((size + p - k) / s) + 1;
      const floor = layerOutputShape({ ...layer, name: '', inputs: [] }, [inShape]);
      if (ceil(inShape[1]!, kernel[0]!, strides[0], pads[0] + pads[1]) !== floor[1] || ceil(inShape[2]!, kernel[1]!, strides[1], pads[2] + pads[3]) !== floor[2]) {
        throw this.error('ceil_mode=1 adds a partial window here; only floor rounding is supported', node);
      }
    }
    this.emit(node, layer, [x.layer]);
  }

  private add(node: INode): void {
    const [a, b] = node.input;
    const dataA = this.data.get(a!);
    const dataB = this.data.get(b!);
    if (dataA && dataB) {
      if (node.input.length !== 2) throw this.error('expected two inputs', node);
      if (dataA.form !== 'map' || dataB.form !== 'map') throw this.error('adds pooled or flattened tensors; residual additions join feature maps', node);
      const shapeA = this.shapes.get(dataA.layer)!;
      const shapeB = this.shapes.get(dataB.layer)!;
      if (shapeA.join() !== shapeB.join()) throw this.error(`adds shapes [${shapeA}] and [${shapeB}]: broadcasting is not part of a residual block`, node);
      this.emit(node, { kind: 'add' }, [dataA.layer, dataB.layer]);
      return;
    }
    // One data input and one constant: the bias of a MatMul head.
    const x = (dataA ?? dataB)!;
    const biasIndex = dataA ? 1 : 0;
    if (!this.openMatMul.has(x.layer)) {
      throw this.error('adds a constant to a feature tensor; only the bias right after a MatMul head (x @ W + b) is understood', node);
    }
    const dense = this.layers.find((l) => l.name === x.layer)!;
    const units = dense.outputShape[0]!;
    this.params.get(x.layer)!.bias = this.vector(node, biasIndex, 'bias', units);
    this.openMatMul.delete(x.layer);
    this.alias(node, x);
  }

  private globalPool(node: INode, form: 'pooled' | 'vector'): void {
    const x = this.mapInput(node, 0);
    this.emit(node, { kind: 'globalAvgPool' }, [x.layer], undefined, form);
  }

  private reduceMean(node: INode): void {
    const axesInput = node.input[1] ? this.constant(node, 1, 'axes') : undefined;
    const axes = (axesInput ? Array.from(axesInput.data) : ints(attr(node, 'axes'))).map((a) => (a < 0 ? a + 4 : a)).sort();
    if (axes.join() !== '2,3') throw this.error(`averages over axes [${axes}]; only the global average over height and width (axes 2, 3) is a ResNet pool`, node);
    const keepdims = toNumber(attr(node, 'keepdims')?.i ?? 1);
    this.globalPool(node, keepdims ? 'pooled' : 'vector');
  }

  private averagePool(node: INode): void {
    const x = this.mapInput(node, 0);
    const [, h, w] = this.shapes.get(x.layer)!;
    const kernel = ints(attr(node, 'kernel_shape'));
    const pads = ints(attr(node, 'pads'));
    if (kernel.join() !== `${h},${w}` || pads.some((p) => p !== 0)) {
      throw this.error(`kernel_shape=[${kernel}] on a ${h}×${w} map: only an average over the whole map (a global pool) is supported`, node);
    }
    this.globalPool(node, 'pooled');
  }

  private pad(node: INode): void {
    const x = this.mapInput(node, 0);
    const mode = attr(node, 'mode')?.s;
    if (mode && new TextDecoder().decode(mode) !== 'constant') throw this.error(`mode=${new TextDecoder().decode(mode)}: only zero padding is supported`, node);
    const value = node.input[2] ? this.constant(node, 2, 'value').data[0] : attr(node, 'value')?.f ?? 0;
    if (value !== 0) throw this.error(`pads with ${value}; only zero padding is supported`, node);
    const pads = node.input[1] ? Array.from(this.constant(node, 1, 'pads').data) : ints(attr(node, 'pads'));
    // (N, C, H, W) begins then ends: only H and W may be padded.
    if (pads.length !== 8 || pads[0] || pads[1] || pads[4] || pads[5] || pads.some((p) => p < 0)) {
      throw this.error(`pads=[${pads}]: only non-negative padding of height and width is supported`, node);
    }
    this.emit(node, { kind: 'zeroPad', pads: [pads[2]!, pads[6]!, pads[3]!, pads[7]!] }, [x.layer]);
  }

  /** Flatten / Reshape / Squeeze: only of the pooled map, where they turn (N, C, 1, 1) into (N, C). */
  private flatten(node: INode): void {
    const x = this.dataIn(node, 0);
    if (x.form === 'map') throw this.error('reshapes a feature map; only the pooled vector before the classifier may be flattened', node);
    if (node.opType === 'Flatten' && toNumber(attr(node, 'axis')?.i ?? 1) !== 1) throw this.error('flattens with axis≠1, which would merge the batch axis', node);
    if (node.opType === 'Reshape' && this.constants.has(node.input[1]!)) {
      const target = Array.from(this.constant(node, 1, 'shape').data);
      const channels = this.shapes.get(x.layer)![0]!;
      const ok = target.length === 2 && [0, -1].includes(target[0]!) ? [channels, -1].includes(target[1]!) : false;
      if (!ok && !(target.length === 2 && target[1] === channels)) throw this.error(`reshapes to [${target}]; expected (batch, ${channels})`, node);
    }
    this.alias(node, { layer: x.layer, form: 'vector' });
  }

  private gemm(node: INode): void {
    const x = this.headInput(node);
    if (toNumber(attr(node, 'transA')?.i ?? 0) !== 0) throw this.error('transA=1 is not supported', node);
    const transB = toNumber(attr(node, 'transB')?.i ?? 0) !== 0;
    const alpha = attr(node, 'alpha')?.f ?? 1;
    const beta = attr(node, 'beta')?.f ?? 1;
    const w = this.constant(node, 1, 'weight');
    const inUnits = this.shapes.get(x.layer)![0]!;
    const [rows, cols] = w.shape as [number, number];
    const units = transB ? rows : cols;
    if (w.shape.length !== 2 || (transB ? cols : rows) !== inUnits) {
      throw this.error(`weight ${node.input[1]} is [${w.shape}]${transB ? ' (transposed)' : ''}; expected ${inUnits} inputs`, node);
    }
    const kernel = new Float32Array(inUnits * units);
    for (let i = 0; i < inUnits; i++) for (let j = 0; j < units; j++) kernel[i * units + j] = alpha * w.data[transB ? j * inUnits + i : i * units + j]!;
    const bias = node.input[2] ? this.vector(node, 2, 'bias', units, true) : { data: new Float32Array(units), shape: [units] };
    if (beta !== 1) bias.data.forEach((v, i) => (bias.data[i] = v * beta));
    this.emit(node, { kind: 'dense', units, activation: 'linear' }, [x.layer], { kernel: { data: kernel, shape: [inUnits, units] }, bias }, 'vector');
  }

  private matMul(node: INode): void {
    const x = this.headInput(node);
    const w = this.constant(node, 1, 'weight');
    const inUnits = this.shapes.get(x.layer)![0]!;
    if (w.shape.length !== 2 || w.shape[0] !== inUnits) throw this.error(`weight ${node.input[1]} is [${w.shape}]; expected [${inUnits}, classes]`, node);
    const units = w.shape[1]!;
    const layer = this.emit(node, { kind: 'dense', units, activation: 'linear' }, [x.layer], {
      kernel: { data: Float32Array.from(w.data), shape: [inUnits, units] },
      bias: { data: new Float32Array(units), shape: [units] },
    }, 'vector');
    this.openMatMul.add(layer);
  }

  private softmaxHead(node: INode): void {
    const x = this.dataIn(node, 0);
    const dense = this.layers.find((l) => l.name === x.layer);
    const axis = toNumber(attr(node, 'axis')?.i ?? (this.opset >= 13 ? -1 : 1));
    if (dense?.kind !== 'dense' || x.form !== 'vector' || (axis !== 1 && axis !== -1)) {
      throw this.error('Softmax is only understood over the classes, right after the classifier', node);
    }
    if (!this.graph.output.some((o) => o.name === node.output[0])) throw this.error('the Softmax must be the model output', node);
    this.softmax = true;
    this.alias(node, x);
  }

  // ---- helpers ----

  /** The data input `index` of a layer node, which must be a feature map. */
  private mapInput(node: INode, index: number): DataTensor {
    const x = this.dataIn(node, index);
    if (x.form !== 'map') throw this.error('reads a pooled or flattened tensor; expected a feature map', node);
    return x;
  }

  private headInput(node: INode): DataTensor {
    const x = this.dataIn(node, 0);
    if (x.form !== 'vector') {
      const kind = x.form === 'map' ? 'a feature map (no global average pool before the classifier)' : 'the pooled map before Flatten';
      throw this.error(`the classifier reads ${kind}`, node);
    }
    if (this.layers.find((l) => l.name === x.layer)!.kind !== 'globalAvgPool') throw this.error('the classifier must read the global average pool (one dense layer)', node);
    return x;
  }

  private dataIn(node: INode, index: number): DataTensor {
    const x = this.data.get(node.input[index] ?? '');
    if (!x) throw this.error(`input ${index} (${node.input[index] || 'missing'}) must be the data path`, node);
    return x;
  }

  /** A layer without parameters or attributes (ReLU) on a feature map. */
  private simple(node: INode, layer: LayerSpec): void {
    this.emit(node, layer, [this.mapInput(node, 0).layer]);
  }

  private onlyFirstOutput(node: INode): void {
    const extra = node.output.slice(1).filter((o) => o && this.graph.node.some((n) => n.input.includes(o)));
    if (extra.length > 0) throw this.error(`its extra output ${extra[0]} is used; only the main output is supported`, node);
  }

  private alias(node: INode, x: DataTensor): void {
    this.data.set(node.output[0]!, x);
  }

  /** Adds a layer made from `node` and records its output tensor. */
  private emit(node: INode, layer: LayerSpec, inputs: string[], params?: Record<string, ParamTensor>, form: DataTensor['form'] = 'map'): string {
    const name = this.layerName(node, layer.kind);
    const full = { ...layer, name, inputs } as LayerWithoutShape;
    let outputShape: Shape;
    try {
      outputShape = layerOutputShape(full, inputs.map((i) => this.shapes.get(i)!));
    } catch (error) {
      throw this.error((error as Error).message, node);
    }
    if (outputShape.some((d) => !(d > 0))) throw this.error(`produces an empty output [${outputShape}] from input [${this.shapes.get(inputs[0]!)}]`, node);
    this.layers.push({ ...full, outputShape } as Layer);
    this.shapes.set(name, outputShape);
    this.origin.set(name, node);
    if (params) this.params.set(name, params);
    this.data.set(node.output[0]!, { layer: name, form });
    return name;
  }

  /**
   * A readable, unique layer name: the module path torch writes into node names
   * (`/layer1/layer1.0/conv1/Conv` → `layer1.0.conv1`), else the node name, else its output.
   */
  private layerName(node: INode, kind: Layer['kind']): string {
    const nodeName = node.name ?? '';
    let base = '';
    if (nodeName.startsWith('/')) {
      const path: string[] = [];
      for (const segment of nodeName.split('/').slice(1, -1)) {
        if (path.length > 0 && segment.startsWith(`${path[path.length - 1]}.`)) path[path.length - 1] = segment;
        else path.push(segment);
      }
      base = path.join('.');
      // Functional ops (the residual Add) sit in their block's scope: name them after it.
      if (kind === 'add' && base) base = `${base}.add`;
    }
    if (!base) base = nodeName || node.output[0] || kind;
    let name = base;
    for (let i = 2; this.usedNames.has(name); i++) name = `${base}_${i}`;
    this.usedNames.add(name);
    return name;
  }

  private pair(node: INode, name: string, fallback: number): [number, number] {
    const v = ints(attr(node, name));
    if (v.length === 0) return [fallback, fallback];
    if (v.length !== 2) throw this.error(`${name}=[${v}]: expected two values (2-D)`, node);
    return [v[0]!, v[1]!];
  }

  /** Explicit pads `[top, bottom, left, right]`, resolving `auto_pad`. */
  private pads(node: INode, kernel: readonly [number, number], strides: readonly [number, number], inShape: Shape): [number, number, number, number] {
    const autoPad = attr(node, 'auto_pad')?.s ? new TextDecoder().decode(attr(node, 'auto_pad')!.s!) : 'NOTSET';
    if (autoPad === 'NOTSET') {
      const p = ints(attr(node, 'pads'));
      if (p.length === 0) return [0, 0, 0, 0];
      if (p.length !== 4 || p.some((v) => v < 0)) throw this.error(`pads=[${p}]: expected four non-negative values`, node);
      return [p[0]!, p[2]!, p[1]!, p[3]!];
    }
    if (autoPad === 'VALID') return [0, 0, 0, 0];
    if (autoPad !== 'SAME_UPPER' && autoPad !== 'SAME_LOWER') throw this.error(`auto_pad=${autoPad} is not supported`, node);
    const axis = (size: number, k: number, s: number): [number, number] => {
      const total = Math.max(0, (Math.ceil(size / s) - 1) * s + k - size);
      const small = Math.floor(total / 2);
      return autoPad === 'SAME_UPPER' ? [small, total - small] : [total - small, small];
    };
    const [t, b] = axis(inShape[1]!, kernel[0], strides[0]);
    const [l, r] = axis(inShape[2]!, kernel[1], strides[1]);
    return [t, b, l, r];
  }

  /** A constant input of `node` as float32 values (ints converted) with its shape. */
  private constant(node: INode, index: number, what: string): { data: Float32Array; shape: number[] } {
    const name = node.input[index];
    const tensor = name ? this.constants.get(name) : undefined;
    if (!tensor) throw this.error(`its ${what} (${name || 'missing'}) must be a constant (an initializer), not computed in the graph`, node);
    try {
      return readTensor(tensor);
    } catch (error) {
      throw this.error(`${what} ${name}: ${(error as Error).message}`, node);
    }
  }

  private vector(node: INode, index: number, what: string, length: number, allowScalarShape = false): ParamTensor {
    const t = this.constant(node, index, what);
    if (t.data.length !== length || (t.shape.length !== 1 && !allowScalarShape)) {
      throw this.error(`${what} ${node.input[index]} has shape [${t.shape}]; expected [${length}]`, node);
    }
    return { data: t.data, shape: [length] };
  }

  private producerOf(tensor: string): INode | undefined {
    return this.graph.node.find((n) => n.output.includes(tensor));
  }

  error(reason: string, node?: INode): OnnxImportError {
    const where = node ? ` node "${node.name || node.output?.[0] || '?'}" (${node.opType})` : '';
    return new OnnxImportError(`${this.source}:${where} ${reason}`);
  }
}

// ---- pass 2: the ResNet structure ----

/**
 * Checks that a layer graph is a ResNet (v1: post-activation blocks) and returns it with
 * every block's layers in one trace group named after the block.
 */
class ResNetChecker {
  private readonly byName: Map<string, Layer>;
  private readonly next: Map<string, string[]>;
  private readonly groups = new Map<string, string>();
  private readonly seen = new Set<string>();

  constructor(private readonly graph: ModelGraph, private readonly fail: (layer: string, reason: string) => Error) {
    this.byName = new Map(graph.layers.map((l) => [l.name, l]));
    this.next = consumers(graph);
  }

  check(): ModelGraph {
    const { graph } = this;
    this.seen.add(graph.input);
    // Stem: [pad] conv [bn] relu [pad] maxpool.
    let x = this.single(graph.input, 'the model input');
    x = this.skip(x, 'zeroPad');
    this.expect(x, 'conv', 'the first layer must be a convolution');
    x = this.single(x, 'the stem conv');
    x = this.skip(x, 'batchNorm');
    this.expect(x, 'relu', 'the stem must continue conv → (BatchNorm) → ReLU');
    x = this.single(x, 'the stem ReLU');
    x = this.skip(x, 'zeroPad');
    this.expect(x, 'maxPool', 'the stem must end in a max pool');
    let blockInput = x;
    const blocks: { convs: number }[] = [];
    for (;;) {
      const readers = this.next.get(blockInput)!;
      if (readers.length === 1 && this.byName.get(readers[0]!)!.kind === 'globalAvgPool') break;
      blockInput = this.block(blockInput, blocks);
    }
    const pool = this.single(blockInput, 'the last block');
    const dense = this.single(pool, 'the global average pool');
    this.expect(dense, 'dense', 'the global average pool must feed one dense layer');
    if (dense !== graph.output) throw this.fail(dense, 'the dense layer must be the model output');
    if (this.next.get(dense)!.length !== 0) throw this.fail(this.next.get(dense)![0]!, 'nothing may follow the classifier');
    if (blocks.length === 0) throw this.fail(pool, 'no residual blocks: this is not a ResNet');
    const outside = graph.layers.find((l) => !this.seen.has(l.name));
    if (outside) throw this.fail(outside.name, 'is outside the ResNet structure (a side branch)');

    const convsPerBlock = blocks[0]!.convs;
    const depth = blocks.every((b) => b.convs === convsPerBlock) ? 2 + blocks.length * convsPerBlock : undefined;
    const layers = graph.layers.map((l) => (this.groups.has(l.name) ? { ...l, group: this.groups.get(l.name)! } : l));
    return { ...graph, name: depth ? `resnet${depth}` : `resnet(${blocks.length} blocks)`, layers };
  }

  /** One residual block from its input: main and shortcut branches meeting at Add → ReLU. */
  private block(input: string, blocks: { convs: number }[]): string {
    const readers = this.next.get(input)!;
    const first = this.byName.get(readers[0]!)!;
    if (readers.length === 1 && (first.kind === 'batchNorm' || first.kind === 'relu')) {
      throw this.fail(first.name, 'a block starts with BatchNorm/ReLU: pre-activation (v2) ResNets are not supported');
    }
    if (readers.length !== 2) throw this.fail(first.name, `a residual block input must feed exactly two branches, ${input} feeds ${readers.length}`);
    const branches = readers.map((r) => this.branch(input, r));
    const add = branches[0]!.end;
    if (branches[1]!.end !== add) throw this.fail(add, 'the two branches of a block must meet at one Add');
    const addLayer = this.byName.get(add)!;
    if (addLayer.kind !== 'add' || addLayer.inputs.length !== 2) throw this.fail(add, 'a residual block must end in an Add of two branches');
    const [main, shortcut] = branches[0]!.convs >= branches[1]!.convs ? branches : [branches[1]!, branches[0]!];
    if (main!.relus === 0 || main!.convs < 2) throw this.fail(add, 'the main branch of a block needs at least two convolutions with a ReLU between them');
    if (shortcut!.relus > 0 || shortcut!.convs > 1) throw this.fail(add, 'the shortcut must be the identity or one conv (+ BatchNorm)');
    const outReaders = this.next.get(add)!;
    const out = outReaders[0] === undefined ? undefined : this.byName.get(outReaders[0]);
    if (outReaders.length !== 1 || out?.kind !== 'relu') {
      throw this.fail(outReaders[0] ?? add, 'the Add of a block must be followed by a ReLU (its only reader); without it this looks like a pre-activation (v2) ResNet, which is not supported');
    }
    const name = this.blockName(add, blocks.length);
    for (const layer of [...main!.layers, ...shortcut!.layers, add, out.name]) this.groups.set(layer, name);
    this.seen.add(add).add(out.name);
    blocks.push({ convs: main!.convs });
    return out.name;
  }

  /** Follows a chain of conv / batchNorm / relu layers with one reader each until an Add. */
  private branch(input: string, start: string): { end: string; layers: string[]; convs: number; relus: number } {
    const layers: string[] = [];
    let convs = 0;
    let relus = 0;
    let previous: Layer['kind'] | 'start' = 'start';
    for (let name = start; ; ) {
      const layer = this.byName.get(name)!;
      if (layer.kind === 'add') {
        if (previous === 'relu') throw this.fail(name, 'a branch ends in a ReLU before the Add: pre-activation (v2) or non-standard block');
        return { end: name, layers, convs, relus };
      }
      const allowed = layer.kind === 'conv' || layer.kind === 'zeroPad'
        || (layer.kind === 'batchNorm' && previous === 'conv')
        || (layer.kind === 'relu' && (previous === 'conv' || previous === 'batchNorm'));
      if (!allowed) throw this.fail(name, `a ${layer.kind} layer after ${previous === 'start' ? `the block input ${input}` : `a ${previous}`} is not part of a residual block`);
      if (layer.kind === 'conv') convs++;
      if (layer.kind === 'relu') relus++;
      layers.push(name);
      this.seen.add(name);
      previous = layer.kind;
      const readers = this.next.get(name)!;
      if (readers.length !== 1) throw this.fail(name, `inside a residual block every layer feeds exactly one other, this one feeds ${readers.length}`);
      name = readers[0]!;
    }
  }

  private blockName(add: string, index: number): string {
    return add.endsWith('.add') ? add.slice(0, -'.add'.length) : `block${index + 1}`;
  }

  private single(layer: string, what: string): string {
    const readers = this.next.get(layer)!;
    if (readers.length !== 1) throw this.fail(readers[1] ?? layer, `${what} must feed exactly one layer, it feeds ${readers.length}`);
    this.seen.add(readers[0]!);
    return readers[0]!;
  }

  private skip(layer: string, kind: Layer['kind']): string {
    return this.byName.get(layer)!.kind === kind ? this.single(layer, `the ${kind} ${layer}`) : layer;
  }

  private expect(layer: string, kind: Layer['kind'], reason: string): void {
    if (this.byName.get(layer)!.kind !== kind) throw this.fail(layer, reason);
  }
}

// ---- tensors and attributes ----

/** Reads a float/int tensor (raw or typed fields) as float32 values. */
export function readTensor(t: ITensor): { data: Float32Array; shape: number[] } {
  const shape = (t.dims ?? []).map(toNumber);
  const count = shape.reduce((a, b) => a * b, 1);
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL || (t.externalData?.length ?? 0) > 0) {
    throw new Error('its data is in an external file; save the model as one file (onnx.save(model, path, save_as_external_data=False))');
  }
  const raw = t.rawData && t.rawData.length > 0 ? t.rawData : undefined;
  const view = raw ? new DataView(raw.buffer, raw.byteOffset, raw.byteLength) : undefined;
  const out = new Float32Array(count);
  const type = t.dataType ?? 0;
  const { DataType } = onnx.TensorProto;
  const read = (size: number, fromRaw: (offset: number) => number, typed: ArrayLike<number | Long> | null | undefined) => {
    if (view) {
      if (view.byteLength !== count * size) throw new Error(`has ${view.byteLength} bytes of data for shape [${shape}]`);
      for (let i = 0; i < count; i++) out[i] = fromRaw(i * size);
    } else {
      if (!typed || typed.length !== count) throw new Error(`has ${typed?.length ?? 0} values for shape [${shape}]`);
      for (let i = 0; i < count; i++) out[i] = toNumber(typed[i]!);
    }
  };
  switch (type) {
    case DataType.FLOAT:
      read(4, (o) => view!.getFloat32(o, true), t.floatData);
      break;
    case DataType.DOUBLE:
      read(8, (o) => view!.getFloat64(o, true), t.doubleData);
      break;
    case DataType.INT64:
      read(8, (o) => Number(view!.getBigInt64(o, true)), t.int64Data);
      break;
    case DataType.INT32:
      read(4, (o) => view!.getInt32(o, true), t.int32Data);
      break;
    default:
      throw new Error(`has element type ${dataTypeName(type)}; convert the model to float32`);
  }
  return { data: out, shape };
}

/** ONNX conv kernel (out, in, kh, kw) → the layer graph's (kh, kw, in, out). */
export function onnxKernelToLayer(kernel: { data: Float32Array; shape: readonly number[] }): Float32Array {
  const [m, c, kh, kw] = kernel.shape as [number, number, number, number];
  const out = new Float32Array(kernel.data.length);
  for (let o = 0; o < m; o++) for (let i = 0; i < c; i++) for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) {
    out[((y * kw + x) * c + i) * m + o] = kernel.data[((o * c + i) * kh + y) * kw + x]!;
  }
  return out;
}

function attr(node: INode, name: string): IAttribute | undefined {
  return node.attribute?.find((a) => a.name === name);
}

function ints(a: IAttribute | undefined): number[] {
  return (a?.ints ?? []).map(toNumber);
}

function toNumber(v: number | Long | string | null | undefined): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return Number(v);
  return v.toNumber();
}

function dataTypeName(type: number): string {
  return onnx.TensorProto.DataType[type] ?? `type ${type}`;
}
