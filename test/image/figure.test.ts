import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { colorize } from '../../src/image/colormap.js';
import {
  blendOverlay,
  escapeXml,
  figureLayout,
  FIGURE_MARGIN,
  FIGURE_ZOOM,
  figureZoom,
  formatScaleValue,
  PANEL_GAP,
  renderFigure,
  renderHeatmap,
  writeFigure,
  type Rect,
} from '../../src/image/figure.js';
import { figurePieces } from '../../src/image/figure-parts.js';
import { quantizeHeat } from '../../src/image/quantize.js';

// A small non-square image, so swapped axes would show.
const W = 20;
const H = 12;

function testImage(): { rgb: Uint8Array; width: number; height: number } {
  const rgb = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = (y * W + x) * 3;
      rgb[i] = (x * 13) % 256;
      rgb[i + 1] = (y * 21) % 256;
      rgb[i + 2] = ((x + y) * 7) % 256;
    }
  }
  return { rgb, width: W, height: H };
}

/** Signed attribution: positive on the left, negative on the right, zero in the middle column. */
function testAttribution(): Float32Array {
  const a = new Float32Array(W * H);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) a[y * W + x] = ((10 - x) * (y + 1)) / 10;
  return a;
}

async function decode(png: Buffer): Promise<{ data: Buffer; width: number; height: number; channels: number }> {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

/** Asserts that `panel` of the decoded figure shows `rgb` (`width` wide) upscaled by `zoom` (nearest). */
function assertPanel(figure: { data: Buffer; width: number; channels: number }, panel: Rect, rgb: Uint8Array, zoom: number, what: string, width = W): void {
  for (let y = 0; y < panel.height; y++) {
    for (let x = 0; x < panel.width; x++) {
      const f = ((panel.top + y) * figure.width + panel.left + x) * figure.channels;
      const s = (Math.floor(y / zoom) * width + Math.floor(x / zoom)) * 3;
      if (figure.data[f] !== rgb[s] || figure.data[f + 1] !== rgb[s + 1] || figure.data[f + 2] !== rgb[s + 2]) {
        assert.fail(`${what}: pixel (${x}, ${y}) is ${[...figure.data.subarray(f, f + 3)]}, expected ${[...rgb.subarray(s, s + 3)]}`);
      }
    }
  }
}

describe('figureLayout', () => {
  it('puts three zoomed panels side by side with the colour bar under the heatmap', () => {
    const layout = figureLayout(224, 224);
    assert.equal(layout.zoom, FIGURE_ZOOM);
    const { original, heatmap, overlay } = layout.panels;
    for (const p of [original, heatmap, overlay]) {
      assert.equal(p.width, 224 * FIGURE_ZOOM);
      assert.equal(p.height, 224 * FIGURE_ZOOM);
      assert.equal(p.top, original.top);
    }
    assert.equal(heatmap.left, original.left + original.width + PANEL_GAP);
    assert.equal(overlay.left, heatmap.left + heatmap.width + PANEL_GAP);
    assert.equal(layout.width, overlay.left + overlay.width + FIGURE_MARGIN);
    assert.ok(layout.colorbar.left >= heatmap.left && layout.colorbar.left + layout.colorbar.width <= heatmap.left + heatmap.width);
    assert.ok(layout.colorbar.top > heatmap.top + heatmap.height);
    assert.ok(layout.height > layout.tickLabelBaseline && layout.titleBaseline < layout.captionBaseline && layout.captionBaseline < original.top);
    assert.throws(() => figureLayout(224, 224, 1.5), /zoom must be a positive integer/);
  });

  it('zooms small images until the longer side is at least 256 pixels, never below 2', () => {
    assert.equal(figureZoom(224, 224), 2);
    assert.equal(figureZoom(32, 32), 8);
    assert.equal(figureZoom(W, H), 13); // ceil(256 / 20)
    assert.equal(figureZoom(1000, 50), 2);
    assert.equal(figureLayout(32, 32).panels.heatmap.width, 256);
    assert.equal(figureLayout(32, 32, 3).zoom, 3, 'an explicit zoom wins');
  });
});

describe('renderFigure', () => {
  it('draws the input, the heatmap and the 50 % overlay pixel for pixel', async () => {
    const image = testImage();
    const attribution = testAttribution();
    const png = await renderFigure({ image, attribution, title: 'tabby, tabby cat (281) — 87.3 %' });
    const figure = await decode(png);
    const layout = figureLayout(W, H);
    const zoom = figureZoom(W, H);
    assert.equal(figure.width, layout.width);
    assert.equal(figure.height, layout.height);
    assert.equal(figure.channels, 3);
    assert.equal(figure.width, 2 * FIGURE_MARGIN + 3 * W * zoom + 2 * PANEL_GAP);

    const heat = colorize(attribution);
    const overlay = blendOverlay(image.rgb, heat);
    assertPanel(figure, layout.panels.original, image.rgb, zoom, 'original');
    assertPanel(figure, layout.panels.heatmap, heat, zoom, 'heatmap');
    assertPanel(figure, layout.panels.overlay, overlay, zoom, 'overlay');

    // One point spelled out: (x, y) = (3, 5), value (10 − 3)·6/10 = 4.2 of max 12 → light red.
    const [x, y] = [3, 5];
    const p = layout.panels.overlay;
    const f = ((p.top + y * zoom + 1) * figure.width + p.left + x * zoom + 1) * 3;
    const s = (y * W + x) * 3;
    for (let c = 0; c < 3; c++) assert.equal(figure.data[f + c], Math.round((image.rgb[s + c]! + heat[s + c]!) / 2));
    assert.deepEqual([...heat.subarray(s, s + 3)], [255, Math.round(255 * (1 - 4.2 / 12)), Math.round(255 * (1 - 4.2 / 12))]);
  });

  it('draws a 32 × 32 input 8× larger: every map pixel an 8 × 8 block of its colour (no smoothing), with the class name in the title', async () => {
    const side = 32;
    // A checkerboard of signs with a gradient: neighbouring pixels differ, so any smoothing would show.
    const attribution = Float32Array.from({ length: side * side }, (_, i) => ((i % side) + Math.floor(i / side)) % 2 === 0 ? (i % 7) + 1 : -((i % 5) + 1));
    const rgb = Uint8Array.from({ length: side * side * 3 }, (_, i) => (i * 37) % 256);
    const title = 'cat (3) — 91.0 %';
    const options = { image: { rgb, width: side, height: side }, attribution, title };
    const figure = await decode(await renderFigure(options));
    const layout = figureLayout(side, side);
    assert.equal(layout.zoom, 8);
    assert.equal(layout.panels.heatmap.width, 256);
    assert.equal(figure.width, layout.width);
    assertPanel(figure, layout.panels.heatmap, colorize(attribution), 8, '32×32 heatmap', side);
    assertPanel(figure, layout.panels.original, rgb, 8, '32×32 input', side);
    // The title is drawn at full size: the panels are wide enough for it (no shrinking to fit).
    assert.match(figurePieces(options).svg, /font-size="20" text-anchor="middle" font-weight="bold">cat \(3\) — 91\.0 %</);
  });

  it('draws a colour bar running from blue through white to red', async () => {
    const figure = await decode(await renderFigure({ image: testImage(), attribution: testAttribution(), title: 't', zoom: 8 }));
    const bar = figureLayout(W, H, 8).colorbar;
    const at = (x: number): number[] => {
      const i = ((bar.top + bar.height / 2) * figure.width + x) * 3;
      return [...figure.data.subarray(i, i + 3)];
    };
    const left = at(bar.left + 1);
    const middle = at(bar.left + Math.floor(bar.width / 2));
    const right = at(bar.left + bar.width - 2);
    assert.ok(left[2]! > 240 && left[0]! < 20, `left end ${left}`);
    assert.ok(middle.every((v) => v > 245), `middle ${middle}`);
    assert.ok(right[0]! > 240 && right[2]! < 20, `right end ${right}`);
  });

  it('quantizes and uses other colormaps when asked', async () => {
    const image = testImage();
    const attribution = testAttribution();
    const layout = figureLayout(W, H);
    const q = await decode(await renderFigure({ image, attribution, title: 'q', quantize: 3, colormap: 'RdBu_r' }));
    assertPanel(q, layout.panels.heatmap, colorize(quantizeHeat(attribution, 3), { colormap: 'RdBu_r' }), layout.zoom, 'quantized heatmap');
    const pos = await decode(await renderFigure({ image, attribution, title: 'p', positiveOnly: true }));
    assertPanel(pos, layout.panels.heatmap, colorize(attribution, { positiveOnly: true }), layout.zoom, 'positive-only heatmap');
  });

  it('escapes XML in the title (an unescaped "<" would break the SVG)', async () => {
    assert.equal(escapeXml(`a <b> & "c" 'd'`), 'a &lt;b&gt; &amp; &quot;c&quot; &apos;d&apos;');
    const png = await renderFigure({ image: testImage(), attribution: testAttribution(), title: '<script>&amp; "x" </g></svg>' });
    assert.equal((await sharp(png).metadata()).format, 'png');
  });

  it('renders an all-zero attribution (scale 0) without failing', async () => {
    const figure = await decode(await renderFigure({ image: testImage(), attribution: new Float32Array(W * H), title: 'zero' }));
    const p = figureLayout(W, H).panels.heatmap;
    const i = ((p.top + 3) * figure.width + p.left + 3) * 3;
    assert.deepEqual([...figure.data.subarray(i, i + 3)], [255, 255, 255]);
  });

  it('rejects mismatched sizes', async () => {
    await assert.rejects(renderFigure({ image: testImage(), attribution: new Float32Array(W * H - 1), title: 'x' }), /attribution has 239 values, expected 20×12 = 240/);
    const image = { ...testImage(), rgb: new Uint8Array(5) };
    await assert.rejects(renderFigure({ image, attribution: testAttribution(), title: 'x' }), /image.rgb has 5 bytes/);
  });
});

describe('renderHeatmap', () => {
  it('is the colorized map alone, zoomed with nearest neighbour', async () => {
    const attribution = testAttribution();
    const heat = await decode(await renderHeatmap({ attribution, width: W, height: H, zoom: 3 }));
    assert.equal(heat.width, W * 3);
    assert.equal(heat.height, H * 3);
    assertPanel(heat, { left: 0, top: 0, width: W * 3, height: H * 3 }, colorize(attribution), 3, 'heatmap');
  });
});

describe('writeFigure', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'resnet-lrp-figure-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes a decodable PNG', async () => {
    const path = join(dir, 'ok', 'figure.png');
    await writeFigure(path, { image: testImage(), attribution: testAttribution(), title: 'ok' });
    const meta = await sharp(await readFile(path)).metadata();
    assert.equal(meta.format, 'png');
    assert.equal(meta.width, figureLayout(W, H).width);
    assert.deepEqual(await readdir(join(dir, 'ok')), ['figure.png']);
  });

  it('leaves no file, and no temporary file, when rendering fails', async () => {
    const sub = join(dir, 'fail');
    const path = join(sub, 'figure.png');
    await assert.rejects(writeFigure(path, { image: testImage(), attribution: new Float32Array(3), title: 'bad' }));
    const left = await readdir(sub).catch(() => []);
    assert.deepEqual(left, []);
  });

  it('keeps the previous file intact when a rewrite fails', async () => {
    const path = join(dir, 'ok', 'figure.png');
    const before = await readFile(path);
    await assert.rejects(writeFigure(path, { image: testImage(), attribution: testAttribution(), title: 'x', quantize: 1 }), /levels/);
    assert.deepEqual(await readFile(path), before);
    assert.deepEqual(await readdir(join(dir, 'ok')), ['figure.png']);
  });
});

