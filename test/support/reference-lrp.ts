/**
 * A direct float64 implementation of every rule, written from the formulas (lrp-spec.md, the
 * official code's arithmetic, the chain rule) with explicit loops over a {@link LayerGraph}.
 * It shares nothing with the compiler but the graph description, so the tests can hold the
 * compiled ONNX graphs against it. Tensors are one example's (C, H, W) or (units), row-major.
 */
import type { ConvLayer, Layer, MaxPoolLayer, LayerGraph } from '../../src/model/layers.js';
import type { LayerWeights } from '../../src/weights/types.js';

export type Tensor = Float64Array;

/** A rule by name with its parameters, as the library's options spell them. */
export interface RefRule {
  name: string;
  gamma?: number;
  epsilon?: number;
}

export interface RefOptions {
  /** The rule of each layer that takes one. */
  rule: (layer: Layer) => RefRule;
  start: 'logit' | 'softmax' | 'softmax-predicted' | 'gradient';
  stabilizer: 'signed' | 'additive';
  epsilon: number;
  bounds?: { low: readonly number[]; high: readonly number[] };
  /** Class to explain; −1: the predicted one. */
  target: number;
}

/** One input position of an output's window with its weight. */
type Connection = [input: number, weight: number];

export function referenceForward(graph: LayerGraph, weights: LayerWeights, x: Tensor): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const layer of graph.layers) {
    const a = layer.inputs.map((i) => out.get(i)!);
    let y: Tensor;
    switch (layer.kind) {
      case 'input':
        y = x;
        break;
      case 'zeroPad':
        y = pad(a[0]!, shapeOf(graph, layer.inputs[0]!), layer.pads);
        break;
      case 'conv':
      case 'dense': {
        const conns = connections(graph, weights, layer);
        const bias = weights.get(layer.name)?.bias?.data;
        y = Float64Array.from(conns, (c, j) => c.reduce((s, [i, w]) => s + a[0]![i]! * w, biasAt(layer, bias, j)));
        break;
      }
      case 'batchNorm': {
        const [scale, shift] = batchNormAffine(graph, weights, layer);
        const hw = a[0]!.length / scale.length;
        y = a[0]!.map((v, i) => v * scale[Math.floor(i / hw)]! + shift[Math.floor(i / hw)]!);
        break;
      }
      case 'relu':
        y = a[0]!.map((v) => Math.max(v, 0));
        break;
      case 'maxPool':
        y = Float64Array.from(poolWindows(graph, layer), (win) => Math.max(...win.map((i) => a[0]![i]!)));
        break;
      case 'add':
        y = a[0]!.map((_, i) => a.reduce((s, t) => s + t[i]!, 0));
        break;
      case 'globalAvgPool': {
        const [c] = shapeOf(graph, layer.inputs[0]!);
        const hw = a[0]!.length / c!;
        y = Float64Array.from({ length: c! }, (_, ch) => a[0]!.slice(ch * hw, (ch + 1) * hw).reduce((s, v) => s + v, 0) / hw);
        break;
      }
    }
    out.set(layer.name, y);
  }
  return out;
}

