/**
 * Integrated Gradients (Sundararajan et al. 2017) from the black image b: attribution
 * (x − b) ⊙ ∫₀¹ ∂y_t/∂x(b + α(x − b)) dα by the trapezoidal rule over m steps — the gradients
 * at x_i = b + (i/m)(x − b), i = 0..m (m + 1 points), weighted 1/m, and 1/(2m) at both ends —
 * from the `gradient` explainer, `batch` path points per run. Its sum approximates
 * y_t(x) − y_t(b) (completeness); ReLU networks are piecewise linear, so the integrand jumps
 * and the error falls like 1/m (trapezoid beats the right Riemann sum, whose bias does not
 * cancel at the ends).
 */
import { blackValues, imageShape } from '../model/input.js';
import { IO } from '../onnx/classifier.js';
import type { Attribution, AttributionMethod, MethodContext } from './methods.js';

export interface IntegratedGradientsOptions {
  /** Steps m on the path from black to the image (m + 1 gradients). Default 32. */
  readonly steps?: number;
  /** Path points per explainer run. Default 8. */
  readonly batch?: number;
}

export const DEFAULT_IG_STEPS = 32;
const DEFAULT_IG_BATCH = 8;

export async function integratedGradientsMethod(context: MethodContext, options: IntegratedGradientsOptions = {}): Promise<AttributionMethod> {
  const steps = options.steps ?? DEFAULT_IG_STEPS;
  const batch = options.batch ?? DEFAULT_IG_BATCH;
  if (!Number.isSafeInteger(steps) || steps < 1) throw new Error(`ig: steps must be an integer ≥ 1, got ${String(steps)}`);
  if (!Number.isSafeInteger(batch) || batch < 1) throw new Error(`ig: batch must be an integer ≥ 1, got ${String(batch)}`);
  const desc = context.inputDescription;
  const [d0, d1, d2] = imageShape(desc);
  const values = d0 * d1 * d2;
  const pixels = desc.size * desc.size;
  // Black per input value, in the model's layout.
  const black = blackValues(desc);
  const baseline = Float32Array.from({ length: values }, (_, v) => black[desc.layout === 'NCHW' ? Math.floor(v / pixels) : v % 3]!);
  const session = await context.compileExplainer({ preset: 'gradient' });

  async function attributeOne(x: Float32Array, target: number): Promise<Attribution> {
    if (x.length !== values) throw new Error(`ig: an image has ${x.length} values, the model takes ${values}`);
    // Σ_i w_i ∂y_t/∂x(x_i), in units of 1/m.
    const gradientSum = new Float64Array(values);
    // The target's logit at the image itself (the last point), for conservationOf.
    let start = NaN;
    for (let first = 0; first <= steps; first += batch) {
      const points = Array.from({ length: Math.min(batch, steps + 1 - first) }, (_, j) => first + j);
      const scaled = points.map((i) => Float32Array.from(x, (v, k) => baseline[k]! + (i / steps) * (v - baseline[k]!)));
      const [gradients, logits] = await session.run(scaled, points.map(() => target), [IO.relevance, IO.logits]);
      points.forEach((i, j) => {
        if (i === steps) start = logits![j * (logits!.length / points.length) + target]!;
        const weight = i === 0 || i === steps ? 0.5 : 1;
        const g = gradients!.subarray(j * values, (j + 1) * values);
        for (let k = 0; k < values; k++) gradientSum[k] = gradientSum[k]! + weight * g[k]!;
      });
    }
    const relevance = new Float32Array(values);
    const map = new Float32Array(pixels);
    const channelStride = desc.layout === 'NCHW' ? pixels : 1;
    const pixelStride = desc.layout === 'NCHW' ? 1 : 3;
    for (let p = 0; p < pixels; p++) {
      let sum = 0;
      for (let c = 0; c < 3; c++) {
        const k = c * channelStride + p * pixelStride;
        const r = ((x[k]! - baseline[k]!) * gradientSum[k]!) / steps;
        relevance[k] = r;
        sum += r;
      }
      map[p] = sum;
    }
    return { map, relevance, start };
  }

  return {
    name: 'ig',
    description: `Integrated Gradients from black, ${steps} steps (trapezoidal rule)`,
    async attribute(inputs, targets): Promise<Attribution[]> {
      if (inputs.length !== targets.length) throw new Error(`ig: ${inputs.length} images but ${targets.length} targets`);
      const out: Attribution[] = [];
      for (let i = 0; i < inputs.length; i++) out.push(await attributeOne(inputs[i]!, targets[i]!));
      return out;
    },
    dispose: () => session.dispose(),
  };
}
