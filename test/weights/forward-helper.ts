/**
 * A plain-JS reference forward pass over a {@link LayerGraph} (one image, NCHW, float64),
 * slow but obviously correct, so weight tests can check values end to end without ONNX.
 */
import { readNpy } from '../../src/image/npy.js';
import type { Layer, LayerGraph } from '../../src/model/layers.js';
import type { LayerWeights } from '../../src/weights/types.js';

/** A `[C, H, W]` (or `[C]`) tensor. */
export interface Tensor {
  data: Float64Array;
  shape: number[];
}

/** Runs `graph` on `input` (`[3, H, W]`), returning every layer's output (dense: the logits, before softmax). */
export function forward(graph: LayerGraph, weights: LayerWeights, input: Tensor): Map<string, Tensor> {
  const outputs = new Map<string, Tensor>();
  for (const layer of graph.layers) {
    const xs = layer.inputs.map((name) => outputs.get(name)!);
    outputs.set(layer.name, layer.kind === 'input' ? input : apply(layer, xs, weights.get(layer.name) ?? {}));
  }
  return outputs;
}

function apply(layer: Layer, xs: Tensor[], p: Readonly<Record<string, { data: Float32Array }>>): Tensor {
  const x = xs[0]!;
  const [c, h, w] = x.shape as [number, number, number];
  switch (layer.kind) {
    case 'input':
      return x;
    case 'zeroPad': {
      const [t, b, l, r] = layer.pads;
      const oh = h + t + b;
      const ow = w + l + r;
      const out = new Float64Array(c * oh * ow);
      for (let ch = 0; ch < c; ch++) {
        for (let y = 0; y < h; y++) {
          out.set(x.data.subarray((ch * h + y) * w, (ch * h + y + 1) * w), (ch * oh + y + t) * ow + l);
        }
      }
      return { data: out, shape: [c, oh, ow] };
    }
    case 'conv': {
      const [kh, kw] = layer.kernel;
      const [sh, sw] = layer.strides;
      const [pt, , pl] = layer.pads;
      const [co, oh, ow] = layer.outputShape as [number, number, number];
      const kernel = p.kernel!.data;
      const out = new Float64Array(co * oh * ow);
      if (p.bias) for (let o = 0; o < co; o++) out.fill(p.bias.data[o]!, o * oh * ow, (o + 1) * oh * ow);
      for (let ky = 0; ky < kh; ky++) {
        for (let kx = 0; kx < kw; kx++) {
          for (let i = 0; i < c; i++) {
            const kBase = ((ky * kw + kx) * c + i) * co;
            for (let o = 0; o < co; o++) {
              const wgt = kernel[kBase + o]!;
              for (let oy = 0; oy < oh; oy++) {
                const iy = oy * sh + ky - pt;
                if (iy < 0 || iy >= h) continue;
                const inRow = (i * h + iy) * w;
                const outRow = (o * oh + oy) * ow;
                for (let ox = 0; ox < ow; ox++) {
                  const ix = ox * sw + kx - pl;
                  if (ix >= 0 && ix < w) out[outRow + ox]! += wgt * x.data[inRow + ix]!;
                }
              }
            }
          }
        }
      }
      return { data: out, shape: [co, oh, ow] };
    }
    case 'batchNorm': {
      const out = new Float64Array(x.data.length);
      const plane = x.data.length / c;
      for (let ch = 0; ch < c; ch++) {
        const scale = p.gamma!.data[ch]! / Math.sqrt(p.movingVariance!.data[ch]! + layer.epsilon);
        const shift = p.beta!.data[ch]! - p.movingMean!.data[ch]! * scale;
        for (let j = ch * plane; j < (ch + 1) * plane; j++) out[j] = x.data[j]! * scale + shift;
      }
      return { data: out, shape: x.shape };
    }
    case 'relu':
      return { data: x.data.map((v) => (v > 0 ? v : 0)), shape: x.shape };
    case 'maxPool': {
      const [ph, pw] = layer.pool;
      const [sh, sw] = layer.strides;
      const [, oh, ow] = layer.outputShape as [number, number, number];
      const out = new Float64Array(c * oh * ow).fill(-Infinity);
      for (let ch = 0; ch < c; ch++) {
        for (let oy = 0; oy < oh; oy++) {
          for (let ox = 0; ox < ow; ox++) {
            let m = -Infinity;
            for (let dy = 0; dy < ph; dy++) {
              for (let dx = 0; dx < pw; dx++) m = Math.max(m, x.data[(ch * h + oy * sh + dy) * w + ox * sw + dx]!);
            }
            out[(ch * oh + oy) * ow + ox] = m;
          }
        }
      }
      return { data: out, shape: [c, oh, ow] };
    }
    case 'add': {
      const out = new Float64Array(x.data);
      for (const other of xs.slice(1)) for (let j = 0; j < out.length; j++) out[j]! += other.data[j]!;
      return { data: out, shape: x.shape };
    }
    case 'globalAvgPool': {
      const plane = h * w;
      const out = new Float64Array(c);
      for (let ch = 0; ch < c; ch++) {
        let s = 0;
        for (let j = ch * plane; j < (ch + 1) * plane; j++) s += x.data[j]!;
        out[ch] = s / plane;
      }
      return { data: out, shape: [c] };
    }
    case 'dense': {
      const n = x.data.length;
      const out = Float64Array.from(p.bias!.data);
      const kernel = p.kernel!.data;
      for (let i = 0; i < n; i++) {
        const v = x.data[i]!;
        for (let u = 0; u < layer.units; u++) out[u]! += v * kernel[i * layer.units + u]!;
      }
      return { data: out, shape: [layer.units] };
    }
  }
}

/** Reads a float32 `.npy` file through the library's reader. */
export async function readNpyF32(path: string): Promise<{ data: Float32Array; shape: number[] }> {
  const { data, shape } = await readNpy(path);
  return { data: Float32Array.from(data), shape };
}

/** NHWC `(1, H, W, C)` image data → a `[C, H', W']` tensor, nearest-neighbour resampled to `size`. */
export function nhwcToChw(data: Float32Array, shape: number[], size = shape[1]!): Tensor {
  const [, h, w, c] = shape as [number, number, number, number];
  const out = new Float64Array(c * size * size);
  for (let y = 0; y < size; y++) {
    const sy = Math.floor((y * h) / size);
    for (let x = 0; x < size; x++) {
      const sx = Math.floor((x * w) / size);
      for (let ch = 0; ch < c; ch++) out[(ch * size + y) * size + x] = data[(sy * w + sx) * c + ch]!;
    }
  }
  return { data: out, shape: [c, size, size] };
}
