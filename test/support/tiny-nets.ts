/**
 * Tiny residual networks with every layer kind (zero padding, conv, batch norm, ReLU, max pool,
 * addition, global average pooling, dense), seeded parameters, and a runner for their compiled
 * explainer: small enough that the float64 reference in `reference-lrp.ts` is instant.
 */
import { compileExplainer } from '../../src/lrp/compiler.js';
import { layersToGraph } from '../../src/import/keras.js';
import { resolveLrpOptions, type LrpOptions } from '../../src/lrp/presets.js';
import type { Layer, LayerParams, LayerGraph } from '../../src/model/layers.js';
import { IO } from '../../src/onnx/classifier.js';
import type { Precision } from '../../src/onnx/graph-builder.js';
import { createSession, ort } from '../../src/runtime/session.js';
import type { LayerWeights } from '../../src/weights/types.js';
import { CAFFE_INPUT } from '../../src/model/input.js';

export const CHANNELS = 2;
export const SIZE = 8;
export const CLASSES = 3;
export const BOUNDS = { low: [-1.5, -2], high: [1.5, 2.5] };

/**
 * `keras`: zero-padding layers before the stem conv and the max pool (Keras' layout);
 * `torch`: the conv and pool pad themselves (torchvision's);
 * `pool-first`: like torch with the max pool before the stem ReLU, so the pool's windows have no
 * ties (for finite differences).
 */
export type Stem = 'keras' | 'torch' | 'pool-first';

/** A tiny ResNet; `channels` of input (3 for the attribution methods, which take colour images). */
export function tinyResNet(stem: Stem, channels = CHANNELS): LayerGraph {
  const F = 3;
  const layers: Layer[] = [{ kind: 'input', name: 'in', inputs: [], outputShape: [channels, SIZE, SIZE] }];
  const add = (layer: Omit<Layer, 'outputShape'> & { outputShape?: number[] }, shape: number[]) => layers.push({ ...layer, outputShape: shape } as Layer);
  const conv = (name: string, input: string, cout: number, k: number, pad: number, bias: boolean, size: number) =>
    add({ kind: 'conv', name, inputs: [input], filters: cout, kernel: [k, k], strides: [1, 1], pads: [pad, pad, pad, pad], useBias: bias } as never, [cout, size, size]);
  const pooled = SIZE / 2;
  if (stem === 'keras') {
    add({ kind: 'zeroPad', name: 'pad0', inputs: ['in'], pads: [1, 1, 1, 1] } as never, [channels, SIZE + 2, SIZE + 2]);
    conv('c1', 'pad0', F, 3, 0, true, SIZE);
  } else {
    conv('c1', 'in', F, 3, 1, stem === 'pool-first', SIZE);
  }
  add({ kind: 'batchNorm', name: 'bn1', inputs: ['c1'], epsilon: 1e-3 } as never, [F, SIZE, SIZE]);
  if (stem === 'pool-first') {
    add({ kind: 'maxPool', name: 'mp', inputs: ['bn1'], pool: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] } as never, [F, pooled, pooled]);
    add({ kind: 'relu', name: 'r1', inputs: ['mp'] }, [F, pooled, pooled]);
  } else {
    add({ kind: 'relu', name: 'r1', inputs: ['bn1'] }, [F, SIZE, SIZE]);
    if (stem === 'keras') {
      add({ kind: 'zeroPad', name: 'pad1', inputs: ['r1'], pads: [1, 1, 1, 1] } as never, [F, SIZE + 2, SIZE + 2]);
      add({ kind: 'maxPool', name: 'mp', inputs: ['pad1'], pool: [3, 3], strides: [2, 2], pads: [0, 0, 0, 0] } as never, [F, pooled, pooled]);
    } else {
      add({ kind: 'maxPool', name: 'mp', inputs: ['r1'], pool: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] } as never, [F, pooled, pooled]);
    }
  }
  const blockIn = stem === 'pool-first' ? 'r1' : 'mp';
  conv('c2', blockIn, F, 3, 1, true, pooled);
  add({ kind: 'batchNorm', name: 'bn2', inputs: ['c2'], epsilon: 1e-3 } as never, [F, pooled, pooled]);
  add({ kind: 'relu', name: 'r2', inputs: ['bn2'] }, [F, pooled, pooled]);
  conv('c3', 'r2', F, 1, 0, true, pooled);
  add({ kind: 'batchNorm', name: 'bn3', inputs: ['c3'], epsilon: 1e-3 } as never, [F, pooled, pooled]);
  add({ kind: 'add', name: 'add', inputs: [blockIn, 'bn3'] }, [F, pooled, pooled]);
  add({ kind: 'relu', name: 'r3', inputs: ['add'] }, [F, pooled, pooled]);
  add({ kind: 'globalAvgPool', name: 'gap', inputs: ['r3'] }, [F]);
  add({ kind: 'dense', name: 'fc', inputs: ['gap'], units: CLASSES, activation: 'softmax' } as never, [CLASSES]);
  return { name: `tiny-${stem}`, input: 'in', output: 'fc', layers, inputDescription: { ...CAFFE_INPUT, size: SIZE } };
}