/** The input relevance (C, H, W) of the explained class, and what was explained. */
export function referenceRelevance(graph: LayerGraph, weights: LayerWeights, x: Tensor, o: RefOptions): { relevance: Tensor; logits: Tensor; explained: number } {
  const act = referenceForward(graph, weights, x);
  const logits = act.get(graph.output)!;
  const max = Math.max(...logits);
  const exp = logits.map((v) => Math.exp(v - max));
  const total = exp.reduce((s, v) => s + v, 0);
  const predicted = logits.indexOf(max);
  const explained = o.target < 0 || o.start === 'softmax-predicted' ? predicted : o.target;
  const score = o.start === 'logit' ? logits[explained]! : o.start === 'gradient' ? 1 : exp[explained]! / total;
  const relevance = new Map<string, Tensor>();
  const send = (name: string, r: Tensor) => {
    const have = relevance.get(name);
    relevance.set(name, have ? have.map((v, i) => v + r[i]!) : r);
  };
  send(graph.output, logits.map((_, j) => (j === explained ? score : 0)));
  const stab = (z: number, eps = o.epsilon, mode = o.stabilizer) => z + (mode === 'additive' || z >= 0 ? eps : -eps);

  for (let li = graph.layers.length - 1; li >= 0; li--) {
    const layer = graph.layers[li]!;
    const r = relevance.get(layer.name);
    if (!r || layer.kind === 'input') continue;
    const a = act.get(layer.inputs[0]!)!;
    const y = act.get(layer.name)!;
    const rule = layer.kind === 'zeroPad' ? { name: '' } : o.rule(layer);
    const rIn = new Float64Array(a.length);
    switch (layer.kind) {
      case 'zeroPad': {
        const [c, h, w] = shapeOf(graph, layer.inputs[0]!) as [number, number, number];
        const [top, bottom, left, right] = layer.pads;
        const pw = w + left + right;
        for (let ch = 0; ch < c; ch++) for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) {
          rIn[(ch * h + i) * w + j] = r[(ch * (h + top + bottom) + i + top) * pw + j + left]!;
        }
        break;
      }
      case 'relu':
        for (let i = 0; i < r.length; i++) {
          const keep = rule.name === 'pass' || (y[i]! > 0 && (rule.name === 'gradient' || r[i]! > 0));
          rIn[i] = keep ? r[i]! : 0;
        }
        break;
      case 'batchNorm': {
        const [scale] = batchNormAffine(graph, weights, layer);
        const hw = r.length / scale.length;
        for (let i = 0; i < r.length; i++) rIn[i] = rule.name === 'pass' ? r[i]! : r[i]! * scale[Math.floor(i / hw)]!;
        break;
      }
      case 'add': {
        const inputs = layer.inputs.map((n) => act.get(n)!);
        inputs.forEach((t, k) => {
          const share = new Float64Array(r.length);
          for (let i = 0; i < r.length; i++) {
            const sum = inputs.reduce((s, u) => s + Math.abs(u[i]!), 0);
            share[i] = rule.name === 'gradient' ? r[i]!
              : rule.name === 'symmetric' ? r[i]! / inputs.length
              : sum === 0 ? (rule.name === 'ratio' ? r[i]! / inputs.length : 0)
              : (r[i]! * Math.abs(t[i]!)) / sum;
          }
          send(layer.inputs[k]!, share);
        });
        continue;
      }
      case 'maxPool': {
        if (rule.name === 'gradient') {
          poolWindows(graph, layer).forEach((win, j) => {
            let best = win[0]!; // the first maximum in row-major window order
            for (const i of win) if (a[i]! > a[best]!) best = i;
            rIn[best] = rIn[best]! + r[j]!;
          });
        } else {
          const mean = rule.name === 'avg2x2';
          const windows = mean ? twoByTwoWindows(graph, layer) : poolWindows(graph, layer);
          windows.forEach((win, j) => {
            const sum = win.reduce((s, i) => s + a[i]!, 0);
            // avg2x2: the official AvgPool2d(2)(a) + ε, i.e. ε on the mean.
            const q = mean ? r[j]! / win.length / stab(sum / win.length) : r[j]! / stab(sum);
            for (const i of win) rIn[i] = rIn[i]! + a[i]! * q;
          });
        }
        break;
      }
      case 'globalAvgPool': {
        const hw = a.length / r.length;
        for (let i = 0; i < a.length; i++) {
          const c = Math.floor(i / hw);
          const sum = a.slice(c * hw, (c + 1) * hw).reduce((s, v) => s + v, 0);
          rIn[i] = rule.name === 'gradient' ? r[c]! / hw
            : rule.name === 'zplus-mean' ? (a[i]! * r[c]!) / hw / stab(sum / hw) // AdaptiveAvgPool2d(a) + ε
            : (a[i]! * r[c]!) / stab(sum);
        }
        break;
      }
      case 'conv':
      case 'dense': {
        const conns = connections(graph, weights, layer);
        const bias = weights.get(layer.name)?.bias?.data;
        const ones = onesImage(graph, layer.inputs[0]!);
        const bound = (which: 'low' | 'high') => boundImage(graph, layer.inputs[0]!, o.bounds?.[which]);
        const plus = (w: number) => Math.max(w, 0);
        const minus = (w: number) => Math.min(w, 0);
        type Term = [input: (i: number) => number, weight: (w: number) => number];
        const activation = (i: number) => a[i]!;
        const one = (i: number) => ones[i]!;
        // Each rule written out: terms [input, weight], bias use, ε, reducer (true: input ⊙ adjoint).
        const spec: { terms: Term[]; bias?: boolean; eps?: number; signed?: boolean; product: boolean } | undefined = {
          zplus: { terms: [[activation, plus]] as Term[], product: true },
          gamma: { terms: [[activation, (w: number) => w + rule.gamma! * plus(w)]] as Term[], product: true },
          epsilon: { terms: [[activation, (w: number) => w]] as Term[], bias: true, eps: rule.epsilon, signed: true, product: true },
          zb: {
            terms: [[activation, (w: number) => w], [(i: number) => bound('low')[i]!, (w: number) => -plus(w)], [(i: number) => bound('high')[i]!, (w: number) => -minus(w)]] as Term[],
            product: true,
          },
          'zplus-ones': { terms: [[one, plus]] as Term[], product: false },
          flat: { terms: [[one, () => 1]] as Term[], product: false },
          wsquare: { terms: [[one, (w: number) => w * w]] as Term[], product: false },
        }[rule.name];
        conns.forEach((conn, j) => {
          if (rule.name === 'gradient') {
            for (const [i, w] of conn) rIn[i] = rIn[i]! + w * r[j]!;
            return;
          }
          if (!spec) throw new Error(`reference: no linear rule ${rule.name}`);
          let z = spec.bias ? biasAt(layer, bias, j) : 0;
          for (const [i, w] of conn) for (const [input, weight] of spec.terms) z += input(i) * weight(w);
          const s = r[j]! / stab(z, spec.eps ?? o.epsilon, spec.signed ? 'signed' : o.stabilizer);
          for (const [i, w] of conn) for (const [input, weight] of spec.terms) rIn[i] = rIn[i]! + (spec.product ? input(i) : 1) * weight(w) * s;
        });
        break;
      }
    }
    send(layer.inputs[0]!, rIn);
  }
  return { relevance: relevance.get(graph.input)!, logits, explained };
}

