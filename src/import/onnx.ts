/**
 * Imports a convolutional classifier from an ONNX file into the model graph: the file's own
 * nodes, canonicalised (see `docs/lrp-spec.md`, "Any CNN in an ONNX file"):
 * - constants (initializers, Constant nodes, Identity of either) and the shape arithmetic
 *   around them are evaluated, so `x.view(x.size(0), -1)` is a Reshape whatever the batch;
 * - Identity, Dropout and float Casts disappear; Flatten, Squeeze, Unsqueeze and Reshape
 *   become one Reshape to a per-example shape; MatMul by a constant (+ Add of a constant) is a
 *   dense layer (Gemm); ReduceMean over the spatial axes is a global average pool;
 * - every shape-like operand becomes an attribute (opsets 9–22 write them differently);
 * - a final Softmax/LogSoftmax is dropped (the logits are explained), and per-channel
 *   normalisation applied to the input inside the graph is folded into the input description.
 *
 * Every tensor's shape is inferred on the way, and every attribute is checked: anything the
 * rules do not cover is refused with an error naming the file, the node, its op and the reason,
 * before any session is created.
 *
 * Browser-safe: takes bytes, imports nothing from Node.
 */
import type { GraphNode, ModelGraph, ModelWeights, ParamTensor, Shape, AttributeValue } from '../graph/graph.js';
import { windowOutputSize } from '../graph/graph.js';
import { TORCHVISION_INPUT, type InputDescription } from '../model/input.js';
import { absorbInputNormalisation, fuseDenseBias, keepReachable } from '../canonicalize/passes.js';
import { FOLDABLE, foldNode, sliceRange, type Constant } from './constant-folding.js';
import {
  attribute, dataTypeName, floatAttribute, intAttribute, intsAttribute, onnx, readTensor, stringAttribute, toNumber,
  type IGraph, type INode,
} from './onnx-proto.js';

/** Opsets of the default domain this importer reads. */
export const SUPPORTED_OPSETS = { min: 9, max: 22 } as const;

export interface OnnxImportOptions {
  /** Name of the file for messages (default `<onnx>`). */
  source?: string;
  /**
   * Changes to the input description of the file's input tensor. The default is torchvision's
   * preprocessing (RGB, /255, ImageNet mean/std, Resize + CenterCrop) at the file's input size,
   * or plain pixels in [0, 1] when the graph normalises its input itself; the layout comes from
   * the file. `size` sets the height (and width) of an input whose sides are dynamic, `width`
   * its width where it differs.
   */
  input?: Partial<Omit<InputDescription, 'layout'>>;
}

/** A model read from an ONNX file. */
export interface ImportedModel {
  readonly graph: ModelGraph;
  readonly weights: ModelWeights;
  /** The file's own input and output names, its default-domain opset and its batch axis. */
  readonly file: { readonly input: string; readonly output: string; readonly opset: number; readonly batch: number | 'dynamic' };
}

/** Refusal of an ONNX file, naming the file and (where there is one) the node and its op. */
export class OnnxImportError extends Error {
  override readonly name = 'OnnxImportError';
}

/** Ops the importer turns into graph nodes (after folding constants), for messages and docs. */
export const SUPPORTED_OPS = [
  'Conv', 'Gemm', 'MatMul', 'BatchNormalization', 'Relu', 'LeakyRelu', 'Clip', 'HardSwish', 'Sigmoid', 'HardSigmoid', 'Tanh',
  'MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool', 'ReduceMean', 'Add', 'Sum', 'Sub', 'Mul', 'Div',
  'Concat', 'Split', 'Slice', 'Pad', 'Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Transpose', 'Identity', 'Dropout', 'Cast',
  'Softmax', 'LogSoftmax',
] as const;

/** Largest kernel, stride, dilation or padding accepted (larger ones are not real CNN layers). */
const MAX_WINDOW = 1 << 16;
/** Largest tensor per example, in elements. */
const MAX_ELEMENTS = 2 ** 31 - 1;
const FLOAT_MAX = 3.4028234663852886e38;
/** Inputs smaller than this are fitted by stretching whole images (see {@link Importer.description}). */
const SMALL_INPUT = 64;

/**
 * Reads an ONNX file's bytes and returns the network in it as a model graph with weights.
 *
 * @throws OnnxImportError when the file is not ONNX, or the graph holds something this library
 *   cannot explain faithfully; the message names the node, its op and why.
 */
export function importOnnx(bytes: Uint8Array, options: OnnxImportOptions = {}): ImportedModel {
  const source = options.source ?? '<onnx>';
  let model: ReturnType<typeof onnx.ModelProto.decode>;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (error) {
    throw new OnnxImportError(`${source}: not an ONNX model (${(error as Error).message})`, { cause: error });
  }
  if (!model.graph || (model.graph.node?.length ?? 0) === 0) throw new OnnxImportError(`${source}: not an ONNX model (no graph or an empty one)`);
  const defaultDomain = model.opsetImport.find((o) => !o.domain || o.domain === 'ai.onnx');
  const opset = defaultDomain ? toNumber(defaultDomain.version) : 0;
  return new Importer(source, model.graph as unknown as IGraph, opset, options.input ?? {}).run();
}

/** Graph names exporters write whatever the model (torch, tf2onnx): the file's name says more. */
const GENERIC_GRAPH_NAMES = new Set(['', 'main_graph', 'torch_jit', 'torch-jit-export', 'tf2onnx', 'graph']);

/** The model's name: its graph's, unless an exporter's default; then the file's base name. */
function modelName(graphName: string, source: string): string {
  if (!GENERIC_GRAPH_NAMES.has(graphName)) return graphName;
  const base = source.split(/[\\/]/).pop()!.replace(/\.onnx$/i, '');
  return base && !base.startsWith('<') ? base : 'onnx-model';
}

/** A node's failure, turned into an error naming the file and node by the importer. */
class NodeError extends Error {}

