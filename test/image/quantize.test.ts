import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_QUANTIZE_LEVELS, MAX_QUANTIZE_LEVELS, quantizeHeat } from '../../src/image/quantize.js';

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
    for (const levels of [1, 0, -3, 2.5, NaN, Infinity, MAX_QUANTIZE_LEVELS + 1, 1e9]) {
      assert.throws(() => quantizeHeat(map, levels), { name: 'RangeError', message: /levels must be an integer in 2\.\.65536/ });
    }
    assert.throws(() => quantizeHeat(Float32Array.from([0, NaN, 1])), /non-finite value \(NaN\) at index 1/);
  });

  it('at the upper bound matches numpy (b = linspace(min, max, levels), b[digitize(x, b) - 1])', () => {
    // More levels than values: a bound above the map's 50 176 values must stay exact.
    assert.ok(MAX_QUANTIZE_LEVELS >= 224 * 224);
    const map = Float32Array.from({ length: 5000 }, (_, i) => Math.sin(i * 0.37) * 7 + i * 1e-3);
    const levels = MAX_QUANTIZE_LEVELS;
    let min = Infinity;
    let max = -Infinity;
    for (const v of map) [min, max] = [Math.min(min, v), Math.max(max, v)];
    const step = (max - min) / (levels - 1);
    const b = Float64Array.from({ length: levels }, (_, k) => min + k * step);
    b[levels - 1] = max;
    // digitize by binary search: the last edge ≤ v.
    const expected = Float32Array.from(map, (v) => {
      let lo = 0;
      let hi = levels - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (b[mid]! <= v) lo = mid;
        else hi = mid - 1;
      }
      return b[lo]!;
    });
    assert.deepEqual(quantizeHeat(map, levels), expected);
  });
});
