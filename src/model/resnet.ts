/**
 * ResNet builders. One generic builder covers the Keras layout (stride on the first 1×1,
 * biased convs) and the torchvision layout (stride on the 3×3, no conv bias), with
 * bottleneck or basic blocks; the named presets below are the architectures users ask for.
 */
import { layerOutputShape, type Layer, type LayerWithoutShape, type LayerGraph, type Shape } from './layers.js';
import { CAFFE_INPUT, type InputDescription } from './input.js';

/** Keras' BatchNormalization epsilon in `keras.applications.resnet`. */
export const KERAS_BN_EPSILON = 1.001e-5;
/** torchvision's BatchNorm2d default epsilon. */
export const TORCH_BN_EPSILON = 1e-5;

export interface ResNetSpec {
  /** Architecture name, e.g. `resnet50`. */
  name: string;
  /** Blocks per stage (4 stages), e.g. `[3, 4, 6, 3]` for ResNet50. */
  stageBlocks: readonly number[];
  /** `bottleneck` (1×1, 3×3, 1×1 with 4× expansion) or `basic` (two 3×3). */
  block: 'bottleneck' | 'basic';
  /** Width of the stem and of the first stage; stage k has `baseWidth · 2^k` filters. */
  baseWidth: number;
  classes: number;
  /** Square input size in pixels. */
  inputSize: number;
  /** Which conv of a bottleneck carries the stage stride: Keras `first` (1×1), torchvision `middle` (3×3). */
  strideOn: 'first' | 'middle';
  /** Whether convolutions have a bias (Keras: yes, torchvision: no). */
  convBias: boolean;
  bnEpsilon: number;
  /** How images become the input; default: Keras caffe preprocessing at `inputSize`. */
  input?: InputDescription;
}

/** The Keras `ResNet50` / `ResNet101` / `ResNet152` layout with a configurable width. */
export function kerasResNetSpec(
  depth: 50 | 101 | 152,
  options: { baseWidth?: number; classes?: number; inputSize?: number } = {},
): ResNetSpec {
  const stageBlocks = { 50: [3, 4, 6, 3], 101: [3, 4, 23, 3], 152: [3, 8, 36, 3] }[depth];
  return {
    name: `resnet${depth}`,
    stageBlocks,
    block: 'bottleneck',
    baseWidth: options.baseWidth ?? 64,
    classes: options.classes ?? 1000,
    inputSize: options.inputSize ?? 224,
    strideOn: 'first',
    convBias: true,
    bnEpsilon: KERAS_BN_EPSILON,
  };
}

/** Builds the Keras-named layer graph for a ResNet spec. */
export function buildResNet(spec: ResNetSpec): LayerGraph {
  const b = new GraphBuilder(spec.name, spec.input ?? { ...CAFFE_INPUT, size: spec.inputSize });
  const s = spec.inputSize;
  let x = b.input('input_1', [3, s, s]);
  x = b.add({ kind: 'zeroPad', name: 'conv1_pad', inputs: [x], pads: [3, 3, 3, 3] });
  x = b.conv('conv1_conv', x, spec.baseWidth, 7, 2, 0, spec.convBias);
  x = b.add({ kind: 'batchNorm', name: 'conv1_bn', inputs: [x], epsilon: spec.bnEpsilon });
  x = b.add({ kind: 'relu', name: 'conv1_relu', inputs: [x] });
  x = b.add({ kind: 'zeroPad', name: 'pool1_pad', inputs: [x], pads: [1, 1, 1, 1] });
  x = b.add({ kind: 'maxPool', name: 'pool1_pool', inputs: [x], pool: [3, 3], strides: [2, 2], pads: [0, 0, 0, 0] });

  const expansion = spec.block === 'bottleneck' ? 4 : 1;
  spec.stageBlocks.forEach((blocks, stage) => {
    const filters = spec.baseWidth * 2 ** stage;
    for (let i = 1; i <= blocks; i++) {
      const stride = stage > 0 && i === 1 ? 2 : 1;
      const name = `conv${stage + 2}_block${i}`;
      const inChannels = b.shape(x)[0]!;
      const project = i === 1 && (stride !== 1 || inChannels !== filters * expansion);
      x = spec.block === 'bottleneck'
        ? bottleneckBlock(b, spec, name, x, filters, stride, project)
        : basicBlock(b, spec, name, x, filters, stride, project);
    }
  });

  x = b.add({ kind: 'globalAvgPool', name: 'avg_pool', inputs: [x] });
  b.add({ kind: 'dense', name: 'predictions', inputs: [x], units: spec.classes, activation: 'softmax' });
  return b.build('input_1', 'predictions');
}