class Importer {
  private readonly constants = new Map<string, Constant>();
  /** Per-example shapes of computed tensors. */
  private readonly shapes = new Map<string, number[]>();
  private readonly alias = new Map<string, string>();
  /** Outputs that exist in the file but not in the graph (a BatchNorm's running stats, a pool's indices). */
  private readonly dropped = new Map<string, string>();
  private readonly nodes: GraphNode[] = [];
  private readonly weights = new Map<string, ParamTensor>();
  private readonly nodeNames = new Set<string>();
  /** Producer op of each computed tensor (for gates). */
  private readonly producerOp = new Map<string, string>();
  private batch: number | 'dynamic' = 'dynamic';
  private current?: INode;

  constructor(private readonly source: string, private readonly graph: IGraph, private readonly opset: number, private readonly overrides: OnnxImportOptions['input'] & object) {}

  run(): ImportedModel {
    if (this.opset < SUPPORTED_OPSETS.min || this.opset > SUPPORTED_OPSETS.max) {
      throw this.error(`opset ${this.opset} of the default domain is not supported (${SUPPORTED_OPSETS.min}–${SUPPORTED_OPSETS.max}; torch.onnx.export's opset_version chooses it)`);
    }
    for (const t of this.graph.initializer) {
      try {
        this.constants.set(t.name ?? '', readTensor(t));
      } catch (error) {
        throw this.error(`initializer ${t.name}: ${(error as Error).message}`);
      }
    }
    const { fileInput, input, layout, size, width } = this.readInput();

    for (const node of this.graph.node) {
      this.current = node;
      try {
        this.visit(node);
      } catch (error) {
        if (error instanceof OnnxImportError) throw error;
        throw this.error((error as Error).message, node);
      }
    }
    this.current = undefined;

    const outputs = this.graph.output.map((o) => o.name ?? '');
    if (outputs.length !== 1) throw this.error(`the model has ${outputs.length} outputs (${outputs.join(', ')}); expected one, the class scores`);
    let output = this.resolve(outputs[0]!);
    if (!this.shapes.has(output)) throw this.error(`the output ${outputs[0]} does not depend on the input`);
    // A final Softmax/LogSoftmax: the logits are its input.
    const last = this.nodes.find((n) => n.outputs.includes(output));
    if (last && (last.op === 'Softmax' || last.op === 'LogSoftmax')) {
      output = last.inputs[0]!;
      this.nodes.splice(this.nodes.indexOf(last), 1);
    }
    const softmax = this.nodes.find((n) => n.op === 'Softmax' || n.op === 'LogSoftmax');
    if (softmax) throw this.error(`node ${softmax.name} (${softmax.op}): a softmax inside the network (not its last op) is not supported`);
    const outShape = this.shapes.get(output)!;
    if (outShape.length !== 1) throw this.error(`the output ${outputs[0]} has shape [${outShape}] per example; expected class scores (N, classes)`);

    const fileDescription = this.description(layout, size, width);
    let graph: ModelGraph = {
      name: modelName(this.graph.name ?? '', this.source),
      nodes: this.nodes,
      input,
      output,
      shapes: new Map<string, Shape>(this.shapes),
      inputDescription: fileDescription,
    };
    graph = fuseDenseBias(graph, this.weights);
    graph = absorbInputNormalisation(graph, this.weights, this.overrides.mean !== undefined || this.overrides.std !== undefined);
    graph = keepReachable(graph);
    if (!graph.nodes.some((n) => n.inputs.includes(graph.input)) && graph.input !== graph.output) {
      throw this.error(`the output ${outputs[0]} does not depend on the input ${fileInput}`);
    }
    const used = new Set(graph.nodes.flatMap((n) => n.inputs));
    const weights = new Map([...this.weights].filter(([name]) => used.has(name)));
    return { graph, weights, file: { input: fileInput, output: outputs[0]!, opset: this.opset, batch: this.batch } };
  }

  // ---- the input ----

  private readInput(): { fileInput: string; input: string; layout: 'NCHW' | 'NHWC'; size: number; width: number } {
    const inputs = this.graph.input.filter((i) => !this.constants.has(i.name ?? ''));
    if (inputs.length !== 1) {
      throw this.error(`the model has ${inputs.length} inputs (${inputs.map((i) => i.name).join(', ')}); expected one image batch`);
    }
    const info = inputs[0]!;
    const name = info.name ?? '';
    const tensorType = info.type?.tensorType;
    if (!tensorType || tensorType.elemType !== onnx.TensorProto.DataType.FLOAT) {
      throw this.error(`input ${name} must be a float32 tensor, got ${tensorType ? dataTypeName(tensorType.elemType ?? 0) : 'no tensor type'}`);
    }
    const dims = (tensorType.shape?.dim ?? []).map((d) => (d.dimValue !== undefined && d.dimValue !== null && toNumber(d.dimValue) > 0 ? toNumber(d.dimValue) : undefined));
    if (dims.length !== 4) throw this.error(`input ${name} has rank ${dims.length}; expected an image batch (N, 3, H, W)`);
    // A model exported from Keras with tf2onnx takes NHWC and transposes first.
    const readers = this.graph.node.filter((n) => n.input.includes(name));
    const transpose = readers.length === 1 && readers[0]!.opType === 'Transpose' && (intsAttribute(readers[0]!, 'perm') ?? []).join() === '0,3,1,2' ? readers[0]! : undefined;
    const layout = transpose ? 'NHWC' : 'NCHW';
    const [batch, c, h, w] = layout === 'NCHW' ? dims : [dims[0], dims[3], dims[1], dims[2]];
    if (c !== 3) throw this.error(`input ${name} has ${c ?? 'a dynamic number of'} channels; expected 3 (RGB or BGR) in ${layout} order`);
    // Fixed sides are the file's; `size` (and `width`, for a non-square input) set dynamic ones.
    const askedHeight = this.overrides.size;
    const askedWidth = this.overrides.width ?? this.overrides.size;
    if ((askedHeight !== undefined && h !== undefined && askedHeight !== h) || (askedWidth !== undefined && w !== undefined && askedWidth !== w)) {
      throw this.error(`input size ${askedHeight ?? h}×${askedWidth ?? w} was asked for, but input ${name} is fixed at ${h ?? '?'}×${w ?? '?'}`);
    }
    const height = h ?? askedHeight ?? (w !== undefined && askedWidth === undefined ? w : TORCHVISION_INPUT.size);
    const width = w ?? askedWidth ?? height;
    for (const side of [height, width]) if (!Number.isSafeInteger(side) || side < 1) throw this.error(`input size ${height}×${width} is not a size in pixels`);
    if (3 * height * width > MAX_ELEMENTS) throw this.error(`input ${name} is ${height}×${width}: too large for any image this library can run`);
    this.batch = batch ?? 'dynamic';
    const inside = transpose ? transpose.output[0]! : name;
    this.shapes.set(inside, [3, height, width]);
    this.producerOp.set(inside, 'input');
    if (transpose) this.skip.add(transpose);
    return { fileInput: name, input: inside, layout, size: height, width };
  }

