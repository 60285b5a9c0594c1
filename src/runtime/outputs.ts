/**
 * Reading a compiled explainer's outputs into per-image results.
 */
import type { InputLayout } from '../model/input.js';
import { IO } from '../onnx/classifier.js';
import type { RuntimeTensor } from './platform.js';
import type { LrpResult } from './types.js';

/** The graph input names the runtime feeds. */
export const BATCH_INPUT_NAMES = { input: IO.input, target: IO.target } as const;

/** A session's outputs by name. */
export type RawOutputs = Record<string, RuntimeTensor>;

/**
 * Splits the batched outputs into one {@link LrpResult} per target: `count` targets, image-major,
 * `perImage` of them for each image (their logits and probabilities are the image's).
 */
export function readOutputs(
  out: RawOutputs,
  count: number,
  info: { inputShape: readonly [number, number, number]; classes: number; layout: InputLayout },
  traceNames: readonly string[],
  debug: boolean,
  perImage = 1,
): LrpResult[] {
  const [c, h, w] = info.inputShape;
  const classes = info.classes;
  const floats = (name: string) => out[name]!.data as Float32Array;
  const logits = floats(IO.logits);
  const probabilities = floats(IO.probabilities);
  const explained = out[IO.explainedClass]!.data as BigInt64Array;
  const start = floats(IO.startRelevance);
  const relevance = floats(IO.relevance);
  const attribution = floats(IO.attribution);
  // Explainers compiled without the trace have no such output.
  const trace = out[IO.trace]?.data as Float32Array | undefined;
  const t = traceNames.length;
  return Array.from({ length: count }, (_, i) => {
    const image = Math.floor(i / perImage);
    const ownLogits = logits.slice(image * classes, (image + 1) * classes);
    const map = attribution.slice(i * h * w, (i + 1) * h * w);
    const result: LrpResult = {
      classIndex: argmax(ownLogits),
      logits: ownLogits,
      probabilities: probabilities.slice(image * classes, (image + 1) * classes),
      targetClass: Number(explained[i]),
      startRelevance: start[i]!,
      attribution: { data: map, shape: [h, w] },
      relevance: {
        data: relevance.slice(i * h * w * c, (i + 1) * h * w * c),
        ...(info.layout === 'NCHW' ? { shape: [c, h, w], layout: 'CHW' } as const : { shape: [h, w, c], layout: 'HWC' } as const),
      },
    };
    if (debug) {
      if (trace) result.trace = traceNames.map((name, k) => ({ name, sum: trace[i * t + k]! }));
      // Summed in float64: the map's float32 entries can be large and of both signs.
      let total = 0;
      for (let k = 0; k < map.length; k++) total += map[k]!;
      result.conservationError = Math.abs(total - start[i]!) / Math.abs(start[i]!);
    }
    return result;
  });
}

/** Index of the largest value. */
export function argmax(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}
