/** A batch with its own target per image equals the same images run one by one. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { LrpModel } from '../../src/lrp-model.js';
import { FIXTURE_WEIGHTS, fixtureInput } from '../support/fixture.js';

let model: LrpModel;
before(async () => {
  model = await LrpModel.load({ weights: FIXTURE_WEIGHTS });
});
after(() => model.dispose());

/** Three different images: the fixture, its mirror image, and a shifted brightness variant. */
function images(): Float32Array[] {
  const base = fixtureInput();
  const mirrored = new Float32Array(base.length);
  for (let y = 0; y < 224; y++) {
    for (let x = 0; x < 224; x++) {
      for (let c = 0; c < 3; c++) mirrored[(y * 224 + x) * 3 + c] = base[(y * 224 + (223 - x)) * 3 + c]!;
    }
  }
  const brighter = base.map((v) => v + 20);
  return [base, mirrored, brighter];
}

test('batch of 3 with different targets equals 3 single runs', async () => {
  const inputs = images();
  const targets = [undefined, 281, 5];
  const batch = await model.computeLrpBatch(inputs, { classIndices: targets, debug: true });
  assert.equal(batch.length, 3);
  for (let i = 0; i < 3; i++) {
    const single = await model.computeLrp(inputs[i]!, { classIndex: targets[i], debug: true });
    assert.equal(batch[i]!.targetClass, single.targetClass);
    assert.equal(batch[i]!.startRelevance, single.startRelevance);
    let worst = 0;
    for (let k = 0; k < single.relevance.data.length; k++) {
      worst = Math.max(worst, Math.abs(batch[i]!.relevance.data[k]! - single.relevance.data[k]!));
    }
    const scale = single.relevance.data.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    assert.ok(worst <= 1e-5 * scale, `image ${i}: batch differs from single run by ${worst} (scale ${scale})`);
  }
  assert.equal(batch[1]!.targetClass, 281);
  assert.equal(batch[2]!.targetClass, 5);
  assert.equal(batch[0]!.targetClass, batch[0]!.classIndex);
  // Different images and targets really give different maps.
  assert.notDeepEqual(batch[0]!.attribution.data, batch[1]!.attribution.data);
});

test('a batch given as one NHWC tensor equals the array form', async () => {
  const inputs = images();
  const data = new Float32Array(3 * 224 * 224 * 3);
  inputs.forEach((x, i) => data.set(x, i * x.length));
  const fromTensor = await model.computeLrpBatch({ data, shape: [3, 224, 224, 3] });
  const fromArray = await model.computeLrpBatch(inputs);
  for (let i = 0; i < 3; i++) assert.deepEqual(fromTensor[i]!.attribution.data, fromArray[i]!.attribution.data);
});
