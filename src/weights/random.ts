/**
 * Deterministic random weights for tests and benchmarks, scaled so a full ResNet keeps
 * finite, non-degenerate activations: He-normal kernels (variance-preserving through ReLUs),
 * identity-like batch norms, and halved gammas on the batch norms that feed a residual add so
 * the residual stream grows slowly instead of doubling per block.
 */
import { consumers, expectedParamShapes, PARAM_NAMES, type LayerParams, type LayerGraph, type ParamTensor } from '../model/layers.js';
import type { LayerWeights } from './types.js';
import type { ModelGraph, ModelWeights } from '../graph/graph.js';
import { layersToGraph } from '../import/keras.js';

/** Gamma of batch norms whose output goes into an `add`. */
const RESIDUAL_GAMMA = 0.5;

/**
 * Seeded random weights for every parameterised layer of `graph`, in the shapes of
 * {@link expectedParamShapes}. Each layer's values depend only on the seed and the layer's
 * name and shapes, not on the rest of the graph.
 *
 * - conv / dense kernels: He normal, `N(0, 2 / fan_in)` (sampled on 65536 quantile levels,
 *   so truncated at ±4.3σ);
 * - biases: small positive, uniform in [0, 0.02);
 * - batch norm: gamma uniform in [0.9, 1.1) (times 0.5 when feeding an `add`), beta `N(0, 0.02²)`,
 *   moving mean `N(0, 0.01²)`, moving variance uniform in [0.9, 1.1).
 */
export function randomWeights(graph: LayerGraph, seed = 0): LayerWeights {
  const feeds = consumers(graph);
  const kinds = new Map(graph.layers.map((l) => [l.name, l.kind]));
  const weights = new Map<string, LayerParams>();
  for (const layer of graph.layers) {
    if (!PARAM_NAMES[layer.kind]) continue;
    const rng = new Random(hashSeed(seed, layer.name));
    const shapes = expectedParamShapes(graph, layer);
    const params: Record<string, ParamTensor> = {};
    for (const [name, shape] of Object.entries(shapes)) {
      const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
      switch (name) {
        case 'kernel': {
          // Keras layouts put the output channels last: fan_in is everything before.
          const fanIn = shape.slice(0, -1).reduce((a, b) => a * b, 1);
          rng.fillNormal(data, Math.sqrt(2 / fanIn));
          break;
        }
        case 'bias':
          rng.fillUniform(data, 0, 0.02);
          break;
        case 'gamma': {
          const residual = feeds.get(layer.name)!.some((c) => kinds.get(c) === 'add');
          const scale = residual ? RESIDUAL_GAMMA : 1;
          rng.fillUniform(data, 0.9 * scale, 1.1 * scale);
          break;
        }
        case 'beta':
          rng.fillNormal(data, 0.02);
          break;
        case 'movingMean':
          rng.fillNormal(data, 0.01);
          break;
        case 'movingVariance':
          rng.fillUniform(data, 0.9, 1.1);
          break;
        default:
          throw new Error(`randomWeights: no initialiser for parameter ${name} of layer ${layer.name}`);
      }
      params[name] = { data, shape };
    }
    weights.set(layer.name, params);
  }
  return weights;
}

/** FNV-1a over the layer name, mixed with the seed: independent streams per layer. */
function hashSeed(seed: number, name: string): number {
  let h = (0x811c9dc5 ^ Math.imul(seed | 0, 0x9e3779b1)) >>> 0;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** mulberry32: a small, fast 32-bit generator; plenty for initialisation. */
class Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform 32-bit integer (as a signed int32). */
  next32(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return t ^ (t >>> 14);
  }

  fillUniform(out: Float32Array, lo: number, hi: number): void {
    const scale = (hi - lo) / 4294967296;
    for (let i = 0; i < out.length; i++) out[i] = lo + scale * (this.next32() >>> 0);
  }

  /**
   * Normal samples by inverse-CDF lookup: each 32-bit draw gives two 16-bit quantile indices.
   * About 10× faster than Box–Muller (a full ResNet50 is 25M draws); the price is a
   * distribution on 65536 levels truncated at ±4.3σ, which initialisation does not mind
   * (Keras' own He-normal is truncated at 2σ).
   */
  fillNormal(out: Float32Array, std: number): void {
    const table = normalQuantiles();
    const n = out.length;
    for (let i = 0; i < n; i += 2) {
      const r = this.next32();
      out[i] = std * table[r & 0xffff]!;
      if (i + 1 < n) out[i + 1] = std * table[r >>> 16]!;
    }
  }
}

let quantiles: Float32Array | undefined;

/** Standard normal quantiles at the midpoints of 65536 equal-probability bins. */
function normalQuantiles(): Float32Array {
  if (!quantiles) {
    quantiles = new Float32Array(65536);
    for (let k = 0; k < quantiles.length; k++) quantiles[k] = probit((k + 0.5) / quantiles.length);
  }
  return quantiles;
}

// Acklam's rational approximation of the normal quantile (relative error < 1.2e-9).
const A = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
const B = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
const C = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
const D = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];

function probit(p: number): number {
  const tail = (q: number) =>
    (((((C[0]! * q + C[1]!) * q + C[2]!) * q + C[3]!) * q + C[4]!) * q + C[5]!) /
    ((((D[0]! * q + D[1]!) * q + D[2]!) * q + D[3]!) * q + 1);
  if (p < 0.02425) return tail(Math.sqrt(-2 * Math.log(p)));
  if (p > 1 - 0.02425) return -tail(Math.sqrt(-2 * Math.log(1 - p)));
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((A[0]! * r + A[1]!) * r + A[2]!) * r + A[3]!) * r + A[4]!) * r + A[5]!) * q) /
    (((((B[0]! * r + B[1]!) * r + B[2]!) * r + B[3]!) * r + B[4]!) * r + 1)
  );
}

/** The model graph of a layer list with seeded random weights (tests, benchmarks, the `null` weights source). */
export function randomModel(layers: LayerGraph, seed = 0): { graph: ModelGraph; weights: ModelWeights } {
  return layersToGraph(layers, randomWeights(layers, seed));
}
