import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { expectedParamShapes, PARAM_NAMES, type ParamTensor } from '../../src/model/layers.js';
import { buildResNet, kerasResNet50, kerasResNetSpec } from '../../src/model/resnet.js';
import { bindWeights, inferKerasResNet } from '../../src/weights/bind.js';
import { readKerasH5, type KerasWeightFile } from '../../src/weights/keras-h5.js';
import { randomWeights } from '../../src/weights/random.js';
import { forward, nhwcToChw, readNpyF32 } from './forward-helper.js';
import { FIXTURE_DIR, FIXTURE_H5, kerasLayers, removeTempFiles, tempPath, writeKerasH5, type H5Layer } from './h5-helpers.js';

after(removeTempFiles);

const fixture = readKerasH5(FIXTURE_H5);
const graphW8 = kerasResNet50({ baseWidth: 8 });

function throwsWith(fn: () => unknown, ...fragments: string[]): string {
  let message: string | undefined;
  try {
    fn();
  } catch (err) {
    message = (err as Error).message;
  }
  assert.ok(message !== undefined, 'expected an error');
  for (const f of fragments) assert.ok(message.includes(f), `"${message}" should contain "${f}"`);
  return message;
}

/** The fixture's layers as writable H5 layers, with `edit` applied to the list. */
async function fixtureLayers(edit: (layers: H5Layer[]) => H5Layer[] = (l) => l): Promise<H5Layer[]> {
  const file = await fixture;
  return edit(file.layerNames.map((name) => ({
    name,
    weights: [...(file.layers.get(name) ?? new Map<string, ParamTensor>()).entries()].map(([w, tensor]) => ({ name: w, tensor })),
  })));
}

async function writeAndRead(name: string, layers: H5Layer[]): Promise<KerasWeightFile> {
  const path = tempPath(name);
  await writeKerasH5(path, layers);
  return readKerasH5(path, name);
}

test('the fixture binds to kerasResNet50({ baseWidth: 8 }) with every expected shape', async () => {
  const file = await fixture;
  const weights = bindWeights(graphW8, file);
  const withParams = graphW8.layers.filter((l) => PARAM_NAMES[l.kind]);
  assert.equal(weights.size, withParams.length);
  for (const layer of withParams) {
    const expected = expectedParamShapes(graphW8, layer);
    assert.deepEqual(Object.keys(weights.get(layer.name)!).sort(), Object.keys(expected).sort(), layer.name);
    for (const [name, shape] of Object.entries(expected)) {
      assert.deepEqual(weights.get(layer.name)![name]!.shape, shape, `${layer.name} ${name}`);
    }
  }
  const kernel = weights.get('conv1_conv')!.kernel!;
  assert.deepEqual(kernel.shape, [7, 7, 3, 8]);
  assert.equal(kernel.data[0], file.layers.get('conv1_conv')!.get('kernel')!.data[0]);
  assert.deepEqual(weights.get('conv2_block1_1_conv')!.kernel!.shape, [1, 1, 8, 8]);
  assert.deepEqual(weights.get('predictions')!.kernel!.shape, [256, 1000]);
});

test('bound fixture weights reproduce the reference logits (layouts are right)', async () => {
  const weights = bindWeights(graphW8, await fixture);
  const input = await readNpyF32(join(FIXTURE_DIR, 'input_caffe_nhwc.npy'));
  const reference = await readNpyF32(join(FIXTURE_DIR, 'logits.npy'));
  const logits = forward(graphW8, weights, nhwcToChw(input.data, input.shape)).get('predictions')!.data;
  assert.equal(logits.length, 1000);
  for (let i = 0; i < 1000; i++) assert.ok(Math.abs(logits[i]! - reference.data[i]!) < 1e-3, `logit ${i}`);
});

test('inferKerasResNet reads depth, width and classes from the file', async () => {
  const file = await fixture;
  assert.deepEqual(inferKerasResNet(file), { depth: 50, baseWidth: 8, classes: 1000 });
  const info = inferKerasResNet(file);
  const graph = buildResNet(kerasResNetSpec(info.depth, { baseWidth: info.baseWidth, classes: info.classes }));
  assert.equal(bindWeights(graph, file).size, 107);

  // A ResNet101/16 with 10 classes and no classifier, as in-memory files.
  const r101 = buildResNet(kerasResNetSpec(101, { baseWidth: 16, classes: 10 }));
  const layers = new Map([...randomWeights(r101)].map(([name, params]) =>
    [name, new Map(Object.entries(params))] as const));
  const asFile = (source: string): KerasWeightFile => ({ source, layout: 'weights', layerNames: [...layers.keys()], layers });
  assert.deepEqual(inferKerasResNet(asFile('r101.h5')), { depth: 101, baseWidth: 16, classes: 10 });
  layers.delete('predictions');
  assert.deepEqual(inferKerasResNet(asFile('r101-notop.h5')), { depth: 101, baseWidth: 16, classes: undefined });
  layers.delete('conv1_conv');
  throwsWith(() => inferKerasResNet(asFile('no-stem.h5')), 'no-stem.h5', 'conv1_conv');
});

test('a file missing a layer names the file and the layer', async () => {
  const file = await writeAndRead('missing.h5', await fixtureLayers((ls) => ls.filter((l) => l.name !== 'conv3_block2_2_bn')));
  throwsWith(() => bindWeights(graphW8, file), 'missing.h5: ', 'conv3_block2_2_bn', 'missing from the file');
});

