/**
 * Weight files that declare more than they hold, hold non-finite values, or store a scalar
 * where a vector belongs: refused with the layer named, before large allocations.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { after, test } from 'node:test';
import { buildResNet, kerasResNetSpec } from '../../src/model/resnet.js';
import type { ParamTensor } from '../../src/model/layers.js';
import { bindWeights, checkKerasShapes } from '../../src/weights/bind.js';
import { readKerasH5 } from '../../src/weights/keras-h5.js';
import { FIXTURE_H5, REPO_ROOT, removeTempFiles, tempPath, writeKerasH5, type H5Layer, type WriteOptions } from './h5-helpers.js';

after(removeTempFiles);

const graphW8 = buildResNet(kerasResNetSpec(50, { baseWidth: 8 }));
const fixture = readKerasH5(FIXTURE_H5);

async function writeFixtureVariant(name: string, edit: (layer: string, weight: string, t: ParamTensor) => ParamTensor, options: WriteOptions = {}): Promise<string> {
  const file = await fixture;
  const layers: H5Layer[] = file.layerNames.map((layer) => ({
    name: layer,
    weights: [...(file.layers.get(layer) ?? new Map<string, ParamTensor>()).entries()].map(([w, t]) => ({ name: w, tensor: edit(layer, w, t) })),
  }));
  const path = tempPath(name);
  await writeKerasH5(path, layers, options);
  return path;
}

function withValue(t: ParamTensor, index: number, value: number): ParamTensor {
  const data = t.data.slice();
  data[index] = value;
  return { data, shape: t.shape };
}

test('a NaN kernel, an Inf bias and a negative BN variance are refused naming the layer', async () => {
  const cases: [string, string, number, RegExp][] = [
    ['conv3_block1_2_conv', 'kernel', NaN, /layer conv3_block1_2_conv kernel: holds NaN at index 5 of \d+: weights must be finite/],
    ['predictions', 'bias', Infinity, /layer predictions bias: holds Infinity at index 5/],
    ['conv1_bn', 'movingVariance', -0.5, /layer conv1_bn movingVariance: variance -0.5 at index 5 is negative/],
  ];
  for (const [layer, weight, value, message] of cases) {
    const path = await writeFixtureVariant(`${layer}.h5`, (l, w, t) => (l === layer && w === weight ? withValue(t, 5, value) : t));
    const file = await readKerasH5(path, `${layer}.h5`);
    assert.throws(() => bindWeights(graphW8, file), message);
  }
});

test('a scalar bias is a shape error ("found []"), not a dtype error', async () => {
  const path = await writeFixtureVariant('scalar.h5', (l, w, t) => (l === 'conv1_conv' && w === 'bias' ? { data: Float32Array.of(0.5), shape: [] } : t));
  const file = await readKerasH5(path, 'scalar.h5');
  assert.throws(() => bindWeights(graphW8, file), /scalar\.h5: layer conv1_conv bias: expected \[8\], found \[\]/);
});

test('an uncompressed dataset declared larger than the file is refused before it is read', async () => {
  const path = await writeFixtureVariant('grown.h5', (_, __, t) => t, {
    grow: { layer: 'conv2_block1_1_conv', weight: 'kernel', shape: [1, 1, 8, 1 << 24], compress: false },
  });
  assert.ok((await stat(path)).size < 4_000_000);
  await assert.rejects(readKerasH5(path, 'grown.h5'), /grown\.h5: layer conv2_block1_1_conv kernel: declares shape \[1,1,8,16777216\] \(536870912 bytes\), more than the whole file/);
});

test('a compressed dataset declared huge: shapes are checked against the model before any value is read (peak RSS)', async () => {
  // 2^27 float32 = 512 MB declared in a file of a few MB. Measured in a child process.
  const path = await writeFixtureVariant('bomb.h5', (_, __, t) => t, {
    grow: { layer: 'conv2_block1_1_conv', weight: 'kernel', shape: [1, 1, 8, 1 << 24], compress: true },
  });
  assert.ok((await stat(path)).size < 4_000_000);
  const script = `
    const { readKerasH5 } = await import(${JSON.stringify(`${REPO_ROOT}dist/src/weights/keras-h5.js`)});
    const { checkKerasShapes } = await import(${JSON.stringify(`${REPO_ROOT}dist/src/weights/bind.js`)});
    let message = 'no error';
    try { await readKerasH5(process.argv[1], 'bomb.h5', { checkShapes: checkKerasShapes() }); } catch (e) { message = e.message; }
    console.log(JSON.stringify({ message, peakMB: process.resourceUsage().maxRSS / 1024 }));`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script, path], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(child.status, 0, child.stderr);
  const { message, peakMB } = JSON.parse(child.stdout) as { message: string; peakMB: number };
  assert.match(message, /^bomb\.h5: layer conv2_block1_1_conv kernel: expected \[1,1,8,8\], found \[1,1,8,16777216\]/);
  // Reading the declared values alone would take 512 MB (measured without the check: 1.6 GB peak).
  assert.ok(peakMB < 300, `peak RSS ${peakMB.toFixed(0)} MB`);
  // The check is the one bindWeights makes: a fitting file passes it.
  await readKerasH5(FIXTURE_H5, undefined, { checkShapes: checkKerasShapes() });
});