// ---- geometry ----

export function shapeOf(graph: LayerGraph, name: string): readonly number[] {
  return graph.layers.find((l) => l.name === name)!.outputShape;
}

function pad(x: Tensor, [c, h, w]: readonly number[], [top, bottom, left, right]: readonly number[]): Tensor {
  const ph = h! + top! + bottom!;
  const pw = w! + left! + right!;
  const y = new Float64Array(c! * ph * pw);
  for (let ch = 0; ch < c!; ch++) for (let i = 0; i < h!; i++) for (let j = 0; j < w!; j++) y[(ch * ph + i + top!) * pw + j + left!] = x[(ch * h! + i) * w! + j]!;
  return y;
}

function biasAt(layer: Layer, bias: Float32Array | undefined, j: number): number {
  if (!bias) return 0;
  const per = layer.outputShape.slice(1).reduce((p, v) => p * v, 1);
  return bias[Math.floor(j / per)]!;
}

/** For each output of a conv or dense layer: the input positions it reads with their weights (its own padding reads nothing). */
function connections(graph: LayerGraph, weights: LayerWeights, layer: Layer): Connection[][] {
  const k = weights.get(layer.name)!.kernel!;
  if (layer.kind === 'dense') {
    const [cin, units] = k.shape as [number, number];
    return Array.from({ length: units }, (_, m) => Array.from({ length: cin }, (_, i) => [i, k.data[i * units + m]!] as Connection));
  }
  const conv = layer as ConvLayer;
  const [cin, h, w] = shapeOf(graph, layer.inputs[0]!) as [number, number, number];
  const [, oh, ow] = conv.outputShape as [number, number, number];
  const [kh, kw] = conv.kernel;
  const out: Connection[][] = [];
  for (let m = 0; m < conv.filters; m++) for (let oy = 0; oy < oh; oy++) for (let ox = 0; ox < ow; ox++) {
    const conn: Connection[] = [];
    for (let c = 0; c < cin; c++) for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) {
      const iy = oy * conv.strides[0] - conv.pads[0] + ky;
      const ix = ox * conv.strides[1] - conv.pads[2] + kx;
      if (iy >= 0 && ix >= 0 && iy < h && ix < w) conn.push([(c * h + iy) * w + ix, k.data[((ky * kw + kx) * cin + c) * conv.filters + m]!]);
    }
    out.push(conn);
  }
  return out;
}