  private readonly skip = new Set<INode>();

  /**
   * The file's input description: torchvision's by default, the user's changes on top. Small
   * inputs (under 64 pixels: CIFAR's 32×32) take whole images, stretched: such models are trained
   * on images of their own size, not on crops.
   */
  private description(layout: 'NCHW' | 'NHWC', size: number, width: number): InputDescription {
    const { width: _asked, ...overrides } = this.overrides;
    return {
      ...TORCHVISION_INPUT,
      // torchvision's Resize(256) + CenterCrop(224) keeps its ratio at other sizes; a
      // non-square input takes the whole image, stretched.
      resize: size < SMALL_INPUT || width !== size ? { fit: 'resize' } : { fit: 'center-crop', resizeTo: Math.round((size * 256) / 224) },
      ...overrides,
      size,
      ...(width !== size ? { width } : {}),
      layout,
    };
  }

  // ---- nodes ----

  private visit(node: INode): void {
    if (this.skip.has(node)) return;
    const op = node.opType ?? '';
    if (node.domain && node.domain !== 'ai.onnx') throw new NodeError(`custom operator domain "${node.domain}" is not supported`);
    if (op === 'Constant') {
      this.constants.set(node.output[0]!, this.constantNode(node));
      return;
    }
    const inputs = node.input.map((i) => (i ? this.resolve(i) : ''));
    for (const input of inputs) {
      if (!input || this.constants.has(input) || this.shapes.has(input)) continue;
      const reason = this.dropped.get(input);
      if (reason) throw new NodeError(`reads ${input}, ${reason}`);
      throw new NodeError(`reads "${input}", which no earlier node, initializer or graph input produces (nodes must be in topological order)`);
    }
    const computed = inputs.filter((i) => i && this.shapes.has(i));
    if (op === 'Shape' && computed.length === 1) {
      // The batch is NaN: it marks "the batch" wherever the shape arithmetic puts it.
      const dims = [this.batch === 'dynamic' ? NaN : this.batch, ...this.shapes.get(computed[0]!)!];
      this.constants.set(node.output[0]!, foldNode(node, [{ dims, values: [], kind: 'float' }], this.opset)[0]!);
      return;
    }
    if (computed.length === 0) {
      if (!FOLDABLE.has(op)) throw new NodeError(`computes ${op} on constants only, which is not evaluated here`);
      const values = foldNode(node, inputs.map((i) => (i ? this.constants.get(i) : undefined)), this.opset);
      node.output.forEach((o, k) => values[k] && this.constants.set(o, values[k]!));
      return;
    }
    this.canonical(node, op, inputs);
  }

  private canonical(node: INode, op: string, inputs: string[]): void {
    switch (op) {
      case 'Identity':
        return this.aliasOf(node, inputs[0]!);
      case 'Dropout':
        this.drop(node, 1, 'the mask of a Dropout (not part of inference)');
        return this.aliasOf(node, inputs[0]!);
      case 'Cast':
        if (intAttribute(node, 'to', 0) !== onnx.TensorProto.DataType.FLOAT) throw new NodeError(`casts a computed tensor to ${dataTypeName(intAttribute(node, 'to', 0))}; only float32 tensors are supported`);
        return this.aliasOf(node, inputs[0]!);
      case 'Conv':
        return this.conv(node, inputs);
      case 'Gemm':
        return this.gemm(node, inputs);
      case 'MatMul':
        return this.matMul(node, inputs);
      case 'BatchNormalization':
        return this.batchNorm(node, inputs);
      case 'Relu':
      case 'Sigmoid':
      case 'Tanh':
      case 'HardSwish':
        return void this.emit(node, op, [this.computed(inputs, 0)], {}, this.shape(inputs[0]!));
      case 'LeakyRelu':
        return void this.emit(node, op, [this.computed(inputs, 0)], { alpha: { float: floatAttribute(node, 'alpha', 0.01) } }, this.shape(inputs[0]!));
      case 'HardSigmoid':
        return void this.emit(node, op, [this.computed(inputs, 0)], {
          alpha: { float: floatAttribute(node, 'alpha', 0.2) }, beta: { float: floatAttribute(node, 'beta', 0.5) },
        }, this.shape(inputs[0]!));
      case 'Clip':
        return this.clip(node, inputs);
      case 'MaxPool':
      case 'AveragePool':
        return this.pool(node, op, inputs);
      case 'GlobalAveragePool':
      case 'GlobalMaxPool':
        return void this.emit(node, op, [this.computed(inputs, 0)], { keepdims: 1 }, this.globalShape(inputs[0]!, true));
      case 'ReduceMean':
      case 'ReduceMax':
        return this.reduce(node, op, inputs);
      case 'Add':
      case 'Sub':
      case 'Mul':
      case 'Div':
      case 'Sum':
        return this.elementwise(node, op, inputs);
      case 'Concat':
        return this.concat(node, inputs);
      case 'Split':
        return this.split(node, inputs);
      case 'Slice':
        return this.slice(node, inputs);
      case 'Pad':
        return this.pad(node, inputs);
      case 'Reshape':
      case 'Flatten':
      case 'Squeeze':
      case 'Unsqueeze':
        return this.reshape(node, op, inputs);
      case 'Transpose':
        return this.transpose(node, inputs);
      case 'Softmax':
      case 'LogSoftmax':
        return void this.emit(node, op, [this.computed(inputs, 0)], { axis: intAttribute(node, 'axis', this.opset >= 13 ? -1 : 1) }, this.shape(inputs[0]!));
      default:
        throw new NodeError(`${op} is not supported (supported: ${SUPPORTED_OPS.join(', ')}; see docs/lrp-spec.md)`);
    }
  }

