/**
 * Emits the forward pass of a {@link ModelGraph} as ONNX ops (NCHW inside the graph): every
 * canonical node as the standard op it is, in the graph's precision (float64 through the
 * emulations of `conv.ts` where onnxruntime's CPU provider has no double kernel). onnxruntime's
 * optimizer fuses Conv+BN+ReLU, so the graph stays literal and the LRP pass can use the raw
 * kernels.
 */
import { floatAttr, GraphIndex, intAttr, intsAttr, type GraphNode, type ModelGraph, type ModelWeights } from '../graph/graph.js';
import { conv, type ConvGeometry } from './conv.js';
import type { OnnxGraphBuilder } from './graph-builder.js';

/** What the forward emission produced, for the relevance pass to build on. */
export interface ForwardGraph {
  /** Builder tensor of every graph tensor (computed ones and parameters). */
  readonly tensors: ReadonlyMap<string, string>;
}

/** The geometry of a canonical Conv, MaxPool or AveragePool node. */
export function windowGeometry(node: GraphNode): ConvGeometry {
  return {
    kernel: intsAttr(node, 'kernel_shape'),
    strides: intsAttr(node, 'strides', [1, 1]),
    pads: intsAttr(node, 'pads', [0, 0, 0, 0]),
    dilations: intsAttr(node, 'dilations', [1, 1]),
    groups: intAttr(node, 'group', 1),
  };
}

/**
 * End padding `[bottom, right]` that makes a window op's floor-divided output size the node's own
 * (a `ceil_mode` pool's last window runs past the padded input: it reads zeros there).
 */
export function endPadsForOutput(geo: ConvGeometry, inShape: readonly number[], outShape: readonly number[]): [number, number] {
  const [, h, w] = inShape as [number, number, number];
  const [, oh, ow] = outShape as [number, number, number];
  const [kh, kw] = geo.kernel as [number, number];
  const [sh, sw] = geo.strides as [number, number];
  const [dh, dw] = (geo.dilations ?? [1, 1]) as [number, number];
  const [pt, pl, pb, pr] = geo.pads as [number, number, number, number];
  return [Math.max(pb, (oh - 1) * sh + (kh - 1) * dh + 1 - h - pt), Math.max(pr, (ow - 1) * sw + (kw - 1) * dw + 1 - w - pl)];
}

/**
 * Emits the forward ops for `graph`, reading the NCHW input tensor `input`. Parameters become
 * initializers on first use.
 */
export function emitForward(g: OnnxGraphBuilder, graph: ModelGraph, weights: ModelWeights, input: string): ForwardGraph {
  const tensors = new Map<string, string>([[graph.input, input]]);
  const index = new GraphIndex(graph);
  const tensor = (name: string): string => {
    const t = tensors.get(name);
    if (t !== undefined) return t;
    const p = weights.get(name);
    if (!p) throw new Error(`model ${graph.name}: no weights for ${name}`);
    const initializer = g.floatTensor(name, p.data, p.shape);
    tensors.set(name, initializer);
    return initializer;
  };
  for (const node of graph.nodes) {
    const outputs = emitNode(g, node, node.inputs.map((i) => (i ? tensor(i) : '')), (t) => index.shape(t));
    node.outputs.forEach((o, k) => tensors.set(o, outputs[k]!));
  }
  return { tensors };
}

/**
 * One canonical node as ONNX ops on builder tensors `x` (the node's inputs, mapped); returns
 * its outputs. `shapeOf` gives per-example shapes of the node's graph tensors.
 */
