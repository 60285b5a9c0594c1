/**
 * Batch processing: load the model once, decode several images, explain them all in one
 * onnxruntime run, and write a figure per image.
 *
 *     npm run build && node dist/examples/batch-processing.js [model.onnx|weights.h5 folder]
 *
 * Default: the bundled trained CIFAR-10 ResNet20 on the first test image of each CIFAR-10 class
 * (offline); give a model file and a folder of images of your own.
 */
import { readdir } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
// In your own project: import { … } from 'resnet-lrp';
import { figureTitle, LrpModel, writeFigure } from '../src/index.js';

const ASSETS = fileURLToPath(new URL('../../assets/', import.meta.url));
/** The bundled trained model and its test images. */
export const CIFAR_MODEL = join(ASSETS, 'models', 'cifar10-resnet20.onnx');
export const CIFAR_IMAGES = join(ASSETS, 'samples', 'cifar10');

/** What was explained per image. */
export interface BatchItem {
  file: string;
  classIndex: number;
  className: string;
  confidence: number;
  conservationError: number;
  figure: string;
}

/**
 * Explains the images of `folder` (those named `*-0000.*` when `firstOnly`) in one batch;
 * writes `<outDir>/<name>.lrp.png` for each.
 */
export async function main(weights: string, folder: string, outDir: string, firstOnly = false): Promise<BatchItem[]> {
  // Loading compiles forward + LRP into one ONNX graph: do it once, reuse it for every image.
  const model = await LrpModel.load({ weights });
  try {
    const files = (await readdir(folder)).filter((f) => /\.(png|jpe?g)$/i.test(f) && (!firstOnly || /-0000\./.test(f))).sort();
    // Decoding and fitting to the model's input, with its own preprocessing.
    const images = await Promise.all(files.map((f) => model.loadImage(join(folder, f))));
    // One call for the whole batch; every image gets its own predicted class explained (the
    // library splits it into runs that fit its memory budget).
    const results = await model.computeLrpBatch(images.map((image) => image.input), { debug: true });

    const labels = model.classNames;
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
  await main(process.argv[2] ?? CIFAR_MODEL, process.argv[3] ?? CIFAR_IMAGES, 'out/batch-processing', process.argv[3] === undefined);
}
