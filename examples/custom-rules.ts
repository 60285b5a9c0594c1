/**
 * Custom rules: the same image explained three ways — the paper's ratio split at skip
 * connections (the default), the symmetric 0.5/0.5 split, and the gamma rule on the convs —
 * comparing how well each conserves relevance and how much of it is positive.
 *
 *     npm run build && node dist/examples/custom-rules.js [model.onnx|weights.h5 image]
 *
 * Default: the bundled trained CIFAR-10 ResNet20 on a bundled CIFAR-10 cat (offline), whose
 * option-A shortcuts pad channels with zeros: the symmetric split loses relevance there.
 */
import { basename, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
// In your own project: import { … } from 'resnet-lrp';
import { LrpModel, writeFigure, type LrpOptions } from '../src/index.js';

const ASSETS = fileURLToPath(new URL('../../assets/', import.meta.url));
/** The bundled trained model and one of the bundled CIFAR-10 test images. */
export const CIFAR_MODEL = join(ASSETS, 'models', 'cifar10-resnet20.onnx');
export const CIFAR_CAT = join(ASSETS, 'samples', 'cifar10', 'cat-0000.jpg');

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

/** Explains `imagePath` under each configuration; writes `<outDir>/<image name>.<config>.png`. */
export async function main(weights: string, imagePath: string, outDir: string): Promise<RuleComparison[]> {
  const name = basename(imagePath, extname(imagePath));
  const out: RuleComparison[] = [];
  for (const [config, rules] of Object.entries(CONFIGS)) {
    // Rules are compiled into the graph, so every configuration is its own model.
    const model = await LrpModel.load({ weights, rules });
    try {
      const image = await model.loadImage(imagePath);
      const lrp = await model.computeLrp(image.input, { debug: true });
      const figure = join(outDir, `${name}.${config}.png`);
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
  await main(process.argv[2] ?? CIFAR_MODEL, process.argv[3] ?? CIFAR_CAT, 'out/custom-rules');
}