  // ---- linear layers ----

  private conv(node: INode, inputs: string[]): void {
    const x = this.computed(inputs, 0);
    const kernel = this.param(inputs, 1, 'kernel');
    const [c, h, w] = this.shape(x) as [number, number, number];
    if (kernel.shape.length !== 4) throw new NodeError(`kernel ${inputs[1]} has rank ${kernel.shape.length}; only 2-D convolutions are supported`);
    const [m, cPerGroup, kh, kw] = kernel.shape as [number, number, number, number];
    const group = intAttribute(node, 'group', 1);
    if (!Number.isSafeInteger(group) || group < 1 || c % group !== 0 || m % group !== 0) {
      throw new NodeError(`group=${group} does not divide its ${c} input and ${m} output channels`);
    }
    if (cPerGroup !== c / group) throw new NodeError(`kernel ${inputs[1]} expects ${cPerGroup * group} input channels (group ${group}), its input has ${c}`);
    const declared = intsAttribute(node, 'kernel_shape');
    if (declared && declared.join() !== [kh, kw].join()) throw new NodeError(`kernel_shape [${declared}] differs from the kernel's ${kh}×${kw}`);
    const { strides, dilations, pads, out } = this.window(node, [kh, kw], [h, w], false);
    const bias = inputs[2] ? this.param(inputs, 2, 'bias') : undefined;
    if (bias && (bias.shape.length !== 1 || bias.shape[0] !== m)) throw new NodeError(`bias ${inputs[2]} has shape [${bias.shape}], expected [${m}]`);
    this.emit(node, 'Conv', [x, inputs[1]!, ...(bias ? [inputs[2]!] : [])], { kernel_shape: [kh, kw], strides, pads, dilations, group }, [m, ...out]);
  }

  private gemm(node: INode, inputs: string[]): void {
    if (intAttribute(node, 'transA', 0) !== 0) throw new NodeError('transA=1: the computed operand must be the rows (batch, features)');
    const x = this.computed(inputs, 0);
    const features = this.vector(x);
    const b = this.param(inputs, 1, 'weight');
    if (b.shape.length !== 2) throw new NodeError(`weight ${inputs[1]} has rank ${b.shape.length}, expected 2`);
    const transB = intAttribute(node, 'transB', 0) === 1;
    const [rows, cols] = b.shape as [number, number];
    const [inUnits, units] = transB ? [cols, rows] : [rows, cols];
    if (inUnits !== features) throw new NodeError(`weight ${inputs[1]} takes ${inUnits} features, its input has ${features}`);
    const alpha = floatAttribute(node, 'alpha', 1);
    const beta = floatAttribute(node, 'beta', 1);
    let weight = inputs[1]!;
    if (transB || alpha !== 1) {
      const data = new Float32Array(inUnits * units);
      for (let i = 0; i < inUnits; i++) for (let j = 0; j < units; j++) data[i * units + j] = alpha * b.data[transB ? j * inUnits + i : i * units + j]!;
      weight = this.newParam(`${inputs[1]}:in_out`, data, [inUnits, units]);
    }
    const extra: string[] = [];
    if (inputs[2]) {
      const c = this.param(inputs, 2, 'bias');
      const count = c.data.length;
      if (!(count === units || count === 1) || c.shape.some((d, i) => d !== 1 && i !== c.shape.length - 1)) throw new NodeError(`bias ${inputs[2]} has shape [${c.shape}], expected [${units}]`);
      const data = Float32Array.from({ length: units }, (_, j) => beta * c.data[count === 1 ? 0 : j]!);
      extra.push(count === units && beta === 1 && c.shape.length === 1 ? inputs[2]! : this.newParam(`${inputs[2]}:bias`, data, [units]));
    }
    this.emit(node, 'Gemm', [x, weight, ...extra], {}, [units]);
  }

  private matMul(node: INode, inputs: string[]): void {
    if (!this.shapes.has(inputs[0]!)) throw new NodeError('multiplies a constant by a computed tensor; only x · W with a constant W is supported');
    const x = this.computed(inputs, 0);
    const features = this.vector(x);
    const b = this.param(inputs, 1, 'weight');
    if (b.shape.length !== 2 || b.shape[0] !== features) throw new NodeError(`weight ${inputs[1]} has shape [${b.shape}], expected [${features}, units]`);
    this.emit(node, 'Gemm', [x, inputs[1]!], {}, [b.shape[1]!]);
  }

  // ---- normalisation and activations ----

  private batchNorm(node: INode, inputs: string[]): void {
    if (intAttribute(node, 'training_mode', 0) !== 0) throw new NodeError('training_mode=1: export the model in eval mode');
    const x = this.computed(inputs, 0);
    const c = this.shape(x)[0]!;
    ['scale', 'bias', 'mean', 'variance'].forEach((what, k) => {
      const p = this.param(inputs, k + 1, what);
      if (p.data.length !== c) throw new NodeError(`${what} ${inputs[k + 1]} has ${p.data.length} values for ${c} channels`);
      if (what === 'variance' && p.data.some((v) => v < 0)) throw new NodeError(`variance ${inputs[k + 1]} has a negative value`);
    });
    for (let k = 1; k < node.output.length; k++) this.drop(node, k, 'a BatchNormalization training output');
    this.emit(node, 'BatchNormalization', inputs.slice(0, 5), { epsilon: { float: floatAttribute(node, 'epsilon', 1e-5) } }, this.shape(x));
  }

  private clip(node: INode, inputs: string[]): void {
    const x = this.computed(inputs, 0);
    const bound = (index: number, attr: string, fallback: number) => {
      if (this.opset < 11) return attribute(node, attr) ? floatAttribute(node, attr, fallback) : fallback;
      if (!inputs[index]) return fallback;
      const c = this.constants.get(inputs[index]!);
      if (!c || c.values.length !== 1) throw new NodeError(`its ${attr} bound must be a constant scalar`);
      return c.values[0]!;
    };
    const min = bound(1, 'min', -FLOAT_MAX);
    const max = bound(2, 'max', FLOAT_MAX);
    if (!(min <= max)) throw new NodeError(`min ${min} is above max ${max}`);
    this.emit(node, 'Clip', [x], { min: { float: min }, max: { float: max } }, this.shape(x));
  }

