/**
 * A Keras-style layer list: the vocabulary of Keras model files (zero padding, conv, batch norm,
 * ReLU, max pool, add, global average pool, dense). The Keras ResNet builder produces it, the
 * `.h5` weight binder fills it, and `import/keras.ts` turns it into the model graph (ONNX
 * nodes) that everything else works on.
 *
 * Tensors are described in NCHW order without the batch dimension: `[channels, height, width]`
 * for feature maps, `[units]` for vectors.
 */

import type { InputDescription } from './input.js';

/** Shape of one example's tensor (no batch dimension). */
export type Shape = readonly number[];

interface LayerBase {
  /** Unique layer name; for Keras models the Keras layer name (e.g. `conv2_block1_1_conv`). */
  readonly name: string;
  /** Names of the layers whose outputs feed this one, in order. */
  readonly inputs: readonly string[];
  /** Output shape of this layer, computed by the builder. */
  readonly outputShape: Shape;
  /**
   * The unit this layer belongs to for the relevance trace (e.g. a residual block
   * `conv2_block1`). Layers without a group are traced on their own.
   */
  readonly group?: string;
}

export interface InputLayer extends LayerBase {
  readonly kind: 'input';
}

/** Zero padding: `[top, bottom, left, right]`. */
export interface ZeroPadLayer extends LayerBase {
  readonly kind: 'zeroPad';
  readonly pads: readonly [number, number, number, number];
}

/** 2-D convolution. `pads` are explicit `[top, bottom, left, right]` (Keras "same" resolved). */
export interface ConvLayer extends LayerBase {
  readonly kind: 'conv';
  readonly filters: number;
  readonly kernel: readonly [number, number];
  readonly strides: readonly [number, number];
  readonly pads: readonly [number, number, number, number];
  readonly useBias: boolean;
}

export interface BatchNormLayer extends LayerBase {
  readonly kind: 'batchNorm';
  readonly epsilon: number;
}

export interface ReluLayer extends LayerBase {
  readonly kind: 'relu';
}

/** Max pooling over `pool` windows with `strides` and explicit `pads` (no padding in Keras). */
export interface MaxPoolLayer extends LayerBase {
  readonly kind: 'maxPool';
  readonly pool: readonly [number, number];
  readonly strides: readonly [number, number];
  readonly pads: readonly [number, number, number, number];
}

/**
 * Elementwise sum of its inputs. In Keras residual blocks `inputs = [shortcut, main]`; the
 * relevance split rules treat all inputs alike, so the order carries no meaning for LRP.
 */
export interface AddLayer extends LayerBase {
  readonly kind: 'add';
}

export interface GlobalAvgPoolLayer extends LayerBase {
  readonly kind: 'globalAvgPool';
}

/** Fully connected layer; `activation` is applied after the logits (softmax for classifiers). */
export interface DenseLayer extends LayerBase {
  readonly kind: 'dense';
  readonly units: number;
  readonly activation: 'softmax' | 'linear';
}

export type Layer =
  | InputLayer
  | ZeroPadLayer
  | ConvLayer
  | BatchNormLayer
  | ReluLayer
  | MaxPoolLayer
  | AddLayer
  | GlobalAvgPoolLayer
  | DenseLayer;

export type LayerKind = Layer['kind'];

/** A float32 parameter array with its shape in the layout the weight file stores it. */
export interface ParamTensor {
  readonly data: Float32Array;
  readonly shape: readonly number[];
}

/**
 * Parameters of the layers that have them, in Keras layouts:
 * - conv: `kernel` (kh, kw, in, out), optional `bias` (out);
 * - batchNorm: `gamma`, `beta`, `movingMean`, `movingVariance` (channels);
 * - dense: `kernel` (in, out), `bias` (out).
 */
export type LayerParams = Readonly<Record<string, ParamTensor>>;

/** A network: layers in topological order (inputs before their consumers) plus metadata. */
export interface LayerGraph {
  /** Architecture name, e.g. `resnet50`. */
  readonly name: string;
  readonly layers: readonly Layer[];
  /** Name of the input layer and of the layer whose output is the logits. */
  readonly input: string;
  readonly output: string;
  /**
   * How images become the input tensor (layout, channel order, normalisation, size). The
   * compiled graph takes its input in this layout, the z_b bounds and "black" derive from it,
   * and the image loader preprocesses with it. The input layer's shape is always (C, H, W).
   */
  readonly inputDescription: InputDescription;
}