export function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32 - 0.5;
  };
}

/** Seeded float32 parameters (Keras layouts); BN scales positive, shifts around zero. */
export function tinyWeights(graph: LayerGraph, seed: number): LayerWeights {
  const rand = random(seed);
  const values = (n: number, scale: number, offset = 0) => Float32Array.from({ length: n }, () => rand() * scale + offset);
  const weights = new Map<string, LayerParams>();
  const shape = (name: string) => graph.layers.find((l) => l.name === name)!.outputShape;
  for (const layer of graph.layers) {
    const cin = layer.inputs.length > 0 ? shape(layer.inputs[0]!)[0]! : 0;
    if (layer.kind === 'conv') {
      const [kh, kw] = layer.kernel;
      weights.set(layer.name, {
        kernel: { data: values(kh * kw * cin * layer.filters, 1.2), shape: [kh, kw, cin, layer.filters] },
        ...(layer.useBias ? { bias: { data: values(layer.filters, 0.4), shape: [layer.filters] } } : {}),
      });
    } else if (layer.kind === 'batchNorm') {
      weights.set(layer.name, {
        gamma: { data: values(cin, 0.8, 1), shape: [cin] },
        beta: { data: values(cin, 0.6), shape: [cin] },
        movingMean: { data: values(cin, 0.4), shape: [cin] },
        movingVariance: { data: values(cin, 0.8, 1), shape: [cin] },
      });
    } else if (layer.kind === 'dense') {
      weights.set(layer.name, {
        kernel: { data: values(cin * layer.units, 1.5), shape: [cin, layer.units] },
        bias: { data: values(layer.units, 0.4), shape: [layer.units] },
      });
    }
  }
  return weights;
}

/** An input (H, W, C) inside {@link BOUNDS}, as float32 values. */
export function tinyInput(seed: number): Float32Array {
  const rand = random(seed);
  return Float32Array.from({ length: SIZE * SIZE * CHANNELS }, (_, i) => {
    const c = i % CHANNELS;
    return Math.fround(BOUNDS.low[c]! + (rand() + 0.5) * (BOUNDS.high[c]! - BOUNDS.low[c]!));
  });
}

/** NHWC (one image) → CHW, as float64. */
export function toChw(nhwc: ArrayLike<number>, c: number, hw: number): Float64Array {
  const out = new Float64Array(c * hw);
  for (let i = 0; i < hw; i++) for (let ch = 0; ch < c; ch++) out[ch * hw + i] = nhwc[i * c + ch]!;
  return out;
}

export interface ExplainerRun {
  logits: Float32Array;
  /** Input relevance (C, H, W). */
  relevance: Float64Array;
  explained: number;
  start: number;
}

/** Compiles `graph` under `options` (with {@link BOUNDS}) and runs it on one image (H, W, C). */
export async function runExplainer(graph: LayerGraph, weights: LayerWeights, options: LrpOptions, precision: Precision, input: Float32Array, target: number): Promise<ExplainerRun> {
  return (await runExplainerBatch(graph, weights, options, precision, [input], [target]))[0]!;
}

/** Like {@link runExplainer} for a batch of images in one run, each with its own target. */
export async function runExplainerBatch(graph: LayerGraph, weights: LayerWeights, options: LrpOptions, precision: Precision, inputs: readonly Float32Array[], targets: readonly number[]): Promise<ExplainerRun[]> {
  const config = resolveLrpOptions({ inputBounds: BOUNDS, ...options });
  const [c, h, w] = graph.layers[0]!.outputShape as [number, number, number];
  const per = c * h * w;
  const batch = new Float32Array(inputs.length * per);
  inputs.forEach((x, i) => batch.set(x, i * per));
  const model = layersToGraph(graph, weights);
  const session = await createSession(compileExplainer(model.graph, model.weights, config, precision).model);
  try {
    const out = await session.run({
      [IO.input]: new ort.Tensor('float32', batch, [inputs.length, h, w, c]),
      [IO.target]: new ort.Tensor('int64', BigInt64Array.from(targets, (t) => BigInt(t)), [targets.length]),
    });
    const logits = out[IO.logits]!.data as Float32Array;
    const relevance = out[IO.relevance]!.data as Float32Array;
    const classes = logits.length / inputs.length;
    return inputs.map((_, i) => ({
      logits: logits.slice(i * classes, (i + 1) * classes),
      relevance: toChw(relevance.subarray(i * per, (i + 1) * per), c, h * w),
      explained: Number((out[IO.explainedClass]!.data as BigInt64Array)[i]),
      start: (out[IO.startRelevance]!.data as Float32Array)[i]!,
    }));
  } finally {
    await session.release();
  }
}
