/**
 * Conservation on a full-width ResNet50 (seeded random weights built here): the default rules
 * pass the start relevance down to the input with only floating-point losses.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LrpModel } from '../../src/lrp-model.js';
import { fixtureInput } from '../support/fixture.js';

test('full-width ResNet50, default rules: conservation error below 1e-3, and per block', async () => {
  const model = await LrpModel.load({ weights: null, seed: 7 });
  try {
    assert.deepEqual(model.info.inputShape, [3, 224, 224]);
    assert.equal(model.info.classes, 1000);
    for (const classIndex of [undefined, 123]) {
      const result = await model.computeLrp(fixtureInput(), { classIndex, debug: true });
      assert.ok(result.conservationError! < 1e-3, `conservation error ${result.conservationError}`);
      assert.ok(Number.isFinite(result.startRelevance) && result.startRelevance !== 0);
      // Every traced unit keeps the relevance it received (up to floating point).
      const sums = result.trace!.map((t) => t.sum);
      for (let k = 1; k < sums.length; k++) {
        assert.ok(Math.abs(sums[k]! - sums[k - 1]!) <= 1e-3 * Math.abs(sums[0]!), `${result.trace![k]!.name}: ${sums[k]} after ${sums[k - 1]}`);
      }
    }
  } finally {
    await model.dispose();
  }
});

test('symmetric split on the same model also conserves (z+ everywhere, 0.5/0.5 at skips)', async () => {
  const model = await LrpModel.load({ weights: null, seed: 7, rules: { preset: 'symmetric' } });
  try {
    const result = await model.computeLrp(fixtureInput(), { debug: true });
    assert.ok(result.conservationError! < 1e-3, `conservation error ${result.conservationError}`);
  } finally {
    await model.dispose();
  }
});