/** Layer kinds that carry parameters, with the parameter names each expects. */
export const PARAM_NAMES: Readonly<Partial<Record<LayerKind, readonly string[]>>> = {
  conv: ['kernel', 'bias'],
  batchNorm: ['gamma', 'beta', 'movingMean', 'movingVariance'],
  dense: ['kernel', 'bias'],
};

/**
 * The parameter shapes a layer expects, in Keras layout, derived from the graph.
 * Returns an empty object for layers without parameters.
 */
export function expectedParamShapes(graph: LayerGraph, layer: Layer): Record<string, number[]> {
  const inShape = layer.inputs.length > 0 ? layerByName(graph, layer.inputs[0]!).outputShape : [];
  switch (layer.kind) {
    case 'conv': {
      const shapes: Record<string, number[]> = {
        kernel: [layer.kernel[0], layer.kernel[1], inShape[0]!, layer.filters],
      };
      if (layer.useBias) shapes.bias = [layer.filters];
      return shapes;
    }
    case 'batchNorm': {
      const c = inShape[0]!;
      return { gamma: [c], beta: [c], movingMean: [c], movingVariance: [c] };
    }
    case 'dense':
      return { kernel: [inShape[0]!, layer.units], bias: [layer.units] };
    default:
      return {};
  }
}

/** Output length of a windowed op (conv, pool) along one axis: ⌊(size + pads − k) / stride⌋ + 1. */
export function windowOutputSize(size: number, k: number, stride: number, padBefore: number, padAfter: number): number {
  return Math.floor((size + padBefore + padAfter - k) / stride) + 1;
}

/** Finds a layer by name or throws an error that names it. */
export function layerByName(graph: LayerGraph, name: string): Layer {
  let index = layerIndexes.get(graph.layers);
  if (!index || index.size !== graph.layers.length) {
    index = new Map(graph.layers.map((l) => [l.name, l]));
    layerIndexes.set(graph.layers, index);
  }
  const layer = index.get(name);
  if (!layer) throw new Error(`model ${graph.name} has no layer named "${name}"`);
  return layer;
}

/** Name → layer of each layer list, built once (lookups per layer would be quadratic in deep graphs). */
const layerIndexes = new WeakMap<readonly Layer[], Map<string, Layer>>();

/** Map from layer name to the names of the layers that consume its output. */
export function consumers(graph: LayerGraph): Map<string, string[]> {
  const map = new Map<string, string[]>(graph.layers.map((l) => [l.name, []]));
  for (const layer of graph.layers) for (const input of layer.inputs) map.get(input)!.push(layer.name);
  return map;
}

/** A layer as a builder or importer writes it, before its output shape is known. */
export type LayerWithoutShape = Layer extends infer L ? (L extends Layer ? Omit<L, 'outputShape'> : never) : never;

/**
 * The output shape of a layer from the shapes of its inputs (no batch dimension).
 *
 * @throws Error naming the layer when the inputs of an addition differ in shape.
 */
export function layerOutputShape(layer: LayerWithoutShape, inputs: readonly Shape[]): Shape {
  const [c, h, w] = inputs[0] ?? [];
  switch (layer.kind) {
    case 'input':
      throw new Error(`layer ${layer.name}: an input layer has no inputs to derive its shape from`);
    case 'zeroPad':
      return [c!, h! + layer.pads[0] + layer.pads[1], w! + layer.pads[2] + layer.pads[3]];
    case 'conv':
      return [
        layer.filters,
        windowOutputSize(h!, layer.kernel[0], layer.strides[0], layer.pads[0], layer.pads[1]),
        windowOutputSize(w!, layer.kernel[1], layer.strides[1], layer.pads[2], layer.pads[3]),
      ];
    case 'maxPool':
      return [
        c!,
        windowOutputSize(h!, layer.pool[0], layer.strides[0], layer.pads[0], layer.pads[1]),
        windowOutputSize(w!, layer.pool[1], layer.strides[1], layer.pads[2], layer.pads[3]),
      ];
    case 'batchNorm':
    case 'relu':
      return inputs[0]!;
    case 'add': {
      const first = inputs[0]!;
      for (const other of inputs.slice(1)) {
        if (other.join() !== first.join()) {
          throw new Error(`layer ${layer.name}: cannot add shapes [${first}] and [${other}]`);
        }
      }
      return first;
    }
    case 'globalAvgPool':
      return [c!];
    case 'dense':
      return [layer.units];
  }
}
