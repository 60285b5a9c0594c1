/**
 * Batch processing: load the model once, decode several images, explain them all in one
 * onnxruntime run, and write a figure per image.
 *
 *     npx tsc -p . && node dist/examples/batch-processing.js [weights.h5]
 *
 * Weights: the first argument, else $RESNET_LRP_WEIGHTS, else the Keras ImageNet weights.
 */
import { readdir } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
// In your own project: import { … } from 'resnet-lrp';
import { figureTitle, imagenetLabels, loadImage, LrpModel, writeFigure } from '../src/index.js';

const SAMPLES = fileURLToPath(new URL('../../assets/samples/', import.meta.url));

/** What was explained per image. */
export interface BatchItem {
  file: string;
  classIndex: number;
  className: string;
  confidence: number;
  conservationError: number;
  figure: string;
}

/** Explains every sample photo in one batch; writes `<outDir>/<name>.lrp.png` for each. */
export async function main(weights: string, outDir: string): Promise<BatchItem[]> {
  // Loading compiles forward + LRP into one ONNX graph: do it once, reuse it for every image.
  const model = await LrpModel.load({ weights });
  try {
    const files = (await readdir(SAMPLES)).filter((f) => /\.(png|jpe?g)$/i.test(f)).sort();
    // Decoding and resizing to 224×224 (caffe preprocessing included).
    const images = await Promise.all(files.map((f) => loadImage(join(SAMPLES, f))));
    // One run for the whole batch; every image gets its own predicted class explained.
    // (Memory grows with the batch: for hundreds of images, go in batches of ~4.)
    const results = await model.computeLrpBatch(images.map((image) => image.input), { debug: true });

    const labels = imagenetLabels();
    const items: BatchItem[] = [];
    for (const [i, lrp] of results.entries()) {
      const className = labels[lrp.classIndex]!;
      const confidence = lrp.probabilities[lrp.classIndex]!;
      const figure = join(outDir, `${basename(files[i]!, extname(files[i]!))}.lrp.png`);
      const title = figureTitle({ className, predictedClass: lrp.classIndex, confidence, targetClass: lrp.targetClass, targetName: labels[lrp.targetClass]! });
      await writeFigure(figure, { image: images[i]!, attribution: lrp.attribution.data, title });
      items.push({ file: files[i]!, classIndex: lrp.classIndex, className, confidence, conservationError: lrp.conservationError!, figure });
      console.log(`${files[i]}: ${className} (${(100 * confidence).toFixed(1)} %) → ${figure}`);
    }
    return items;
  } finally {
    await model.dispose(); // frees onnxruntime's native memory
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await main(process.argv[2] ?? process.env.RESNET_LRP_WEIGHTS ?? 'imagenet', 'out/batch-processing');
}