describe('helpers', () => {
  it('blendOverlay averages image and heatmap (rounding half up)', () => {
    assert.deepEqual(Array.from(blendOverlay(Uint8Array.from([0, 255, 100]), Uint8Array.from([255, 255, 1]))), [128, 255, 51]);
    assert.deepEqual(Array.from(blendOverlay(Uint8Array.from([0, 200]), Uint8Array.from([100, 0]), 0.25)), [25, 150]);
    assert.throws(() => blendOverlay(new Uint8Array(3), new Uint8Array(6)), /image has 3 bytes, heatmap 6/);
  });

  it('formatScaleValue keeps three significant digits', () => {
    assert.equal(formatScaleValue(0), '0');
    assert.equal(formatScaleValue(0.0031), '0.0031');
    assert.equal(formatScaleValue(12.3456), '12.3');
    assert.equal(formatScaleValue(123456), '1.23e+05');
    assert.equal(formatScaleValue(1.5e-7), '1.50e-07');
  });
});

describe('text XML cannot hold (issue 14, item 11)', () => {
  it('a vertical tab or a lone surrogate in a title is shown escaped, and the figure renders', async () => {
    assert.equal(escapeXml('a\u000bb\u0000c<d\ud800e\ud83d\ude00'), 'a\\x0bb\\x00c&lt;d\ufffde\ud83d\ude00');
    const { rgb, width, height } = testImage();
    const attribution = new Float32Array(width * height).map((_, i) => (i % 7) - 3);
    const png = await renderFigure({ image: { rgb, width, height }, attribution, title: 'class\u000bname: 97 %', quantize: false, positiveOnly: false });
    const meta = await sharp(png).metadata();
    assert.equal(meta.format, 'png');
  });
});
