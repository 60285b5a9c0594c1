import assert from 'node:assert/strict';
import { test } from 'node:test';
import { weightValueProblem } from '../../src/weights/finite.js';

test('the largest finite float32 values, −0 and a zero variance are usable', () => {
  const max = 3.4028234663852886e38;
  assert.equal(weightValueProblem('kernel', Float32Array.of(max, -max, -0, 0, 1e-45)), undefined);
  assert.equal(weightValueProblem('movingVariance', Float32Array.of(0, -0, 2)), undefined);
});

test('the first non-finite value is named, wherever it is', () => {
  const data = new Float32Array(1000).fill(0.25);
  data[999] = NaN;
  assert.equal(weightValueProblem('bias', data), 'holds NaN at index 999 of 1000: weights must be finite');
  data[3] = -Infinity;
  assert.equal(weightValueProblem('bias', data), 'holds -Infinity at index 3 of 1000: weights must be finite');
  assert.equal(weightValueProblem('kernel', Float32Array.of(Infinity, -Infinity)), 'holds Infinity at index 0 of 2: weights must be finite');
});

test('a negative value is refused in a variance only, naming the first', () => {
  const data = Float32Array.of(1, 2, -0.5, -3);
  assert.equal(weightValueProblem('movingVariance', data), 'variance -0.5 at index 2 is negative');
  assert.equal(weightValueProblem('gamma', data), undefined);
});