  // ---- pools ----

  private pool(node: INode, op: string, inputs: string[]): void {
    const x = this.computed(inputs, 0);
    const [c, h, w] = this.spatial(x);
    const kernel = intsAttribute(node, 'kernel_shape');
    if (!kernel || kernel.length !== 2) throw new NodeError(`kernel_shape [${kernel ?? ''}]: only 2-D pools are supported`);
    const ceil = intAttribute(node, 'ceil_mode', 0) === 1;
    const { strides, dilations, pads, out } = this.window(node, kernel as [number, number], [h, w], ceil);
    if (op === 'AveragePool' && dilations.some((d) => d !== 1)) throw new NodeError(`dilations [${dilations}] on an average pool are not supported`);
    kernel.forEach((k, i) => {
      const span = (k - 1) * dilations[i]! + 1;
      if (pads[i]! >= span || pads[i + 2]! >= span) throw new NodeError(`pads [${pads}] must be smaller than the ${kernel.join('×')} window`);
    });
    for (let k = 1; k < node.output.length; k++) this.drop(node, k, 'the indices output of a MaxPool');
    const attributes: Record<string, AttributeValue> = { kernel_shape: kernel, strides, pads, ceil_mode: ceil ? 1 : 0 };
    if (op === 'MaxPool') attributes.dilations = dilations;
    else attributes.count_include_pad = intAttribute(node, 'count_include_pad', 0);
    this.emit(node, op, [x], attributes, [c, ...out]);
  }

  private reduce(node: INode, op: string, inputs: string[]): void {
    const x = this.computed(inputs, 0);
    const rank = this.shape(x).length + 1;
    const axes = this.opset >= 18 ? (inputs[1] ? this.intConstant(inputs[1], 'axes') : undefined) : intsAttribute(node, 'axes');
    const normalised = (axes ?? []).map((a) => (a < 0 ? a + rank : a)).sort();
    if (rank !== 4 || normalised.join() !== '2,3') throw new NodeError(`reduces over axes [${axes ?? 'all'}]; only the spatial axes of a feature map (a global pool) are supported`);
    const keepdims = intAttribute(node, 'keepdims', 1);
    this.emit(node, op === 'ReduceMean' ? 'GlobalAveragePool' : 'GlobalMaxPool', [x], { keepdims }, this.globalShape(x, keepdims === 1));
  }

  // ---- elementwise arithmetic ----

  private elementwise(node: INode, op: string, inputs: string[]): void {
    const computed = inputs.filter((i) => this.shapes.has(i));
    const shape = this.shape(computed[0]!);
    if (computed.length === inputs.length) {
      if ((op === 'Add' || op === 'Sum') && computed.every((i) => this.shape(i).join() === shape.join())) {
        this.emit(node, computed.length === 2 ? 'Add' : 'Sum', computed, {}, shape);
        return;
      }
      if (op === 'Add' || op === 'Sum') throw new NodeError(`adds tensors of shapes ${computed.map((i) => `[${this.shape(i)}]`).join(' and ')}; only additions of equal shapes are supported`);
      if (op === 'Mul' && computed.length === 2) return this.gate(node, computed);
      throw new NodeError(`${op === 'Mul' ? 'multiplies' : op === 'Sub' ? 'subtracts' : 'divides'} two computed tensors; only gates (Mul by a Sigmoid/HardSigmoid of the network) are supported`);
    }
    if (op === 'Sum' || inputs.length !== 2) throw new NodeError(`${op} of ${inputs.length} inputs with constants is not supported`);
    const constantFirst = !this.shapes.has(inputs[0]!);
    if (constantFirst && (op === 'Sub' || op === 'Div')) throw new NodeError(`${op === 'Sub' ? 'subtracts the computed tensor from' : 'divides'} a constant; only x − c and x / c are supported`);
    const [x, c] = constantFirst ? [inputs[1]!, inputs[0]!] : [inputs[0]!, inputs[1]!];
    const value = this.constants.get(c)!;
    // Per-example broadcast shape: a leading batch axis of 1 is dropped.
    let dims = [...value.dims];
    if (dims.length === shape.length + 1) {
      if (dims[0] !== 1) throw new NodeError(`constant ${c} of shape [${value.dims}] varies along the batch axis`);
      dims = dims.slice(1);
    }
    if (dims.length > shape.length || dims.some((d, i) => d !== 1 && d !== shape[shape.length - dims.length + i])) {
      throw new NodeError(`constant ${c} of shape [${value.dims}] does not broadcast to [${shape}] without changing it`);
    }
    const data = value.kind === 'float' ? (value.values as Float32Array) : Float32Array.from(value.values);
    if (op === 'Div' && data.some((v) => v === 0)) throw new NodeError(`divides by constant ${c}, which holds a zero`);
    const name = this.newParam(c, data, dims);
    this.emit(node, op, [x, name], {}, shape);
  }

  /** Mul(x, g) with g a Sigmoid/HardSigmoid output (squeeze-and-excitation, SiLU): relevance goes to x. */
  private gate(node: INode, inputs: string[]): void {
    const isGate = (t: string) => this.producerOp.get(t) === 'Sigmoid' || this.producerOp.get(t) === 'HardSigmoid';
    const [a, b] = inputs as [string, string];
    const [x, g] = isGate(b) && this.broadcastsTo(b, a) ? [a, b] : isGate(a) && this.broadcastsTo(a, b) ? [b, a] : [];
    if (!x || !g) throw new NodeError(`multiplies two computed tensors ([${this.shape(a)}] and [${this.shape(b)}]) neither of which is a Sigmoid/HardSigmoid gate broadcast over the other`);
    this.emit(node, 'Mul', [x, g], {}, this.shape(x));
  }

  private broadcastsTo(g: string, x: string): boolean {
    const gs = this.shape(g);
    const xs = this.shape(x);
    return gs.length === xs.length && gs.every((d, i) => d === 1 || d === xs[i]);
  }

