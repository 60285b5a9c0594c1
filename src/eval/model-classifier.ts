/**
 * The library's `LrpModel` as a {@link Classifier}: its forward-only session gives the
 * probabilities of the perturbed images.
 */
import type { LrpModel } from '../lrp-model.js';
import { imageShape } from '../model/input.js';
import type { Classifier } from './classifier.js';

/** Adapts a loaded model; its own input description says what "black" and the layout are. */
export function classifierFromModel(model: LrpModel): Classifier {
  const inputDescription = model.inputDescription;
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
