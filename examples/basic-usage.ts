/**
 * Basic usage: one call from an image file to a prediction, an LRP attribution map and a
 * three-panel figure.
 *
 *     npm run build && node dist/examples/basic-usage.js [model.onnx|weights.h5 image]
 *
 * Default: the bundled trained CIFAR-10 ResNet20 on a bundled CIFAR-10 cat (offline); give a
 * model file and an image of your own, or `imagenet` and a photo.
 */
import { basename, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
// In your own project: import { analyzeImage, type AnalyzeResult } from 'resnet-lrp';
import { analyzeImage, type AnalyzeResult } from '../src/index.js';

// The package's assets (this file runs compiled, from dist/examples/).
const ASSETS = fileURLToPath(new URL('../../assets/', import.meta.url));
/** The bundled trained model and one of the bundled CIFAR-10 test images. */
export const CIFAR_MODEL = join(ASSETS, 'models', 'cifar10-resnet20.onnx');
export const CIFAR_CAT = join(ASSETS, 'samples', 'cifar10', 'cat-0000.jpg');

/** Explains `image` with the model in `weights` and writes `<outDir>/<image name>.lrp.png`. */
export async function main(weights: string, image: string, outDir: string): Promise<AnalyzeResult> {
  const figure = join(outDir, `${basename(image, extname(image))}.lrp.png`);
  // Loads the model (once per process), classifies, runs LRP for the predicted class and
  // draws input | relevance | overlay. Class names come from <model>.labels.json beside it.
  const result = await analyzeImage(image, { model: { weights }, figure });

  console.log(`predicted: ${result.className} (class ${result.predictedClass}), ${(100 * result.confidence).toFixed(1)} % confidence`);
  // LRP redistributes the class score over the pixels; this says how much got lost on the way.
  console.log(`conservation error: ${result.conservationError.toExponential(2)}`);
  console.log(`figure: ${result.figurePath}`);
  return result;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await main(process.argv[2] ?? CIFAR_MODEL, process.argv[3] ?? CIFAR_CAT, 'out/basic-usage');
}