  // ---- routing ----

  private concat(node: INode, inputs: string[]): void {
    const constant = inputs.find((i) => i && !this.shapes.has(i));
    if (constant) throw new NodeError(`concatenates the constant ${constant} with computed tensors; not supported`);
    const shapes = inputs.map((i) => this.shape(i));
    const rank = shapes[0]!.length + 1;
    const axis = this.axis(intAttribute(node, 'axis', 1), rank);
    const out = [...shapes[0]!];
    for (const s of shapes.slice(1)) {
      if (s.length !== out.length || s.some((d, i) => i !== axis - 1 && d !== out[i])) throw new NodeError(`concatenates shapes ${shapes.map((x) => `[${x}]`).join(', ')} along axis ${axis}`);
      out[axis - 1]! += s[axis - 1]!;
    }
    this.emit(node, 'Concat', inputs, { axis }, out);
  }

  private split(node: INode, inputs: string[]): void {
    const x = this.computed(inputs, 0);
    const shape = this.shape(x);
    const axis = this.axis(intAttribute(node, 'axis', 0), shape.length + 1);
    const n = shape[axis - 1]!;
    const count = node.output.length;
    let sizes = this.opset >= 13 ? (inputs[1] ? this.intConstant(inputs[1], 'split') : undefined) : intsAttribute(node, 'split');
    if (!sizes) {
      const chunk = Math.ceil(n / count);
      sizes = Array.from({ length: count }, (_, k) => Math.max(0, Math.min(chunk, n - k * chunk)));
    }
    if (sizes.length !== count || sizes.some((s) => !Number.isSafeInteger(s) || s < 1) || sizes.reduce((a, b) => a + b, 0) !== n) {
      throw new NodeError(`split sizes [${sizes}] do not divide the ${n} positions of axis ${axis} into ${count} parts`);
    }
    const shapes = sizes.map((s) => shape.map((d, i) => (i === axis - 1 ? s : d)));
    this.emitMulti(node, 'Split', [x], { axis, split: sizes }, shapes);
  }

  private slice(node: INode, inputs: string[]): void {
    const x = this.computed(inputs, 0);
    const shape = this.shape(x);
    const rank = shape.length + 1;
    const operand = (index: number, name: string) => (this.opset >= 10 ? (inputs[index] ? this.intConstant(inputs[index]!, name) : undefined) : intsAttribute(node, name));
    const starts = operand(1, 'starts') ?? [];
    const ends = operand(2, 'ends') ?? [];
    const axes = operand(3, 'axes') ?? starts.map((_, i) => i);
    const steps = (this.opset >= 10 ? operand(4, 'steps') : undefined) ?? starts.map(() => 1);
    if (starts.length !== ends.length || axes.length !== starts.length || steps.length !== starts.length) throw new NodeError('starts, ends, axes and steps differ in length');
    const out = [...shape];
    const canonical = { starts: [] as number[], ends: [] as number[], axes: [] as number[], steps: [] as number[] };
    axes.forEach((a, k) => {
      const axis = a < 0 ? a + rank : a;
      if (!Number.isInteger(axis) || axis < 0 || axis >= rank) throw new NodeError(`axis ${a} is outside a rank-${rank} tensor`);
      if (axis === 0) {
        if (!(starts[k] === 0 && steps[k] === 1 && ends[k]! >= (this.batch === 'dynamic' ? 2 ** 31 - 1 : this.batch))) throw new NodeError('slices the batch axis');
        return;
      }
      const n = shape[axis - 1]!;
      const range = sliceRange(n, starts[k]!, ends[k]!, steps[k]!);
      if (range.count === 0) throw new NodeError(`selects nothing along axis ${axis}`);
      const end = range.start + range.count * range.step;
      canonical.starts.push(range.start);
      canonical.ends.push(end < 0 ? -(n + 1) : end);
      canonical.axes.push(axis);
      canonical.steps.push(range.step);
      out[axis - 1] = range.count;
    });
    if (canonical.axes.length === 0) return this.aliasOf(node, x);
    this.emit(node, 'Slice', [x], canonical, out);
  }

  private pad(node: INode, inputs: string[]): void {
    const x = this.computed(inputs, 0);
    const shape = this.shape(x);
    const rank = shape.length + 1;
    const mode = stringAttribute(node, 'mode', 'constant');
    if (mode !== 'constant') throw new NodeError(`mode "${mode}": only zero padding (mode constant, value 0) is supported`);
    let pads: number[];
    let value = 0;
    if (this.opset < 11) {
      pads = intsAttribute(node, 'pads') ?? [];
      value = floatAttribute(node, 'value', 0);
    } else {
      pads = this.intConstant(inputs[1] ?? '', 'pads');
      if (inputs[2]) {
        const v = this.constants.get(inputs[2]);
        if (!v) throw new NodeError('its constant value must be a constant');
        value = v.values[0] ?? 0;
      }
      if (inputs[3]) {
        const axes = this.intConstant(inputs[3], 'axes').map((a) => (a < 0 ? a + rank : a));
        const full = new Array<number>(2 * rank).fill(0);
        axes.forEach((a, k) => {
          full[a] = pads[k]!;
          full[a + rank] = pads[k + axes.length]!;
        });
        pads = full;
      }
    }
    if (value !== 0) throw new NodeError(`pads with the value ${value}; only zero padding is supported`);
    if (pads.length !== 2 * rank || pads.some((p) => !Number.isSafeInteger(p) || Math.abs(p) > MAX_WINDOW)) throw new NodeError(`pads [${pads}] are not ${2 * rank} integers within ±${MAX_WINDOW}`);
    if (pads[0] !== 0 || pads[rank] !== 0) throw new NodeError(`pads [${pads}] pad the batch axis`);
    const out = shape.map((d, i) => d + pads[i + 1]! + pads[i + 1 + rank]!);
    if (out.some((d) => d < 1)) throw new NodeError(`pads [${pads}] leave nothing of its [${shape}] input`);
    if (pads.every((p) => p === 0)) return this.aliasOf(node, x);
    this.emit(node, 'Pad', [x], { pads }, out);
  }