/** The input positions of each output of a max pool (its own padding is −∞: never part of a window). */
function poolWindows(graph: LayerGraph, layer: MaxPoolLayer): number[][] {
  const [c, h, w] = shapeOf(graph, layer.inputs[0]!) as [number, number, number];
  const [, oh, ow] = layer.outputShape as [number, number, number];
  const windows: number[][] = [];
  for (let ch = 0; ch < c; ch++) for (let oy = 0; oy < oh; oy++) for (let ox = 0; ox < ow; ox++) {
    const win: number[] = [];
    for (let ky = 0; ky < layer.pool[0]; ky++) for (let kx = 0; kx < layer.pool[1]; kx++) {
      const iy = oy * layer.strides[0] - layer.pads[0] + ky;
      const ix = ox * layer.strides[1] - layer.pads[2] + kx;
      if (iy >= 0 && ix >= 0 && iy < h && ix < w) win.push((ch * h + iy) * w + ix);
    }
    windows.push(win);
  }
  return windows;
}

/** The official code's AvgPool2d(2) windows over the unpadded input (after a zero-padding layer's padding). */
function twoByTwoWindows(graph: LayerGraph, layer: MaxPoolLayer): number[][] {
  const input = graph.layers.find((l) => l.name === layer.inputs[0])!;
  const [c, h, w] = input.outputShape as [number, number, number];
  const [top, left] = input.kind === 'zeroPad' ? [input.pads[0], input.pads[2]] : [0, 0];
  const [, oh, ow] = layer.outputShape as [number, number, number];
  const windows: number[][] = [];
  for (let ch = 0; ch < c; ch++) for (let oy = 0; oy < oh; oy++) for (let ox = 0; ox < ow; ox++) {
    windows.push([0, 1, 2, 3].map((k) => (ch * h + top + 2 * oy + (k >> 1)) * w + left + 2 * ox + (k & 1)));
  }
  return windows;
}

/** Ones at the positions of a tensor that exist before zero padding. */
function onesImage(graph: LayerGraph, name: string): Tensor {
  const layer = graph.layers.find((l) => l.name === name)!;
  if (layer.kind === 'zeroPad') return pad(onesImage(graph, layer.inputs[0]!), shapeOf(graph, layer.inputs[0]!), layer.pads);
  return new Float64Array(layer.outputShape.reduce((p, v) => p * v, 1)).fill(1);
}

function boundImage(graph: LayerGraph, name: string, values: readonly number[] | undefined): Tensor {
  const layer = graph.layers.find((l) => l.name === name)!;
  if (layer.kind === 'zeroPad') return pad(boundImage(graph, layer.inputs[0]!, values), shapeOf(graph, layer.inputs[0]!), layer.pads);
  const [c, h, w] = layer.outputShape as [number, number, number];
  return Float64Array.from({ length: c * h * w }, (_, i) => values![Math.floor(i / (h * w))]!);
}

/** BN as y = scale·x + shift per channel; ε as the float32 attribute the graph carries. */
function batchNormAffine(graph: LayerGraph, weights: LayerWeights, layer: Layer): [number[], number[]] {
  const p = weights.get(layer.name)!;
  const eps = Math.fround((layer as { epsilon: number }).epsilon);
  const scale = Array.from(p.gamma!.data, (g, c) => g / Math.sqrt(p.movingVariance!.data[c]! + eps));
  const shift = Array.from(p.beta!.data, (b, c) => b - p.movingMean!.data[c]! * scale[c]!);
  return [scale, shift];
}
