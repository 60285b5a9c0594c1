/**
 * Basic usage: one call from an image file to a prediction, an LRP attribution map and a
 * three-panel figure.
 *
 *     npx tsc -p . && node dist/examples/basic-usage.js [weights.h5]
 *
 * Weights: the first argument, else $RESNET_LRP_WEIGHTS, else the Keras ImageNet weights
 * (downloaded once into the cache).
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
// In your own project: import { analyzeImage, type AnalyzeResult } from 'resnet-lrp';
import { analyzeImage, type AnalyzeResult } from '../src/index.js';

// The package's sample photos (this file runs compiled, from dist/examples/).
const SAMPLES = fileURLToPath(new URL('../../assets/samples/', import.meta.url));

/** Explains the cat photo and writes `<outDir>/chelsea.lrp.png`. */
export async function main(weights: string, outDir: string): Promise<AnalyzeResult> {
  const figure = join(outDir, 'chelsea.lrp.png');
  // Loads the model (once per process), classifies, runs LRP for the predicted class and
  // draws input | relevance | overlay.
  const result = await analyzeImage(join(SAMPLES, 'chelsea.png'), { model: { weights }, figure });

  console.log(`predicted: ${result.className} (class ${result.predictedClass}), ${(100 * result.confidence).toFixed(1)} % confidence`);
  // LRP redistributes the class score over the pixels; this says how much got lost on the way.
  console.log(`conservation error: ${result.conservationError.toExponential(2)}`);
  console.log(`figure: ${result.figurePath}`);
  return result;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await main(process.argv[2] ?? process.env.RESNET_LRP_WEIGHTS ?? 'imagenet', 'out/basic-usage');
}
