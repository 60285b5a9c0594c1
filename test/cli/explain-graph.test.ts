/**
 * `resnet-lrp explain` on networks that are not ResNets of the template: the trained CIFAR-10
 * ResNet20 (option-A shortcuts, 32×32) names the class of a real CIFAR-10 cat and writes its
 * map as the library computes it; a file whose input size is dynamic takes `--size`, and a fixed
 * size that differs is refused with the file's size.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import onnxProto from 'onnx-proto';
import { decodeNpy } from '../../src/image/npy.js';
import { LrpResNet } from '../../src/lrp-resnet.js';
import { FIXTURES_ROOT, graphExpected, graphPath, relativeL2 } from '../support/fixture.js';
import { runCli } from '../support/process.js';

const CIFAR = graphPath('cifar-resnet20', 'model.onnx');
const CAT = graphPath('cifar-resnet20', 'input_32.png');
let tmp: string;

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'explain-graph-'));
});
after(() => rm(tmp, { recursive: true, force: true }));

test('the trained CIFAR-10 ResNet20 names the cat and writes the map the library computes', async () => {
  const classes = graphExpected('cifar-resnet20').source!.classes!;
  const labels = join(tmp, 'cifar10.json');
  await writeFile(labels, JSON.stringify(classes));
  const out = join(tmp, 'cifar');
  const run = await runCli(['explain', CAT, '--weights', CIFAR, '--labels', labels, '--fit', 'resize', '--out', out, '--format', 'png,json,npy', '--quiet'], { home: tmp });
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual((await readdir(out)).sort(), ['input_32.attribution.npy', 'input_32.lrp.json', 'input_32.lrp.png']);
  const json = JSON.parse(await readFile(join(out, 'input_32.lrp.json'), 'utf8'));
  assert.equal(json.prediction.className, 'cat');
  assert.equal(json.prediction.classIndex, 3);
  const model = await LrpResNet.load({ weights: CIFAR, input: { resize: { fit: 'resize' } } });
  try {
    const image = await model.loadImage(CAT);
    const ours = await model.computeLrp(image.input);
    const written = decodeNpy(await readFile(join(out, 'input_32.attribution.npy')));
    assert.deepEqual(written.shape, [32, 32]);
    assert.ok(relativeL2(written.data, ours.attribution.data) < 1e-6);
  } finally {
    await model.dispose();
  }
});

test('--size sets the input of a file whose size is dynamic; a fixed size that differs is refused', async () => {
  const bytes = await readFile(join(FIXTURES_ROOT, 'families', 'squeezenet.onnx'));
  const model = onnxProto.onnx.ModelProto.decode(bytes);
  const dims = model.graph!.input![0]!.type!.tensorType!.shape!.dim!;
  dims[2] = { dimParam: 'height' };
  dims[3] = { dimParam: 'width' };
  const dynamic = join(tmp, 'dynamic.onnx');
  await writeFile(dynamic, onnxProto.onnx.ModelProto.encode(model).finish());
  const out = join(tmp, 'sized');
  const sample = join(FIXTURES_ROOT, 'graph', 'cifar-resnet20', 'input_32.png');
  const run = await runCli(['explain', sample, '--weights', dynamic, '--size', '48', '--out', out, '--format', 'npy', '--quiet'], { home: tmp });
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(decodeNpy(await readFile(join(out, 'input_32.attribution.npy'))).shape, [48, 48]);
  const fixed = await runCli(['explain', sample, '--weights', join(FIXTURES_ROOT, 'families', 'squeezenet.onnx'), '--size', '48', '--out', out, '--quiet'], { home: tmp });
  assert.notEqual(fixed.code, 0);
  assert.match(fixed.stderr, /input size 48 was asked for, but input input is fixed at 64×64/);
  const bad = await runCli(['explain', sample, '--weights', dynamic, '--size', '0', '--out', out], { home: tmp });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--size must be an integer in 1\.\.8192 \(pixels\), got "0"/);
});