  private reshape(node: INode, op: string, inputs: string[]): void {
    const x = this.computed(inputs, 0);
    const shape = this.shape(x);
    const total = shape.reduce((a, b) => a * b, 1);
    const full = [this.batch === 'dynamic' ? NaN : this.batch, ...shape];
    let out: number[];
    switch (op) {
      case 'Flatten': {
        const axis = intAttribute(node, 'axis', 1);
        const a = axis < 0 ? axis + full.length : axis;
        if (a < 1 || shape.slice(0, a - 1).some((d) => d !== 1)) throw new NodeError(`axis=${axis} flattens across the batch axis`);
        out = [shape.slice(a - 1).reduce((p, d) => p * d, 1)];
        break;
      }
      case 'Squeeze':
      case 'Unsqueeze': {
        const axes = (this.opset >= 13 ? (inputs[1] ? this.intConstant(inputs[1], 'axes') : undefined) : intsAttribute(node, 'axes'));
        const rank = full.length + (op === 'Unsqueeze' ? (axes?.length ?? 0) : 0);
        const norm = (axes ?? full.flatMap((d, i) => (d === 1 && i > 0 ? [i] : []))).map((a) => (a < 0 ? a + rank : a));
        if (norm.some((a) => a <= 0 || a >= rank)) throw new NodeError(`axes [${axes}] touch the batch axis`);
        if (op === 'Squeeze') {
          if (norm.some((a) => full[a] !== 1)) throw new NodeError(`squeezes axes [${axes}] of a [${shape}] tensor that are not of size 1`);
          out = shape.filter((_, i) => !norm.includes(i + 1));
        } else {
          out = [...full];
          for (const a of [...norm].sort((p, q) => p - q)) out.splice(a, 0, 1);
          out = out.slice(1);
        }
        break;
      }
      default: {
        const target = this.constants.get(inputs[1] ?? '');
        if (!target) throw new NodeError('its target shape is computed from the data, not from shapes and constants');
        const allowZero = intAttribute(node, 'allowzero', 0) === 1;
        const t = Array.from(target.values, (d, i) => (d === 0 && !allowZero && i < full.length ? full[i]! : d));
        const batchFirst = Number.isNaN(t[0]) || t[0] === -1 || t[0] === 1 || (this.batch !== 'dynamic' && t[0] === this.batch);
        const rest = t.slice(1);
        if (!batchFirst || rest.some((d) => Number.isNaN(d))) throw new NodeError(`reshapes a (batch, ${shape.join(', ')}) tensor to [${Array.from(target.values, (d) => (Number.isNaN(d) ? 'batch' : d))}], across the batch axis`);
        const known = rest.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
        const inferred = rest.filter((d) => d === -1).length;
        if (inferred > 1 || rest.some((d) => d < -1) || (inferred === 1 ? total % known !== 0 : known !== total)) {
          throw new NodeError(`cannot reshape its [${shape}] example (${total} values) to [${rest}]`);
        }
        out = rest.map((d) => (d === -1 ? total / known : d));
      }
    }
    this.emit(node, 'Reshape', [x], { shape: out }, out);
  }

  private transpose(node: INode, inputs: string[]): void {
    const x = this.computed(inputs, 0);
    const shape = this.shape(x);
    const rank = shape.length + 1;
    const perm = intsAttribute(node, 'perm') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
    if (perm.length !== rank || [...perm].sort().join() !== Array.from({ length: rank }, (_, i) => i).join()) throw new NodeError(`perm [${perm}] is not a permutation of ${rank} axes`);
    if (perm[0] !== 0) throw new NodeError(`perm [${perm}] moves the batch axis`);
    this.emit(node, 'Transpose', [x], { perm }, perm.slice(1).map((p) => shape[p - 1]!));
  }

  // ---- helpers ----