/** Keras ResNet50 (the default model of this library). */
export function kerasResNet50(options: { baseWidth?: number; classes?: number; inputSize?: number } = {}): LayerGraph {
  return buildResNet(kerasResNetSpec(50, options));
}

function bottleneckBlock(
  b: GraphBuilder, spec: ResNetSpec, name: string, input: string,
  filters: number, stride: number, project: boolean,
): string {
  const shortcut = project ? b.convBn(`${name}_0`, input, filters * 4, 1, stride, 0, spec) : input;
  const [s1, s2] = spec.strideOn === 'first' ? [stride, 1] : [1, stride];
  let x = b.convBn(`${name}_1`, input, filters, 1, s1, 0, spec);
  x = b.add({ kind: 'relu', name: `${name}_1_relu`, inputs: [x], group: name });
  x = b.convBn(`${name}_2`, x, filters, 3, s2, 1, spec);
  x = b.add({ kind: 'relu', name: `${name}_2_relu`, inputs: [x], group: name });
  x = b.convBn(`${name}_3`, x, filters * 4, 1, 1, 0, spec);
  x = b.add({ kind: 'add', name: `${name}_add`, inputs: [shortcut, x], group: name });
  return b.add({ kind: 'relu', name: `${name}_out`, inputs: [x], group: name });
}

function basicBlock(
  b: GraphBuilder, spec: ResNetSpec, name: string, input: string,
  filters: number, stride: number, project: boolean,
): string {
  const shortcut = project ? b.convBn(`${name}_0`, input, filters, 1, stride, 0, spec) : input;
  let x = b.convBn(`${name}_1`, input, filters, 3, stride, 1, spec);
  x = b.add({ kind: 'relu', name: `${name}_1_relu`, inputs: [x], group: name });
  x = b.convBn(`${name}_2`, x, filters, 3, 1, 1, spec);
  x = b.add({ kind: 'add', name: `${name}_add`, inputs: [shortcut, x], group: name });
  return b.add({ kind: 'relu', name: `${name}_out`, inputs: [x], group: name });
}

/** Accumulates layers and computes their output shapes. */
class GraphBuilder {
  private readonly layers: Layer[] = [];
  private readonly shapes = new Map<string, Shape>();
  constructor(private readonly name: string, private readonly inputDescription: InputDescription) {}

  shape(layer: string): Shape {
    return this.shapes.get(layer)!;
  }

  input(name: string, shape: Shape): string {
    this.layers.push({ kind: 'input', name, inputs: [], outputShape: shape });
    this.shapes.set(name, shape);
    return name;
  }

  add(layer: LayerWithoutShape): string {
    const outputShape = layerOutputShape(layer, layer.inputs.map((i) => this.shape(i)));
    this.layers.push({ ...layer, outputShape } as Layer);
    this.shapes.set(layer.name, outputShape);
    return layer.name;
  }

  conv(name: string, input: string, filters: number, k: number, stride: number, pad: number, useBias: boolean, group?: string): string {
    return this.add({
      kind: 'conv', name, inputs: [input], filters, kernel: [k, k], strides: [stride, stride],
      pads: [pad, pad, pad, pad], useBias, ...(group ? { group } : {}),
    });
  }

  /** `<prefix>_conv` followed by `<prefix>_bn`, grouped with the block of the prefix. */
  convBn(prefix: string, input: string, filters: number, k: number, stride: number, pad: number, spec: ResNetSpec): string {
    const group = prefix.replace(/_\d+$/, '');
    const conv = this.conv(`${prefix}_conv`, input, filters, k, stride, pad, spec.convBias, group);
    return this.add({ kind: 'batchNorm', name: `${prefix}_bn`, inputs: [conv], epsilon: spec.bnEpsilon, group });
  }

  build(input: string, output: string): LayerGraph {
    return { name: this.name, layers: this.layers, input, output, inputDescription: this.inputDescription };
  }
}
