/**
 * Custom rules: the same image explained three ways — the paper's ratio split at skip
 * connections (the default), the symmetric 0.5/0.5 split, and the gamma rule on the convs —
 * comparing how well each conserves relevance and how much of it is positive.
 *
 *     npx tsc -p . && node dist/examples/custom-rules.js [weights.h5]
 *
 * Weights: the first argument, else $RESNET_LRP_WEIGHTS, else the Keras ImageNet weights.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
// In your own project: import { … } from 'resnet-lrp';
import { loadImage, LrpModel, writeFigure, type LrpOptions } from '../src/index.js';

const SAMPLES = fileURLToPath(new URL('../../assets/samples/', import.meta.url));

/** The configurations compared: a name (also the figure's file name) and its rule options. */
export const CONFIGS: Record<string, LrpOptions> = {
  'ratio-split': {}, // the default preset: z_b first layer, z+ elsewhere, ratio split
  'symmetric-split': { split: 'symmetric' },
  'gamma': { preset: 'gamma' }, // gamma rule (γ = 0.25) on the convs
};

/** One configuration's outcome. */
export interface RuleComparison {
  config: string;
  rules: string;
  classIndex: number;
  conservationError: number;
  /** Σ max(R, 0) / Σ |R| over the attribution map: 1 means no negative evidence at all. */
  positiveShare: number;
  attribution: Float32Array;
  figure: string;
}

/** Explains the coffee photo under each configuration; writes `<outDir>/coffee.<config>.png`. */
export async function main(weights: string, outDir: string): Promise<RuleComparison[]> {
  const image = await loadImage(join(SAMPLES, 'coffee.png'));
  const out: RuleComparison[] = [];
  for (const [config, rules] of Object.entries(CONFIGS)) {
    // Rules are compiled into the graph, so every configuration is its own model.
    const model = await LrpModel.load({ weights, rules });
    try {
      const lrp = await model.computeLrp(image.input, { debug: true });
      const figure = join(outDir, `coffee.${config}.png`);
      await writeFigure(figure, { image, attribution: lrp.attribution.data, title: `${config}: ${model.info.rules}` });
      out.push({
        config,
        rules: model.info.rules,
        classIndex: lrp.classIndex,
        conservationError: lrp.conservationError!,
        positiveShare: positiveShare(lrp.attribution.data),
        attribution: lrp.attribution.data,
        figure,
      });
    } finally {
      await model.dispose();
    }
  }
  for (const r of out) {
    console.log(`${r.config.padEnd(16)} conservation error ${r.conservationError.toExponential(2)}  positive share ${(100 * r.positiveShare).toFixed(1)} %  → ${r.figure}`);
  }
  return out;
}

/** Share of the total absolute relevance that is positive. */
export function positiveShare(map: Float32Array): number {
  let positive = 0;
  let total = 0;
  for (const v of map) {
    if (v > 0) positive += v;
    total += Math.abs(v);
  }
  return total > 0 ? positive / total : 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await main(process.argv[2] ?? process.env.RESNET_LRP_WEIGHTS ?? 'imagenet', 'out/custom-rules');
}
