import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import h5wasm from 'h5wasm/node';
import type { Dataset } from 'h5wasm/node';
import { kerasResNet50 } from '../../src/model/resnet.js';
import { readKerasH5, type KerasWeightFile } from '../../src/weights/keras-h5.js';
import { randomWeights } from '../../src/weights/random.js';
import {
  FIXTURE_H5, kerasLayers, removeTempFiles, tempPath, writeKerasH5, writeNonHdf5, writePlainHdf5,
  writeTruncatedCopy,
} from './h5-helpers.js';

after(removeTempFiles);

/** Reads one dataset straight through h5wasm, bypassing the reader under test. */
async function readDirect(path: string, dataset: string): Promise<{ value: Float32Array; shape: number[] }> {
  await h5wasm.ready;
  const file = new h5wasm.File(path, 'r');
  try {
    const d = file.get(dataset) as Dataset;
    return { value: d.value as Float32Array, shape: d.shape! };
  } finally {
    file.close();
  }
}

function assertSameTensors(a: KerasWeightFile, b: KerasWeightFile): void {
  assert.deepEqual([...a.layers.keys()], [...b.layers.keys()]);
  for (const [layer, weights] of a.layers) {
    const other = b.layers.get(layer)!;
    assert.deepEqual([...weights.keys()], [...other.keys()], layer);
    for (const [name, t] of weights) {
      assert.deepEqual(other.get(name)!.shape, t.shape, `${layer} ${name}`);
      assert.deepEqual(other.get(name)!.data, t.data, `${layer} ${name}`);
    }
  }
}

async function rejectsWith(promise: Promise<unknown>, ...fragments: (string | RegExp)[]): Promise<Error> {
  let error: Error | undefined;
  try {
    await promise;
  } catch (err) {
    error = err as Error;
  }
  assert.ok(error instanceof Error, 'expected an error');
  for (const f of fragments) {
    if (typeof f === 'string') assert.ok(error.message.includes(f), `"${error.message}" should contain "${f}"`);
    else assert.match(error.message, f);
  }
  return error;
}

test('reads the ResNet50/8 fixture with the values h5wasm reads directly', async () => {
  const file = await readKerasH5(FIXTURE_H5);
  assert.equal(file.source, FIXTURE_H5);
  assert.equal(file.layout, 'weights');
  assert.equal(file.layerNames.length, 177); // every Keras layer, weights or not
  assert.equal(file.layerNames[0], 'input_1');
  assert.equal(file.layers.size, 107); // 53 convs + 53 BNs + predictions
  assert.ok(!file.layers.has('conv1_relu'));
  assert.equal(file.kerasVersion, '2.2.4');

  const kernel = file.layers.get('conv1_conv')!.get('kernel')!;
  assert.deepEqual(kernel.shape, [7, 7, 3, 8]);
  const direct = await readDirect(FIXTURE_H5, 'conv1_conv/conv1_conv/kernel:0');
  assert.deepEqual(direct.shape, [7, 7, 3, 8]);
  assert.equal(kernel.data[0], direct.value[0]);
  assert.deepEqual(kernel.data, direct.value);

  assert.deepEqual([...file.layers.get('conv1_bn')!.keys()], ['gamma', 'beta', 'movingMean', 'movingVariance']);
  const variance = await readDirect(FIXTURE_H5, 'conv1_bn/conv1_bn/moving_variance:0');
  assert.deepEqual(file.layers.get('conv1_bn')!.get('movingVariance')!.data, variance.value);
  assert.deepEqual(file.layers.get('predictions')!.get('kernel')!.shape, [256, 1000]);
  assert.deepEqual(file.layers.get('predictions')!.get('bias')!.shape, [1000]);
});

test('reads bytes as well as paths, naming the file by the label', async () => {
  const bytes = new Uint8Array(await readFile(FIXTURE_H5));
  const fromBytes = await readKerasH5(bytes, 'downloaded.h5');
  assert.equal(fromBytes.source, 'downloaded.h5');
  assertSameTensors(fromBytes, await readKerasH5(FIXTURE_H5));
  // The temp file that carried the bytes to h5wasm is gone.
  const leftovers = (await readdir(tmpdir())).filter((f) => f.startsWith(`resnet-lrp-${process.pid}-`));
  assert.deepEqual(leftovers, []);
  await rejectsWith(readKerasH5(new Uint8Array([1, 2, 3]), 'three-bytes'), 'three-bytes: not an HDF5 file');
});

