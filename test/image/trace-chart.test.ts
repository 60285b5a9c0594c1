/**
 * The conservation trace chart: one point per trace entry, in order, heights by sum; and
 * `explain --format trace` writes it as a PNG per image.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { main } from '../../src/cli/main.js';
import { traceChartSvg } from '../../src/image/trace-chart.js';
import { FIXTURE_WEIGHTS, SAMPLES_DIR } from '../support/fixture.js';

function points(svg: string): [number, number][] {
  const list = /<polyline points="([^"]+)"/.exec(svg)![1]!;
  return list.split(' ').map((p) => p.split(',').map(Number) as [number, number]);
}

test('trace chart: one point per block, left to right, higher sums higher up', () => {
  const trace = [{ name: 'start', sum: 2 }, { name: 'block <2>', sum: 1.5 }, { name: 'input', sum: -0.5 }];
  const svg = traceChartSvg({ trace });
  const xy = points(svg);
  assert.equal(xy.length, 3);
  assert.ok(xy[0]![0] < xy[1]![0] && xy[1]![0] < xy[2]![0]);
  // SVG y grows downwards.
  assert.ok(xy[0]![1] < xy[1]![1] && xy[1]![1] < xy[2]![1]);
  assert.match(svg, /block &lt;2&gt;/);
  assert.throws(() => traceChartSvg({ trace: [] }), /the trace is empty/);
});

test('explain --format trace writes <name>.trace.png', async () => {
  const out = await mkdtemp(join(tmpdir(), 'resnet-lrp-trace-'));
  try {
    let stderr = '';
    // No compile cache in the user's home.
    const io = { stdout: { write: () => true }, stderr: { write: (s: string) => ((stderr += s), true) }, env: { RESNET_LRP_NO_CACHE: '1' } };
    const code = await main(['explain', join(SAMPLES_DIR, 'chelsea.png'), '--weights', FIXTURE_WEIGHTS, '--format', 'trace', '--out', out, '-q'], io);
    assert.equal(code, 0, stderr);
    assert.deepEqual(await readdir(out), ['chelsea.trace.png']);
    const { info, data } = await sharp(await readFile(join(out, 'chelsea.trace.png'))).raw().toBuffer({ resolveWithObject: true });
    assert.ok(info.width >= 480 && info.height === 360);
    // The line is drawn in its own red (#c0392b): the chart is not blank.
    let red = 0;
    for (let i = 0; i < data.length; i += info.channels) if (data[i]! > 150 && data[i + 1]! < 90 && data[i + 2]! < 80) red++;
    assert.ok(red > 200, `only ${red} red pixels`);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});