  /** Validated window geometry (conv and pools): strides, dilations, ONNX pads and output size. */
  private window(node: INode, kernel: readonly [number, number] | readonly number[], size: readonly [number, number], ceil: boolean) {
    const check = (name: string, values: readonly number[], min: number) => {
      if (values.length !== 2 || values.some((v) => !Number.isSafeInteger(v) || v < min || v > MAX_WINDOW)) {
        throw new NodeError(`${name} [${values}] must be two integers in ${min}…${MAX_WINDOW}`);
      }
    };
    check('kernel_shape', kernel, 1);
    const strides = intsAttribute(node, 'strides') ?? [1, 1];
    check('strides', strides, 1);
    const dilations = intsAttribute(node, 'dilations') ?? [1, 1];
    check('dilations', dilations, 1);
    const autoPad = stringAttribute(node, 'auto_pad', 'NOTSET');
    let pads: number[];
    if (autoPad === 'NOTSET') {
      pads = intsAttribute(node, 'pads') ?? [0, 0, 0, 0];
      if (pads.length !== 4 || pads.some((p) => !Number.isSafeInteger(p) || p < 0 || p > MAX_WINDOW)) throw new NodeError(`pads [${pads}] must be four integers in 0…${MAX_WINDOW}`);
    } else if (autoPad === 'VALID') {
      pads = [0, 0, 0, 0];
    } else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      const begin: number[] = [];
      const end: number[] = [];
      [0, 1].forEach((i) => {
        const span = (kernel[i]! - 1) * dilations[i]! + 1;
        const total = Math.max((Math.ceil(size[i]! / strides[i]!) - 1) * strides[i]! + span - size[i]!, 0);
        const small = Math.floor(total / 2);
        begin.push(autoPad === 'SAME_UPPER' ? small : total - small);
        end.push(total - begin[i]!);
      });
      pads = [...begin, ...end];
    } else {
      throw new NodeError(`auto_pad "${autoPad}" is not an ONNX padding mode`);
    }
    const out = [0, 1].map((i) => windowOutputSize(size[i]!, kernel[i]!, strides[i]!, pads[i]!, pads[i + 2]!, dilations[i]!, ceil));
    if (out.some((o) => !(o >= 1))) throw new NodeError(`its ${kernel.join('×')} window (dilations [${dilations}], pads [${pads}]) does not fit its ${size.join('×')} input`);
    return { strides, dilations, pads, out };
  }

  private emit(node: INode, op: string, inputs: string[], attributes: Record<string, AttributeValue>, shape: number[]): void {
    this.emitMulti(node, op, inputs, attributes, [shape]);
  }

  private emitMulti(node: INode, op: string, inputs: string[], attributes: Record<string, AttributeValue>, shapes: number[][]): void {
    for (const shape of shapes) {
      if (shape.some((d) => !Number.isSafeInteger(d) || d < 1) || shape.reduce((a, b) => a * b, 1) > MAX_ELEMENTS) {
        throw new NodeError(`its output shape [${shape}] is not a valid tensor shape`);
      }
    }
    let name = node.name || `${op}_${this.nodes.length}`;
    for (let i = 2; this.nodeNames.has(name); i++) name = `${node.name || op}_${i}`;
    this.nodeNames.add(name);
    const outputs = node.output.slice(0, shapes.length);
    this.nodes.push({ name, op, inputs, outputs, attributes });
    outputs.forEach((o, k) => {
      this.shapes.set(o, shapes[k]!);
      this.producerOp.set(o, op);
    });
  }

  private aliasOf(node: INode, input: string): void {
    this.alias.set(node.output[0]!, input);
  }

  private drop(node: INode, index: number, what: string): void {
    const out = node.output[index];
    if (out) this.dropped.set(out, `${what}, which is not computed`);
  }

  private resolve(name: string): string {
    let n = name;
    for (let next = this.alias.get(n); next !== undefined; next = this.alias.get(n)) n = next;
    return n;
  }

  private computed(inputs: string[], index: number): string {
    const name = inputs[index];
    if (!name || !this.shapes.has(name)) throw new NodeError(`input ${index} (${name || 'missing'}) must be computed from the image, not a constant`);
    return name;
  }

  private shape(tensor: string): number[] {
    const s = this.shapes.get(tensor);
    if (!s) throw new NodeError(`${tensor} is not a computed tensor`);
    return s;
  }

  private spatial(tensor: string): [number, number, number] {
    const s = this.shape(tensor);
    if (s.length !== 3) throw new NodeError(`its input ${tensor} has shape [${s}] per example; expected a feature map (C, H, W)`);
    return s as [number, number, number];
  }

  private globalShape(tensor: string, keepdims: boolean): number[] {
    const [c] = this.spatial(tensor);
    return keepdims ? [c, 1, 1] : [c];
  }

  /** The feature count of a (batch, features) operand; (C, 1, 1) maps are refused with a hint. */
  private vector(tensor: string): number {
    const s = this.shape(tensor);
    if (s.length !== 1) throw new NodeError(`its input ${tensor} has shape [${s}] per example; expected (features): flatten first`);
    return s[0]!;
  }

  private axis(axis: number, rank: number): number {
    const a = axis < 0 ? axis + rank : axis;
    if (!Number.isInteger(a) || a < 0 || a >= rank) throw new NodeError(`axis ${axis} is outside a rank-${rank} tensor`);
    if (a === 0) throw new NodeError('operates along the batch axis');
    return a;
  }

  private intConstant(name: string, what: string): number[] {
    const c = this.constants.get(name);
    if (!c) throw new NodeError(`its ${what} (${name || 'missing'}) must be constant`);
    // int64 extremes (INT64_MAX as "to the end") do not fit a double exactly: any value past 2^53 means as much.
    const values = Array.from(c.values, (v) => (Math.abs(v) > Number.MAX_SAFE_INTEGER ? Math.sign(v) * Number.MAX_SAFE_INTEGER : v));
    if (values.some((v) => !Number.isSafeInteger(v))) throw new NodeError(`its ${what} [${values}] are not integers`);
    return values;
  }

  /** A constant input as a float parameter (registered as a weight under its own name). */
  private param(inputs: string[], index: number, what: string): ParamTensor {
    const name = inputs[index];
    const c = name ? this.constants.get(name) : undefined;
    if (!c) throw new NodeError(`its ${what} (${name || 'missing'}) must be a constant (an initializer), not computed in the graph`);
    const existing = this.weights.get(name!);
    if (existing) return existing;
    const data = c.kind === 'float' ? (c.values as Float32Array) : Float32Array.from(c.values);
    const index2 = data.findIndex((v) => !Number.isFinite(v));
    if (index2 >= 0) throw new NodeError(`its ${what} ${name} holds ${data[index2]} at index ${index2} of ${data.length}: weights must be finite`);
    const p = { data, shape: c.dims };
    this.weights.set(name!, p);
    return p;
  }

  /** Registers a derived parameter under a fresh name. */
  private newParam(base: string, data: Float32Array, shape: readonly number[]): string {
    const index = data.findIndex((v) => !Number.isFinite(v));
    if (index >= 0) throw new NodeError(`constant ${base} holds ${data[index]} at index ${index}: weights must be finite`);
    let name = base;
    for (let i = 2; this.weights.has(name) || this.shapes.has(name); i++) name = `${base}_${i}`;
    this.weights.set(name, { data, shape });
    return name;
  }

  private constantNode(node: INode): Constant {
    const a = node.attribute[0];
    if (!a) throw this.error('a Constant node without a value', node);
    switch (a.name) {
      case 'value':
        try {
          return readTensor(a.t ?? {});
        } catch (error) {
          throw this.error(`its value ${(error as Error).message}`, node);
        }
      case 'value_float':
        return { dims: [], values: Float32Array.of(Number(a.f ?? 0)), kind: 'float' };
      case 'value_floats':
        return { dims: [a.floats?.length ?? 0], values: Float32Array.from(a.floats ?? []), kind: 'float' };
      case 'value_int':
        return { dims: [], values: [toNumber(a.i)], kind: 'int' };
      case 'value_ints':
        return { dims: [a.ints?.length ?? 0], values: (a.ints ?? []).map(toNumber), kind: 'int' };
      default:
        throw this.error(`a Constant with a ${a.name} value is not supported`, node);
    }
  }

  private error(message: string, node?: INode): OnnxImportError {
    const where = node ? ` node ${node.name || '(unnamed)'} (${node.opType})` : '';
    return new OnnxImportError(`${this.source}:${where}${where ? ':' : ''} ${message}`);
  }
}