test('round-trips written weights exactly, float64 datasets converted to float32', async () => {
  const graph = kerasResNet50({ baseWidth: 8, classes: 10 });
  const weights = randomWeights(graph, 3);
  const path32 = tempPath('w32.h5');
  const path64 = tempPath('w64.h5');
  await writeKerasH5(path32, kerasLayers(graph, weights));
  await writeKerasH5(path64, kerasLayers(graph, weights), { float64: true });
  const direct64 = await readDirect(path64, 'conv1_conv/conv1_conv/kernel:0');
  assert.ok(direct64.value instanceof Float64Array, 'the helper really wrote float64');

  for (const path of [path32, path64]) {
    const file = await readKerasH5(path);
    assert.equal(file.layers.size, weights.size);
    for (const [layer, params] of weights) {
      for (const [name, t] of Object.entries(params)) {
        const read = file.layers.get(layer)!.get(name)!;
        assert.ok(read.data instanceof Float32Array);
        assert.deepEqual(read.shape, t.shape, `${layer} ${name}`);
        assert.deepEqual(read.data, t.data, `${layer} ${name}`);
      }
    }
  }
});

test('whole-model files (tree under model_weights/) give identical tensors', async () => {
  const flat = await readKerasH5(FIXTURE_H5);
  const layers = flat.layerNames.map((name) => ({
    name,
    weights: [...(flat.layers.get(name) ?? new Map()).entries()].map(([w, tensor]) => ({ name: w, tensor })),
  }));
  const path = tempPath('model.h5');
  await writeKerasH5(path, layers, { wholeModel: true });
  const model = await readKerasH5(path);
  assert.equal(model.layout, 'model');
  assert.deepEqual(model.layerNames, flat.layerNames);
  assertSameTensors(model, flat);
});

test('not an HDF5 file: a PNG and a text file', async () => {
  const png = await writeNonHdf5();
  await rejectsWith(readKerasH5(png), png, 'not an HDF5 file');
  const text = tempPath('notes.h5');
  await writeFile(text, 'these are not weights\n');
  await rejectsWith(readKerasH5(text), text, 'not an HDF5 file');
  const empty = tempPath('empty.h5');
  await writeFile(empty, '');
  await rejectsWith(readKerasH5(empty), empty, 'not an HDF5 file');
});

test('missing file and directory are reported with the name', async () => {
  const missing = tempPath('missing.h5');
  await rejectsWith(readKerasH5(missing), missing, 'cannot open', 'ENOENT');
  await rejectsWith(readKerasH5(tmpdir()), tmpdir(), 'not a regular file');
});

test('truncated files: size vs superblock EOF, for superblock v0 and v3', async () => {
  const size = (await readFile(FIXTURE_H5)).length;
  const cut = await writeTruncatedCopy(1_000_000);
  await rejectsWith(readKerasH5(cut), cut, `truncated: 1000000 bytes, header says ${size}`);
  // Cut inside the superblock itself.
  const stub = await writeTruncatedCopy(30);
  await rejectsWith(readKerasH5(stub), stub, 'truncated');

  // libver "latest" writes superblock version 3, whose EOF address sits elsewhere.
  const graph = kerasResNet50({ baseWidth: 8 });
  const v3 = tempPath('v3.h5');
  await writeKerasH5(v3, kerasLayers(graph, randomWeights(graph)), { libver: 'latest' });
  const v3Bytes = await readFile(v3);
  assert.equal(v3Bytes[8], 3, 'superblock version 3');
  assert.equal((await readKerasH5(v3)).layers.size, 107);
  const v3Cut = await writeTruncatedCopy(v3Bytes.length - 1, v3);
  await rejectsWith(readKerasH5(v3Cut), `truncated: ${v3Bytes.length - 1} bytes, header says ${v3Bytes.length}`);

  // The process (and h5wasm) still work afterwards.
  assert.equal((await readKerasH5(FIXTURE_H5)).layers.size, 107);
});

test('a user block before the superblock (signature at 512) is read, and its truncation detected', async () => {
  const bytes = await readFile(FIXTURE_H5);
  const shifted = new Uint8Array(512 + bytes.length);
  shifted.set(bytes, 512);
  assertSameTensors(await readKerasH5(shifted, 'userblock.h5'), await readKerasH5(FIXTURE_H5));
  await rejectsWith(readKerasH5(shifted.subarray(0, 2_000_000), 'userblock.h5'),
    `userblock.h5: truncated: 2000000 bytes, header says ${shifted.length}`);
});

test('valid HDF5 without Keras layout is refused', async () => {
  const plain = await writePlainHdf5();
  await rejectsWith(readKerasH5(plain), plain, 'no layer_names attribute: not a Keras weights file');
});

test('corrupt content past the header fails with an error naming the file, and h5wasm keeps working', async () => {
  const bytes = new Uint8Array(await readFile(FIXTURE_H5));
  // Garble everything after the superblock: the signature and EOF stay valid.
  for (let i = 96; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
  await rejectsWith(readKerasH5(bytes, 'garbled.h5'), /^garbled\.h5: HDF5 (cannot open the file|read failed): \S/);
  // A later read is unaffected: no leaked state, no aborted wasm module.
  const file = await readKerasH5(FIXTURE_H5);
  assert.deepEqual(file.layers.get('conv1_conv')!.get('kernel')!.shape, [7, 7, 3, 8]);
});
