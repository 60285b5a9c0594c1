import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { COLORMAP_NAMES, colorize, colormapColor, colorScale, isDiverging, type ColormapName } from '../../src/image/colormap.js';

/** The colours of a colorized map as [r, g, b] triples. */
function colours(map: number[], options: Parameters<typeof colorize>[1] = {}): number[][] {
  const rgb = colorize(Float32Array.from(map), options);
  assert.equal(rgb.length, map.length * 3);
  return Array.from({ length: map.length }, (_, i) => Array.from(rgb.subarray(i * 3, i * 3 + 3)));
}

describe('colorize (diverging, symmetric scale)', () => {
  it('bwr: 0 → white, +max → red, −max → blue, halfway → half-saturated', () => {
    assert.deepEqual(colours([0, 2, -2, 1, -1]), [
      [255, 255, 255],
      [255, 0, 0],
      [0, 0, 255],
      [255, 128, 128],
      [128, 128, 255],
    ]);
  });

  it('RdBu_r: 0 → #f7f7f7, +max → #67001f (dark red), −max → #053061 (dark blue)', () => {
    assert.deepEqual(colours([0, 3, -3], { colormap: 'RdBu_r' }), [
      [0xf7, 0xf7, 0xf7],
      [0x67, 0x00, 0x1f],
      [0x05, 0x30, 0x61],
    ]);
    // Between anchors the table is interpolated linearly: t = 0.05 is halfway from #053061 to #2166ac.
    assert.deepEqual(colormapColor('RdBu_r', 0.05), [19, 75, 135]);
    // The anchor at t = 0.6 is #fddbc7 (light red).
    assert.deepEqual(colormapColor('RdBu_r', 0.6), [0xfd, 0xdb, 0xc7]);
  });

  it('uses one scale for both signs: max |value|, not min and max separately', () => {
    // min = −4, max = 1: a min–max scale would paint 1 fully red; the symmetric one gives t = 0.625.
    const [one, minusFour] = colours([1, -4]);
    assert.deepEqual(minusFour, [0, 0, 255]);
    assert.deepEqual(one, colormapColor('bwr', 0.625));
    assert.deepEqual(one, [255, 191, 191]);
    assert.equal(colorScale(Float32Array.from([1, -4])), 4);
  });

  it('is symmetric: v and −v get mirrored colours', () => {
    for (const colormap of ['bwr', 'RdBu_r'] as const) {
      const values = [0.1, 0.37, 0.5, 0.81, 1];
      const pos = colours(values, { colormap, scale: 1 });
      const neg = colours(values.map((v) => -v), { colormap, scale: 1 });
      for (let i = 0; i < values.length; i++) {
        const distance = (c: number[], end: readonly number[]) => Math.hypot(c[0]! - end[0]!, c[1]! - end[1]!, c[2]! - end[2]!);
        // Equal distance from the middle colour (in anchor-table terms) for bwr; for both: the
        // positive side is reddish, the negative side bluish.
        assert.ok(pos[i]![0]! >= pos[i]![2]!, `${colormap} ${values[i]} should be red-ish: ${pos[i]}`);
        assert.ok(neg[i]![2]! >= neg[i]![0]!, `${colormap} −${values[i]} should be blue-ish: ${neg[i]}`);
        if (colormap === 'bwr') {
          assert.deepEqual(neg[i], [pos[i]![2], pos[i]![1], pos[i]![0]]);
          assert.equal(distance(pos[i]!, [255, 255, 255]), distance(neg[i]!, [255, 255, 255]));
        }
      }
    }
  });

  it('an all-zero map is uniformly the middle colour (no NaN)', () => {
    const rgb = colorize(new Float32Array(10));
    assert.ok(rgb.every((v) => v === 255));
    const rdbu = colorize(new Float32Array(4), { colormap: 'RdBu_r' });
    assert.ok(rdbu.every((v) => v === 0xf7));
  });

  it('NaN maps to the colour of 0, infinities saturate without spoiling the scale', () => {
    assert.deepEqual(colours([NaN, 1, Infinity, -Infinity]), [
      [255, 255, 255],
      [255, 0, 0],
      [255, 0, 0],
      [0, 0, 255],
    ]);
  });

  it('an explicit scale saturates beyond it', () => {
    assert.deepEqual(colours([1, 4, -4], { scale: 2 }), [
      [255, 128, 128],
      [255, 0, 0],
      [0, 0, 255],
    ]);
    assert.throws(() => colorize(new Float32Array(1), { scale: -1 }), /scale must be/);
  });
});

describe('colorize (positive only)', () => {
  it('defaults to Reds: 0 and negatives → #fff5f0, max → #67000d', () => {
    assert.deepEqual(colours([0, -5, 2, 1], { positiveOnly: true }), [
      [0xff, 0xf5, 0xf0],
      [0xff, 0xf5, 0xf0],
      [0x67, 0x00, 0x0d],
      [...colormapColor('Reds', 0.5)],
    ]);
  });

  it('scales by the positive maximum, ignoring larger negative values', () => {
    const [half] = colours([1, 2, -10], { positiveOnly: true, colormap: 'hot' });
    assert.deepEqual(half, colormapColor('hot', 0.5));
  });

  it('with a diverging map uses its white → red half', () => {
    assert.deepEqual(colours([0, -1, 1, 0.5], { positiveOnly: true, colormap: 'bwr' }), [
      [255, 255, 255],
      [255, 255, 255],
      [255, 0, 0],
      [255, 128, 128],
    ]);
  });

  it('a sequential map implies positive-only and rejects an explicit positiveOnly: false', () => {
    assert.deepEqual(colours([-1, 1], { colormap: 'hot' }), [
      [0, 0, 0],
      [255, 255, 255],
    ]);
    assert.throws(() => colorize(new Float32Array(1), { colormap: 'Reds', positiveOnly: false }), /sequential/);
  });
});

describe('colormap registry', () => {
  it('lists every colormap and knows which are diverging', () => {
    assert.deepEqual([...COLORMAP_NAMES].sort(), ['RdBu_r', 'Reds', 'bwr', 'hot']);
    assert.deepEqual(COLORMAP_NAMES.filter(isDiverging), ['bwr', 'RdBu_r']);
  });

  it('rejects an unknown name', () => {
    assert.throws(() => colorize(new Float32Array(1), { colormap: 'jet' as ColormapName }), /unknown colormap "jet"/);
  });
});
