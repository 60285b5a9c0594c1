/**
 * The library's `LrpResNet50` as a {@link Classifier}: its forward-only session gives the
 * probabilities of the perturbed images.
 */
import type { LrpResNet50 } from '../lrp-resnet50.js';
import { CAFFE_INPUT, imageShape, type InputDescription } from '../model/input.js';
import type { Classifier } from './classifier.js';

/**
 * Adapts a loaded model. Keras models take caffe preprocessing ({@link CAFFE_INPUT}, the
 * default); pass the description of any other model.
 */
export function classifierFromModel(model: LrpResNet50, inputDescription: InputDescription = CAFFE_INPUT): Classifier {
  const shape = imageShape(inputDescription);
  const classes = model.info.classes;
  return {
    inputDescription,
    classes,
    async probabilities(batch, count) {
      const predictions = await model.predict({ data: batch, shape: [count, ...shape] });
      const out = new Float32Array(count * classes);
      predictions.forEach((p, i) => out.set(p.probabilities, i * classes));
      return out;
    },
  };
}
