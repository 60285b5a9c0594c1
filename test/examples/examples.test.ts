/**
 * The README's examples run with their defaults — the bundled trained CIFAR-10 ResNet20 and its
 * test images — and produce what they promise: figures on disk, the right classes, and numbers
 * that agree with the library computed independently here.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { CIFAR_CAT, CIFAR_MODEL, main as basicUsage } from '../../examples/basic-usage.js';
import { CIFAR_IMAGES, main as batchProcessing } from '../../examples/batch-processing.js';
import { CONFIGS, main as customRules, positiveShare } from '../../examples/custom-rules.js';
import { figureLayout } from '../../src/image/figure.js';
import { LrpModel } from '../../src/lrp-model.js';

const CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
const FIGURE = figureLayout(32, 32);

let out: string;
let model: LrpModel;
before(async () => {
  out = await mkdtemp(join(tmpdir(), 'resnet-lrp-examples-'));
  model = await LrpModel.load({ weights: CIFAR_MODEL });
});
after(async () => {
  await model.dispose();
  await rm(out, { recursive: true, force: true });
});

/** The library's own answer for one image, computed without the examples' code. */
async function reference(path: string) {
  const image = await model.loadImage(path);
  return model.computeLrp(image.input, { debug: true });
}

async function assertFigure(path: string): Promise<void> {
  const meta = await sharp(path).metadata();
  assert.equal(meta.format, 'png', path);
  assert.deepEqual([meta.width, meta.height], [FIGURE.width, FIGURE.height], `${path}: not a 32×32 three-panel figure`);
}

describe('examples', () => {
  test('basic-usage: the CIFAR-10 cat, its class, confidence, conservation error and figure', async () => {
    const dir = join(out, 'basic');
    const result = await basicUsage(CIFAR_MODEL, CIFAR_CAT, dir);
    const ref = await reference(CIFAR_CAT);
    assert.equal(result.className, 'cat');
    assert.equal(result.predictedClass, ref.classIndex);
    assert.ok(Math.abs(result.confidence - ref.probabilities[ref.classIndex]!) < 1e-6);
    assert.ok(Math.abs(result.conservationError - ref.conservationError!) < 1e-6);
    assert.equal(result.figurePath, join(dir, 'cat-0000.lrp.png'));
    await assertFigure(result.figurePath!);
  });

  test('batch-processing: the first test image of each class in one batch, each named right, as if one by one', async () => {
    const dir = join(out, 'batch');
    const items = await batchProcessing(CIFAR_MODEL, CIFAR_IMAGES, dir, true);
    assert.deepEqual(items.map((i) => i.file), CLASSES.map((c) => `${c}-0000.jpg`));
    for (const item of items) {
      const ref = await reference(join(CIFAR_IMAGES, item.file));
      assert.equal(item.className, item.file.split('-')[0], item.file);
      assert.equal(item.classIndex, ref.classIndex, item.file);
      assert.ok(Math.abs(item.conservationError - ref.conservationError!) < 1e-4, `${item.file}: ${item.conservationError} vs ${ref.conservationError}`);
      assert.equal(item.figure, join(dir, item.file.replace(/\.\w+$/, '.lrp.png')));
      await assertFigure(item.figure);
    }
  });

  test('custom-rules: three configurations, each compiled as asked, with figures', async () => {
    const dir = join(out, 'rules');
    const results = await customRules(CIFAR_MODEL, CIFAR_CAT, dir);
    assert.deepEqual(results.map((r) => r.config), Object.keys(CONFIGS));
    const [ratio, symmetric, gamma] = results;
    assert.match(ratio!.rules, /split=ratio/);
    assert.match(symmetric!.rules, /split=symmetric/);
    assert.match(gamma!.rules, /conv=gamma/);
    // The default configuration is exactly the library's default.
    const ref = await reference(CIFAR_CAT);
    assert.deepEqual(ratio!.attribution, ref.attribution.data);
    // The paper's split conserves; the symmetric one loses what it sends into the zero-padded
    // channels of the option-A shortcuts.
    assert.ok(ratio!.conservationError < 1e-3, `ratio: ${ratio!.conservationError}`);
    assert.ok(symmetric!.conservationError > 0.05, `symmetric: ${symmetric!.conservationError}`);
    // The reported share is the one of the library's own map (computed apart from the example);
    // the gamma rule (unlike z+) lets negative evidence through.
    assert.equal(ratio!.positiveShare, positiveShare(ref.attribution.data));
    assert.ok(gamma!.positiveShare < 1, `gamma positive share ${gamma!.positiveShare}`);
    assert.notEqual(gamma!.positiveShare, ratio!.positiveShare);
    for (const r of results) {
      assert.equal(r.figure, join(dir, `cat-0000.${r.config}.png`));
      await assertFigure(r.figure);
    }
  });
});

test('positiveShare', () => {
  assert.equal(positiveShare(Float32Array.from([1, -1, 2, 0])), 0.75);
  assert.equal(positiveShare(new Float32Array(3)), 0);
});
