/** analyzeImage: the one-call path, against the reference model. */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { analyzeImage, figureTitle } from '../src/analyze.js';
import { loadImage } from '../src/image/load.js';
import { LrpResNet50 } from '../src/lrp-resnet.js';
import { imagenetLabels } from '../src/model/labels.js';
import { FIXTURE_WEIGHTS, REPO_ROOT } from './support/fixture.js';

const CAT = join(REPO_ROOT, 'assets/samples/chelsea.png');
let model: LrpResNet50;
let dir: string;
before(async () => {
  model = await LrpResNet50.load({ weights: FIXTURE_WEIGHTS });
  dir = await mkdtemp(join(tmpdir(), 'lrp-analyze-'));
});
after(async () => {
  await model.dispose();
  await rm(dir, { recursive: true, force: true });
});

test('prediction with names, the map of the predicted class, and a figure', async () => {
  const figure = join(dir, 'cat.png');
  const result = await analyzeImage(CAT, { model, figure });
  const direct = await model.computeLrp((await loadImage(CAT)).input, { debug: true });
  assert.equal(result.predictedClass, direct.classIndex);
  assert.equal(result.className, imagenetLabels()[direct.classIndex]);
  assert.equal(result.confidence, direct.probabilities[direct.classIndex]);
  assert.equal(result.targetClass, result.predictedClass);
  assert.deepEqual(result.top5.map((t) => t.classIndex)[0], result.predictedClass);
  assert.ok(result.top5.every((t, i) => i === 0 || t.probability <= result.top5[i - 1]!.probability));
  assert.deepEqual(result.attribution.shape, [224, 224]);
  assert.deepEqual(result.attribution.data, direct.attribution.data);
  assert.equal(result.conservationError, direct.conservationError);
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
