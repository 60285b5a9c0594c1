/** Bad inputs and options fail with errors that name the problem. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { LrpModel } from '../../src/lrp-model.js';
import { FIXTURE_WEIGHTS, fixtureInput } from '../support/fixture.js';

let model: LrpModel;
before(async () => {
  model = await LrpModel.load({ weights: FIXTURE_WEIGHTS });
});
after(() => model.dispose());

test('wrong length, shape and dtype', async () => {
  await assert.rejects(model.computeLrp(new Float32Array(10)), /has 10 values; expected 150528 \(224 × 224 × 3/);
  await assert.rejects(model.computeLrp({ data: new Float32Array(150528), shape: [1, 3, 224, 224] }), /shape \[1, 3, 224, 224\] does not fit the model: expected \[N, 224, 224, 3\]/);
  await assert.rejects(model.computeLrp(new Float64Array(150528) as unknown as Float32Array), /must be a Float32Array .* got Float64Array/);
  await assert.rejects(model.computeLrpBatch([]), /empty batch/);
  await assert.rejects(model.computeLrp({ data: new Float32Array(2 * 150528), shape: [2, 224, 224, 3] }), /takes one image, got a batch of 2/);
});

test('NaN and Inf are refused with their position', async () => {
  const x = fixtureInput();
  x[1234] = Number.NaN;
  await assert.rejects(model.computeLrp(x), /contains NaN at index 1234/);
  x[1234] = Number.POSITIVE_INFINITY;
  await assert.rejects(model.predict(x), /contains Infinity at index 1234/);
});

test('class index out of range or not an integer', async () => {
  const x = fixtureInput();
  await assert.rejects(model.computeLrp(x, { classIndex: 1000 }), /class index 1000 \(image 0\) is out of range: the model has classes 0\.\.999/);
  await assert.rejects(model.computeLrp(x, { classIndex: -1 }), /class index -1/);
  await assert.rejects(model.computeLrp(x, { classIndex: 2.5 }), /class index 2.5/);
  await assert.rejects(model.computeLrpBatch([x], { classIndices: [1, 2] }), /2 class indices for 1 images/);
});

test('invalid rule options', async () => {
  await assert.rejects(LrpModel.load({ weights: FIXTURE_WEIGHTS, rules: { preset: 'nope' as never } }), /unknown LRP preset "nope"/);
  await assert.rejects(LrpModel.load({ weights: FIXTURE_WEIGHTS, rules: { conv: { name: 'gamma', gamma: -1 } } }), /gamma must be a finite number ≥ 0/);
  await assert.rejects(LrpModel.load({ weights: FIXTURE_WEIGHTS, rules: { layers: { conv9_block1_1_conv: 'zplus' } } }), /rule override for "conv9_block1_1_conv": model resnet50 has no such node/);
  await assert.rejects(LrpModel.load({ weights: FIXTURE_WEIGHTS, rules: { conv: 'zb' } }), /the zb rule needs input bounds, so it only applies to the first layer \(conv1_conv\)/);
  await assert.rejects(LrpModel.load({ weights: FIXTURE_WEIGHTS, rules: { split: 'half' as never } }), /split must be one of "ratio", "ratio-no-fallback", "symmetric", "gradient", got "half"/);
});

test('the official start explains the predicted class only, and says so when a class is chosen', async () => {
  const official = await LrpModel.load({ weights: FIXTURE_WEIGHTS, rules: { preset: 'official' } });
  try {
    const x = fixtureInput();
    await assert.rejects(official.computeLrp(x, { classIndex: 5 }), /start rule "softmax-predicted" explains the predicted class only .* use start: 'softmax'/);
    const result = await official.computeLrp(x);
    assert.equal(result.targetClass, result.classIndex);
    assert.ok(Math.abs(result.startRelevance - result.probabilities[result.classIndex]!) < 1e-6);
  } finally {
    await official.dispose();
  }
});
