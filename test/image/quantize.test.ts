import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_QUANTIZE_LEVELS, quantizeHeat } from '../../src/image/quantize.js';

describe('quantizeHeat', () => {
  it('maps [b_k, b_k+1) to b_k, bin edges included, and keeps the maximum', () => {
    // min −1, max 3, 5 levels → b = [−1, 0, 1, 2, 3].
    const map = Float32Array.from([-1, -0.5, 0, 0.5, 1, 1.5, 2, 2.5, 3, 0.99]);
    assert.deepEqual(Array.from(quantizeHeat(map, 5)), [-1, -1, 0, 0, 1, 1, 2, 2, 3, 0]);
  });

  it('works with edges that are not representable exactly (b = linspace(0, 7, 4))', () => {
    const map = Float32Array.from([0, 1, 2, 2.4, 3, 4, 4.7, 5, 6, 6.99, 7]);
    const b = [0, 7 / 3, 14 / 3, 7].map(Math.fround);
    assert.deepEqual(Array.from(quantizeHeat(map, 4)), [b[0], b[0], b[0], b[1], b[1], b[1], b[2], b[2], b[2], b[2], b[3]]);
  });

  it('with 2 levels everything below the maximum becomes the minimum', () => {
    assert.deepEqual(Array.from(quantizeHeat(Float32Array.from([5, -2, 4.9, 0, 5]), 2)), [5, -2, -2, -2, 5]);
  });

  it('defaults to 8 levels and produces at most that many values, min and max included', () => {
    assert.equal(DEFAULT_QUANTIZE_LEVELS, 8);
    const map = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 3);
    const q = quantizeHeat(map);
    const values = new Set(q);
    assert.ok(values.size <= 8, `${values.size} levels`);
    assert.equal(Math.max(...q), Math.max(...map));
    assert.equal(Math.min(...q), Math.min(...map));
    // Never rounds up: every value is at or above its level.
    for (let i = 0; i < map.length; i++) assert.ok(q[i]! <= map[i]!);
  });

  it('returns a constant map unchanged (as a new array)', () => {
    const map = Float32Array.from([0.25, 0.25, 0.25]);
    const q = quantizeHeat(map, 8);
    assert.deepEqual(q, map);
    assert.notEqual(q, map);
    assert.deepEqual(quantizeHeat(new Float32Array(0)), new Float32Array(0));
  });

  it('validates levels and rejects non-finite values', () => {
    const map = Float32Array.from([0, 1]);
    for (const levels of [1, 0, -3, 2.5, NaN, Infinity]) {
      assert.throws(() => quantizeHeat(map, levels), /levels must be an integer ≥ 2/);
    }
    assert.throws(() => quantizeHeat(Float32Array.from([0, NaN, 1])), /non-finite value \(NaN\) at index 1/);
  });
});
