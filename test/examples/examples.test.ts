/**
 * The README's examples run against the fixture weights and produce what they promise:
 * figures on disk, and numbers that agree with the library computed independently here.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { main as basicUsage } from '../../examples/basic-usage.js';
import { main as batchProcessing } from '../../examples/batch-processing.js';
import { CONFIGS, main as customRules, positiveShare } from '../../examples/custom-rules.js';
import { figureLayout } from '../../src/image/figure.js';
import { loadImage } from '../../src/image/load.js';
import { LrpModel } from '../../src/lrp-model.js';
import { imagenetLabels } from '../../src/model/labels.js';
import { FIXTURE_WEIGHTS, REPO_ROOT } from '../support/fixture.js';

const SAMPLES = join(REPO_ROOT, 'assets', 'samples');
const FIGURE = figureLayout(224, 224);

let out: string;
let model: LrpModel;
before(async () => {
  out = await mkdtemp(join(tmpdir(), 'resnet-lrp-examples-'));
  model = await LrpModel.load({ weights: FIXTURE_WEIGHTS });
});
after(async () => {
  await model.dispose();
  await rm(out, { recursive: true, force: true });
});

/** The library's own answer for one sample, computed without the examples' code. */
async function reference(file: string) {
  const image = await loadImage(join(SAMPLES, file));
  return model.computeLrp(image.input, { debug: true });
}

async function assertFigure(path: string): Promise<void> {
  const meta = await sharp(path).metadata();
  assert.equal(meta.format, 'png', path);
  assert.deepEqual([meta.width, meta.height], [FIGURE.width, FIGURE.height], `${path}: not a 224×224 three-panel figure`);
}

describe('examples', () => {
  test('basic-usage: the cat photo, its class, confidence, conservation error and figure', async () => {
    const dir = join(out, 'basic');
    const result = await basicUsage(FIXTURE_WEIGHTS, dir);
    const ref = await reference('chelsea.png');
    assert.equal(result.predictedClass, ref.classIndex);
    assert.equal(result.className, imagenetLabels()[ref.classIndex]);
    assert.ok(Math.abs(result.confidence - ref.probabilities[ref.classIndex]!) < 1e-6);
    assert.ok(Math.abs(result.conservationError - ref.conservationError!) < 1e-6);
    assert.equal(result.figurePath, join(dir, 'chelsea.lrp.png'));
    await assertFigure(result.figurePath!);
  });

  test('batch-processing: every sample explained in one batch, as if one by one', async () => {
    const dir = join(out, 'batch');
    const items = await batchProcessing(FIXTURE_WEIGHTS, dir);
    assert.deepEqual(items.map((i) => i.file), ['astronaut.png', 'chelsea.png', 'coffee.png', 'rocket.jpg']);
    for (const item of items) {
      const ref = await reference(item.file);
      assert.equal(item.classIndex, ref.classIndex, item.file);
      assert.equal(item.className, imagenetLabels()[ref.classIndex]);
      assert.ok(Math.abs(item.conservationError - ref.conservationError!) < 1e-4, `${item.file}: ${item.conservationError} vs ${ref.conservationError}`);
      assert.equal(item.figure, join(dir, item.file.replace(/\.\w+$/, '.lrp.png')));
      await assertFigure(item.figure);
    }
  });

  test('custom-rules: three configurations, each compiled as asked, with figures', async () => {
    const dir = join(out, 'rules');
    const results = await customRules(FIXTURE_WEIGHTS, dir);
    assert.deepEqual(results.map((r) => r.config), Object.keys(CONFIGS));
    const [ratio, symmetric, gamma] = results;
    assert.match(ratio!.rules, /split=ratio/);
    assert.match(symmetric!.rules, /split=symmetric/);
    assert.match(gamma!.rules, /conv=gamma/);
    // The default configuration is exactly the library's default.
    const ref = await reference('coffee.png');
    assert.ok(Math.abs(ratio!.conservationError - ref.conservationError!) < 1e-6);
    // The split changes the explanation, and the paper's ratio split conserves better.
    assert.notDeepEqual(ratio!.attribution, symmetric!.attribution);
    assert.ok(ratio!.conservationError < symmetric!.conservationError, `${ratio!.conservationError} vs ${symmetric!.conservationError}`);
    // The gamma rule (unlike z+) lets negative evidence through.
    // The reported share is the one of the library's own map (computed apart from the example).
    assert.deepEqual(ratio!.attribution, ref.attribution.data);
    assert.equal(ratio!.positiveShare, positiveShare(ref.attribution.data));
    assert.ok(gamma!.positiveShare < 1, `gamma positive share ${gamma!.positiveShare}`);
    assert.notEqual(gamma!.positiveShare, ratio!.positiveShare);
    for (const r of results) {
      assert.equal(r.figure, join(dir, `coffee.${r.config}.png`));
      await assertFigure(r.figure);
    }
  });
});

test('positiveShare', () => {
  assert.equal(positiveShare(Float32Array.from([1, -1, 2, 0])), 0.75);
  assert.equal(positiveShare(new Float32Array(3)), 0);
});
