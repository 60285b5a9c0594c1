/** analyzeImage: the one-call path, against the reference model. */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { analyzeImage, figureTitle } from '../src/analyze.js';
import { LrpModel } from '../src/lrp-model.js';
import { imagenetLabels } from '../src/model/labels.js';
import { expected, fixtureArray, FIXTURE_DIR, FIXTURE_WEIGHTS, relativeL2, REPO_ROOT } from './support/fixture.js';

const CAT = join(REPO_ROOT, 'assets/samples/chelsea.png');
let model: LrpModel;
let dir: string;
before(async () => {
  model = await LrpModel.load({ weights: FIXTURE_WEIGHTS });
  dir = await mkdtemp(join(tmpdir(), 'lrp-analyze-'));
});
after(async () => {
  await model.dispose();
  await rm(dir, { recursive: true, force: true });
});

test('prediction with names, the map of the predicted class, and a figure: the w8 fixture', async () => {
  const figure = join(dir, 'fixture.png');
  const result = await analyzeImage(join(FIXTURE_DIR, 'input_224.png'), { model, figure });
  // The reference, computed independently (docs/lrp-spec.md tolerances).
  const logits = fixtureArray('logits.npy').data;
  const maxLogit = Math.max(...logits);
  const denominator = logits.reduce((sum, v) => sum + Math.exp(v - maxLogit), 0);
  const probability = (k: number) => Math.exp(logits[k]! - maxLogit) / denominator;
  const relevance = fixtureArray('relevance_default.npy').data;
  const map = Float64Array.from({ length: 224 * 224 }, (_, p) => relevance[3 * p]! + relevance[3 * p + 1]! + relevance[3 * p + 2]!);
  const reference = expected.configs['default']!;
  assert.equal(result.predictedClass, expected.target);
  assert.equal(result.className, imagenetLabels()[expected.target]);
  assert.ok(Math.abs(result.confidence - probability(expected.target)) < 1e-4, `confidence ${result.confidence}`);
  assert.equal(result.targetClass, expected.target);
  assert.deepEqual(result.top5.map((t) => t.classIndex), expected.top5);
  assert.deepEqual(result.attribution.shape, [224, 224]);
  assert.ok(relativeL2(result.attribution.data, map) <= 1e-3, 'attribution = the reference relevance summed over channels');
  const conservation = Math.abs(reference.input_sum - expected.logit) / Math.abs(expected.logit);
  assert.ok(Math.abs(result.conservationError! - conservation) < 1e-4, `conservation error ${result.conservationError} vs ${conservation}`);
  assert.equal(result.image.width, 224);
  assert.equal(result.figurePath, figure);
  const meta = await sharp(await readFile(figure)).metadata();
  assert.equal(meta.format, 'png');
  assert.ok(meta.width! > 3 * 224);
  assert.deepEqual((await readdir(dir)).filter((f) => f.endsWith('.tmp')), []);
});

test('classIndex, quantization and buffer input', async () => {
  const bytes = await readFile(CAT);
  const result = await analyzeImage(bytes, { model, classIndex: 281, quantize: 8 });
  assert.equal(result.source, '<buffer>');
  assert.equal(result.targetClass, 281);
  assert.equal(result.targetName, 'tabby, tabby cat');
  assert.ok(new Set(result.attribution.data).size <= 8);
  assert.notDeepEqual(result.attribution.data, result.lrp.attribution.data);
  assert.match(figureTitle(result), /explaining tabby, tabby cat \(281\)/);
});

test('a bad image is named in the error', async () => {
  const bad = join(dir, 'not-an-image.jpg');
  await import('node:fs/promises').then((fs) => fs.writeFile(bad, 'hello'));
  await assert.rejects(analyzeImage(bad, { model }), /not-an-image\.jpg/);
  await assert.rejects(analyzeImage(CAT, { model, classIndex: 1000 }), /class index 1000/);
});
