/**
 * Batched `predict`: one run for N images equals N single runs, and the fixture image's logits
 * are the reference's (the explainer's logits are checked against the same reference in
 * lrp/fixture.test.ts).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { LrpModel } from '../src/lrp-model.js';
import { FIXTURE_WEIGHTS, fixtureArray, fixtureInput } from './support/fixture.js';

let model: LrpModel;
before(async () => {
  model = await LrpModel.load({ weights: FIXTURE_WEIGHTS });
});
after(() => model.dispose());

test('predict on a batch of 3 equals 3 single predictions, in order', async () => {
  const base = fixtureInput();
  const images = [base, base.map((v) => -v), base.map((v) => v * 0.5 + 10)];
  const data = new Float32Array(3 * base.length);
  images.forEach((img, i) => data.set(img, i * base.length));
  const batch = await model.predict({ data, shape: [3, 224, 224, 3] });
  assert.equal(batch.length, 3);
  for (let i = 0; i < 3; i++) {
    const [single] = await model.predict(images[i]!);
    const worst = batch[i]!.logits.reduce((w, v, k) => Math.max(w, Math.abs(v - single!.logits[k]!)), 0);
    assert.ok(worst < 1e-4, `image ${i}: batched logits differ by ${worst}`);
    assert.equal(batch[i]!.classIndex, single!.classIndex);
    const sum = batch[i]!.probabilities.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - 1) < 1e-5, `probabilities of image ${i} sum to ${sum}`);
  }
  // The three images are different, and the first is the reference fixture's.
  assert.notDeepEqual(batch[0]!.logits, batch[1]!.logits);
  const reference = fixtureArray('logits.npy').data;
  const err = batch[0]!.logits.reduce((w, v, k) => Math.max(w, Math.abs(v - reference[k]!)), 0);
  assert.ok(err < 1e-3, `logits of the fixture image off by ${err}`);
});