test('a wrong shape names file, layer, weight, expected and found', async () => {
  const wrong = { data: new Float32Array(8 * 4), shape: [1, 1, 8, 4] };
  const file = await writeAndRead('weights.h5', await fixtureLayers((ls) => ls.map((l) =>
    l.name === 'conv2_block1_1_conv'
      ? { name: l.name, weights: l.weights.map((w) => (w.name === 'kernel' ? { name: 'kernel', tensor: wrong } : w)) }
      : l)));
  const message = throwsWith(() => bindWeights(graphW8, file));
  assert.equal(message, 'weights.h5: layer conv2_block1_1_conv kernel: expected [1,1,8,8], found [1,1,8,4]');
});

test('a missing or unexpected weight inside a layer is named', async () => {
  const file = await writeAndRead('bn.h5', await fixtureLayers((ls) => ls.map((l) =>
    l.name === 'conv1_bn' ? { name: l.name, weights: l.weights.filter((w) => w.name !== 'movingVariance') } : l)));
  throwsWith(() => bindWeights(graphW8, file), 'bn.h5', 'layer conv1_bn', 'missing weight movingVariance', '[8]');

  const fixtureFile = await fixture;
  const layers = new Map(fixtureFile.layers);
  layers.set('conv1_conv', new Map([...layers.get('conv1_conv')!, ['scale', { data: new Float32Array(8), shape: [8] }]]));
  throwsWith(() => bindWeights(graphW8, { ...fixtureFile, source: 'scale.h5', layers }),
    'scale.h5: layer conv1_conv: unexpected weights scale');
});

test('full-width graph against the /8 file reports shape mismatches', async () => {
  const file = await fixture;
  const message = throwsWith(() => bindWeights(kerasResNet50(), file), FIXTURE_H5, 'problems', 'expected [7,7,3,64], found [7,7,3,8]');
  assert.ok(message.includes('more'), 'long lists are cut short');
  assert.ok(message.includes('looks like Keras ResNet50 with baseWidth 8'), 'suggests the right architecture');
  const wrongDepth = throwsWith(() => bindWeights(buildResNet(kerasResNetSpec(101, { baseWidth: 8 })), file),
    'layers of model resnet101 missing from the file: conv4_block7_1_conv');
  assert.ok(wrongDepth.includes('looks like Keras ResNet50'));
});

test('notop file: fails without a head, naming the classifier and the head shapes; works with one', async () => {
  const file = await writeAndRead('notop.h5', await fixtureLayers((ls) => ls.filter((l) => l.name !== 'predictions')));
  assert.equal(inferKerasResNet(file).classes, undefined);
  throwsWith(() => bindWeights(graphW8, file), 'notop.h5', 'no classifier', 'predictions', 'head', '[256,1000]', '[1000]');

  const graph = kerasResNet50({ baseWidth: 8, classes: 5 });
  const head = {
    kernel: { data: Float32Array.from({ length: 256 * 5 }, (_, i) => i / 1000), shape: [256, 5] },
    bias: { data: new Float32Array([1, 2, 3, 4, 5]), shape: [5] },
  };
  const weights = bindWeights(graph, file, { head });
  assert.equal(weights.get('predictions')!.kernel!.data, head.kernel.data);
  assert.deepEqual(weights.get('predictions')!.bias!.shape, [5]);
  assert.equal(weights.get('conv1_conv')!.kernel!.data, file.layers.get('conv1_conv')!.get('kernel')!.data);

  // A head of the wrong shape is checked like file weights.
  const badHead = { kernel: { data: new Float32Array(255 * 5), shape: [255, 5] }, bias: head.bias };
  throwsWith(() => bindWeights(graph, file, { head: badHead }), 'head (layer predictions) kernel: expected [256,5], found [255,5]');
});

test('a head given for a file that has a classifier replaces it', async () => {
  const head = { kernel: { data: new Float32Array(256 * 1000), shape: [256, 1000] }, bias: { data: new Float32Array(1000), shape: [1000] } };
  const weights = bindWeights(graphW8, await fixture, { head });
  assert.equal(weights.get('predictions')!.kernel!.data, head.kernel.data);
});

test('a file with a layer the graph lacks fails, naming it', async () => {
  const extra = { name: 'extra_dense', weights: [{ name: 'kernel', tensor: { data: new Float32Array(6), shape: [2, 3] } }] };
  const file = await writeAndRead('extra.h5', await fixtureLayers((ls) => [...ls, extra]));
  throwsWith(() => bindWeights(graphW8, file), 'extra.h5', 'extra_dense', 'not in model resnet50');
});

test('randomWeights written as a Keras file bind back to the same values', async () => {
  const graph = kerasResNet50({ baseWidth: 8, classes: 7 });
  const weights = randomWeights(graph, 11);
  const path = tempPath('random.h5');
  await writeKerasH5(path, kerasLayers(graph, weights));
  const bound = bindWeights(graph, await readKerasH5(path));
  for (const [layer, params] of weights) {
    for (const [name, t] of Object.entries(params)) assert.deepEqual(bound.get(layer)![name]!.data, t.data, `${layer} ${name}`);
  }
});
