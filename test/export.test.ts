/**
 * The explainer as a standalone ONNX file: a fresh onnxruntime-node session, knowing nothing
 * of this library, runs the exported file to exactly the numbers computeLrp gives; the file
 * describes itself (metadata_props); the preprocessing can be folded in; and the CLI's
 * `export` and `explain --weights model.onnx --labels` work end to end.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { LrpModel } from '../src/lrp-model.js';
import { FIXTURE_WEIGHTS, relativeL2, tvInput, tvPath } from './support/fixture.js';
import { runCli } from './support/process.js';

const ONNX_MODEL = tvPath('tv-resnet18-w4', 'model.onnx');
let model: LrpModel;
let dir: string;
before(async () => {
  model = await LrpModel.load({ weights: ONNX_MODEL });
  dir = await mkdtemp(join(tmpdir(), 'lrp-export-'));
});
after(async () => {
  await model.dispose();
  await rm(dir, { recursive: true, force: true });
});

function metadata(bytes: Uint8Array): Record<string, string> {
  const decoded = onnxProto.onnx.ModelProto.decode(bytes);
  return Object.fromEntries(decoded.metadataProps.map((p) => [p.key!, p.value!]));
}

test('a bare onnxruntime session runs the exported file to the numbers of computeLrp', async () => {
  const path = join(dir, 'explainer.onnx');
  await writeFile(path, model.exportExplainer());
  const session = await ort.InferenceSession.create(path);
  try {
    const a = tvInput('tv-resnet18-w4');
    const b = a.map((v, i) => (i % 7 === 0 ? -v : v));
    const batch = new Float32Array(2 * a.length);
    batch.set(a, 0);
    batch.set(b, a.length);
    const out = await session.run({
      input: new ort.Tensor('float32', batch, [2, 3, 224, 224]),
      target: new ort.Tensor('int64', BigInt64Array.of(-1n, 5n), [2]),
    });
    const ours = await model.computeLrpBatch([a, b], { classIndices: [undefined, 5], debug: true });
    const per = 3 * 224 * 224;
    for (const [i, result] of ours.entries()) {
      assert.deepEqual((out.logits!.data as Float32Array).slice(i * 1000, (i + 1) * 1000), result.logits);
      assert.deepEqual((out.probabilities!.data as Float32Array).slice(i * 1000, (i + 1) * 1000), result.probabilities);
      assert.equal(Number((out.explained_class!.data as BigInt64Array)[i]), result.targetClass);
      assert.deepEqual((out.relevance!.data as Float32Array).slice(i * per, (i + 1) * per), result.relevance.data);
      assert.deepEqual((out.attribution!.data as Float32Array).slice(i * 224 * 224, (i + 1) * 224 * 224), result.attribution.data);
      const t = model.traceNames.length;
      assert.deepEqual(Array.from((out.trace!.data as Float32Array).slice(i * t, (i + 1) * t)), result.trace!.map((e) => e.sum));
    }
    assert.equal(ours[1]!.targetClass, 5);
    assert.deepEqual(out.relevance!.dims, [2, 3, 224, 224]);
  } finally {
    await session.release();
  }
});

test('metadata_props describe rules, preprocessing, trace and classes', () => {
  const meta = metadata(model.exportExplainer());
  assert.equal(meta.producer, 'resnet-lrp');
  // The file's base name: its graph carries torch's default name.
  assert.equal(meta.architecture, 'model');
  assert.equal(meta.rules, model.info.rules);
  assert.deepEqual(JSON.parse(meta.preprocessing!), model.inputDescription);
  assert.deepEqual(JSON.parse(meta.trace_names!), model.traceNames);
  assert.deepEqual(JSON.parse(meta.class_names!), model.classNames);
  assert.equal(JSON.parse(meta.class_names!)[0], 'tench, Tinca tinca');
  assert.match(JSON.parse(meta.inputs!).input, /float32 N×3×224×224 \(NCHW, RGB\)/);
  assert.equal(meta.preprocessing_included, 'false');
});

test('with the preprocessing folded in, uint8 RGB pixels give the relevance of the preprocessed input', async () => {
  const bytes = model.exportExplainer({ includePreprocessing: true });
  assert.equal(metadata(bytes).preprocessing_included, 'true');
  const image = await model.loadImage(tvPath('tv-resnet18-w4', 'input_224.png'), { fit: 'resize' });
  const session = await ort.InferenceSession.create(bytes);
  try {
    const out = await session.run({
      image: new ort.Tensor('uint8', image.rgb, [1, 224, 224, 3]),
      target: new ort.Tensor('int64', BigInt64Array.of(-1n), [1]),
    });
    const direct = await model.computeLrp(image.input);
    assert.equal(Number((out.explained_class!.data as BigInt64Array)[0]), direct.targetClass);
    assert.ok(relativeL2(out.relevance!.data as Float32Array, direct.relevance.data) < 1e-5);
  } finally {
    await session.release();
  }
});

test('loadImage with the torchvision description reproduces the fixture input', async () => {
  const image = await model.loadImage(tvPath('tv-resnet18-w4', 'input_224.png'), { fit: 'resize' });
  assert.equal(image.description.layout, 'NCHW');
  const reference = tvInput('tv-resnet18-w4');
  let worst = 0;
  for (let i = 0; i < reference.length; i++) worst = Math.max(worst, Math.abs(image.input[i]! - reference[i]!));
  assert.ok(worst < 1e-5, `max difference ${worst}`);
  // The model's own policy: shorter side to 256, centre 224 crop (a 224 image is upscaled first).
  const cropped = await model.loadImage(tvPath('tv-resnet18-w4', 'input_224.png'));
  assert.equal(cropped.width, 224);
  assert.notDeepEqual(cropped.rgb, image.rgb);
});

test('labels: names for a custom head, checked against the class count', async () => {
  await assert.rejects(LrpModel.load({ weights: ONNX_MODEL, labels: ['a', 'b'] }), /labels: 2 names for a model with 1000 classes/);
});

const cli = (args: readonly string[]) => runCli(args, { home: dir });

test('CLI: explain --weights model.onnx --labels, and export from a Keras file', async () => {
  const labels = join(dir, 'labels.json');
  await writeFile(labels, JSON.stringify(Array.from({ length: 1000 }, (_, i) => `thing ${i}`)));
  const out = join(dir, 'cli');
  const run = await cli(['explain', tvPath('tv-resnet18-w4', 'input_224.png'), '--weights', ONNX_MODEL, '--labels', labels, '--format', 'png,json', '--out', out, '--quiet']);
  assert.equal(run.code, 0, run.stderr);
  const json = JSON.parse(await readFile(join(out, 'input_224.lrp.json'), 'utf8'));
  assert.equal(json.prediction.className, `thing ${json.prediction.classIndex}`);
  assert.equal(json.fit, 'center-crop');

  const file = join(dir, 'keras-explainer.onnx');
  const exported = await cli(['export', '--weights', FIXTURE_WEIGHTS, '--split', 'symmetric', '--out', file]);
  assert.equal(exported.code, 0, exported.stderr);
  assert.match(exported.stdout, /wrote .*keras-explainer\.onnx/);
  const meta = metadata(await readFile(file));
  assert.match(meta.rules!, /split=symmetric/);
  assert.equal(JSON.parse(meta.preprocessing!).name, 'caffe');
  const missing = await cli(['export', '--weights', FIXTURE_WEIGHTS]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--out <file.onnx> is required/);
});
