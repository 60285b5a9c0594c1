/**
 * Library calls with wrong types (issue 10, item 13) get a TypeError naming the argument, and
 * non-finite results are recognised (item 4).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { LrpResNet50, type LrpResult } from '../../src/lrp-resnet.js';
import { nonFiniteIn } from '../../src/runtime/result-checks.js';
import { FIXTURE_WEIGHTS, fixtureInput } from '../support/fixture.js';

let model: LrpResNet50;
let x: Float32Array;
before(async () => {
  model = await LrpResNet50.load({ weights: FIXTURE_WEIGHTS });
  x = await fixtureInput();
});
after(() => model.dispose());

test('a plain number[] is refused with a TypeError that says to pass a Float32Array (no giant allocation)', async () => {
  const plain = Array.from(x);
  await assert.rejects(model.computeLrp(plain as unknown as Float32Array), {
    name: 'TypeError',
    message: 'input is a plain array of 150528 numbers: pass a Float32Array (e.g. Float32Array.from(values)); an array is read as a batch of images',
  });
  await assert.rejects(model.predict(plain as unknown as Float32Array), { name: 'TypeError', message: /plain array of 150528 numbers/ });
});

test('null, undefined, strings and numbers are TypeErrors naming the input', async () => {
  for (const [value, shown] of [[null, 'null'], [undefined, 'undefined'], ['cat.jpg', 'string "cat.jpg"'], [42, 'number 42']] as const) {
    await assert.rejects(model.computeLrp(value as unknown as Float32Array), { name: 'TypeError', message: new RegExp(`^input must be a Float32Array .* got ${shown}$`) });
  }
  await assert.rejects(model.computeLrpBatch([x, 'y' as unknown as Float32Array]), { name: 'TypeError', message: /image 1 must be a Float32Array .* got string "y"/ });
});

test('a hole in a sparse batch is refused, not explained as a zero image', async () => {
  const sparse: Float32Array[] = [x];
  sparse[2] = x;
  await assert.rejects(model.computeLrpBatch(sparse), { name: 'TypeError', message: 'input[1] is missing (a hole in the array)' });
});

test('a class index that is not a number is a TypeError, not "out of range"', async () => {
  await assert.rejects(model.computeLrp(x, { classIndex: '5' as unknown as number }), {
    name: 'TypeError',
    message: 'class index (image 0) must be an integer number, got string "5"',
  });
  await assert.rejects(model.computeLrpBatch([x], { classIndices: 5 as unknown as number[] }), { name: 'TypeError', message: /classIndices must be an array/ });
  await assert.rejects(model.computeLrp(x, { classIndex: 1000 }), { name: 'RangeError', message: /class index 1000 \(image 0\) is out of range/ });
});

test('calls after dispose() are refused with a clear message; dispose twice is harmless', async () => {
  const own = await LrpResNet50.load({ weights: FIXTURE_WEIGHTS });
  await own.predict(x);
  await own.dispose();
  await own.dispose();
  await assert.rejects(own.predict(x), /this model was disposed .*: load a new one/);
  await assert.rejects(own.computeLrp(x), /this model was disposed/);
});

test('nonFiniteIn finds NaN / Inf anywhere in a result, and passes a real one', async () => {
  const real = await model.computeLrp(x, { debug: true });
  assert.equal(nonFiniteIn(real), undefined);
  const map = real.attribution.data.slice();
  map[7] = NaN;
  const broken: LrpResult = { ...real, attribution: { data: map, shape: real.attribution.shape } };
  assert.equal(nonFiniteIn(broken), 'the attribution map contains NaN (at index 7)');
  assert.equal(nonFiniteIn({ ...real, startRelevance: Infinity }), 'the start relevance is Infinity');
  assert.equal(nonFiniteIn({ ...real, conservationError: NaN }), 'the conservation error is NaN');
});

test('an input of 3e38 (finite, but overflowing) gives a result that nonFiniteIn refuses', async () => {
  const huge = x.map((v, i) => (i % 2 ? 3e38 : v));
  const result = await model.computeLrp(huge, { debug: true });
  assert.notEqual(nonFiniteIn(result), undefined);
});