export function emitNode(g: OnnxGraphBuilder, node: GraphNode, x: readonly string[], shapeOf: (tensor: string) => readonly number[], outName = node.outputs[0]!): string[] {
  const f64 = g.precision === 'float64';
  const one = (op: string, inputs: readonly string[], attributes: Parameters<OnnxGraphBuilder['op']>[3] = {}) => [g.op(op, inputs, outName, attributes)];
  switch (node.op) {
    case 'Conv':
      return [conv(g, x[0]!, x[1]!, windowGeometry(node), shapeOf(node.inputs[0]!), outName, x[2])];
    case 'Gemm':
      return x.length === 3 ? one('Gemm', x) : one('MatMul', x);
    case 'BatchNormalization':
      return one('BatchNormalization', x, { epsilon: { float: floatAttr(node, 'epsilon') } });
    case 'Relu':
    case 'Tanh':
      return one(node.op, x);
    case 'Sigmoid':
      // In float64 as 1/(1 + e^−x): onnxruntime fuses x·Sigmoid(x) into a float-only kernel.
      return f64 ? one('Reciprocal', [g.op('Add', [g.scalar(1), g.op('Exp', [g.op('Neg', x, `${outName}/neg`)], `${outName}/exp`)], `${outName}/denominator`)]) : one('Sigmoid', x);
    case 'LeakyRelu': {
      const alpha = floatAttr(node, 'alpha');
      if (!f64) return one('LeakyRelu', x, { alpha: { float: alpha } });
      return one('Where', [g.op('Greater', [x[0]!, g.scalar(0)], `${outName}/positive`), x[0]!, g.op('Mul', [x[0]!, g.scalar(alpha)], `${outName}/leak`)]);
    }
    case 'HardSigmoid': {
      const alpha = floatAttr(node, 'alpha');
      const beta = floatAttr(node, 'beta');
      if (!f64) return one('HardSigmoid', x, { alpha: { float: alpha }, beta: { float: beta } });
      return one('Clip', [g.op('Add', [g.op('Mul', [x[0]!, g.scalar(alpha)], `${outName}/ax`), g.scalar(beta)], `${outName}/ax+b`), g.scalar(0), g.scalar(1)]);
    }
    case 'HardSwish': {
      if (!f64) return one('HardSwish', x);
      const gate = g.op('Clip', [g.op('Add', [g.op('Mul', [x[0]!, g.scalar(1 / 6)], `${outName}/x6`), g.scalar(0.5)], `${outName}/x6+h`), g.scalar(0), g.scalar(1)], `${outName}/gate`);
      return one('Mul', [x[0]!, gate]);
    }
    case 'Clip':
      return one('Clip', [x[0]!, g.scalar(floatAttr(node, 'min')), g.scalar(floatAttr(node, 'max'))]);
    case 'MaxPool':
      return one('MaxPool', x, {
        kernel_shape: intsAttr(node, 'kernel_shape'), strides: intsAttr(node, 'strides'), pads: intsAttr(node, 'pads'),
        dilations: intsAttr(node, 'dilations', [1, 1]), ceil_mode: intAttr(node, 'ceil_mode', 0),
      });
    case 'AveragePool':
      if (!f64) {
        return one('AveragePool', x, {
          kernel_shape: intsAttr(node, 'kernel_shape'), strides: intsAttr(node, 'strides'), pads: intsAttr(node, 'pads'),
          ceil_mode: intAttr(node, 'ceil_mode', 0), count_include_pad: intAttr(node, 'count_include_pad', 0),
        });
      }
      return [averagePoolByConv(g, node, x[0]!, shapeOf(node.inputs[0]!), shapeOf(node.outputs[0]!), outName)];
    case 'GlobalAveragePool':
      // ReduceMean rather than GlobalAveragePool: the latter has no float64 kernel.
      return one('ReduceMean', x, { axes: [2, 3], keepdims: intAttr(node, 'keepdims', 1) });
    case 'GlobalMaxPool':
      return one('ReduceMax', x, { axes: [2, 3], keepdims: intAttr(node, 'keepdims', 1) });
    case 'Add':
    case 'Sub':
    case 'Mul':
    case 'Div':
    case 'Sum':
      return one(node.op, x);
    case 'Concat':
      return one('Concat', x, { axis: intAttr(node, 'axis') });
    case 'Split':
      return [...g.opMulti('Split', [x[0]!, g.ints(intsAttr(node, 'split'))], node.outputs, { axis: intAttr(node, 'axis') })];
    case 'Slice':
      return one('Slice', [x[0]!, g.ints(intsAttr(node, 'starts')), g.ints(intsAttr(node, 'ends')), g.ints(intsAttr(node, 'axes')), g.ints(intsAttr(node, 'steps'))]);
    case 'Pad':
      return one('Pad', [x[0]!, g.ints(intsAttr(node, 'pads'))], { mode: 'constant' });
    case 'Reshape':
      return one('Reshape', [x[0]!, g.ints([-1, ...intsAttr(node, 'shape')])]);
    case 'Transpose':
      return one('Transpose', x, { perm: intsAttr(node, 'perm') });
    default:
      throw new Error(`node ${node.name}: ${node.op} has no forward emitter`);
  }
}

/**
 * How many positions each window of an AveragePool averages, (H', W'): those inside the input,
 * or inside the padded input with `count_include_pad` (onnxruntime's and PyTorch's divisor).
 */
export function averagePoolCounts(node: GraphNode, inShape: readonly number[], outShape: readonly number[]): Float32Array {
  const geo = windowGeometry(node);
  const [, h, w] = inShape as [number, number, number];
  const [, oh, ow] = outShape as [number, number, number];
  const [kh, kw] = geo.kernel as [number, number];
  const [sh, sw] = geo.strides as [number, number];
  const [pt, pl, pb, pr] = geo.pads as [number, number, number, number];
  const includePad = intAttr(node, 'count_include_pad', 0) === 1;
  const counts = new Float32Array(oh * ow);
  for (let i = 0; i < oh; i++) {
    for (let j = 0; j < ow; j++) {
      const [y0, x0] = [i * sh - pt, j * sw - pl];
      const [lowH, highH] = includePad ? [-pt, h + pb] : [0, h];
      const [lowW, highW] = includePad ? [-pl, w + pr] : [0, w];
      const rows = Math.min(y0 + kh, highH) - Math.max(y0, lowH);
      const cols = Math.min(x0 + kw, highW) - Math.max(x0, lowW);
      counts[i * ow + j] = Math.max(rows, 0) * Math.max(cols, 0);
    }
  }
  return counts;
}

/**
 * float64 AveragePool: window sums (a depthwise conv of ones, with the end padding a ceil_mode
 * window needs) divided by each window's count — positions inside the input, or inside the
 * padded input with `count_include_pad`.
 */
function averagePoolByConv(g: OnnxGraphBuilder, node: GraphNode, x: string, inShape: readonly number[], outShape: readonly number[], out: string): string {
  const geo = windowGeometry(node);
  const [c] = inShape as [number, number, number];
  const [, oh, ow] = outShape as [number, number, number];
  const [kh, kw] = geo.kernel as [number, number];
  const [pt, pl] = geo.pads as [number, number, number, number];
  const [endH, endW] = endPadsForOutput(geo, inShape, outShape);
  const ones = g.floatTensor(`${node.name}/ones`, new Float32Array(c * kh * kw).fill(1), [c, 1, kh, kw]);
  const sums = conv(g, x, ones, { ...geo, pads: [pt, pl, endH, endW], groups: c }, inShape, `${out}/sums`);
  const counts = averagePoolCounts(node, inShape, outShape);
  return g.op('Div', [sums, g.floatTensor(`${node.name}/counts`, counts, [oh, ow])], out);
}
