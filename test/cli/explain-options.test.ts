import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_BATCH, DEFAULT_FORMATS, DEFAULT_OUT_DIR, parseExplainArgs, type ExplainSettings } from '../../src/cli/explain-options.js';
import { UsageError } from '../../src/cli/usage.js';
import { parseEvaluateArgs } from '../../src/cli/evaluate-options.js';
import { compileCacheSetting } from '../../src/cli/option-values.js';

function settings(...argv: string[]): ExplainSettings {
  const request = parseExplainArgs(argv);
  assert.equal(request.help, false);
  return (request as { settings: ExplainSettings }).settings;
}

describe('parseExplainArgs', () => {
  test('defaults', () => {
    const s = settings('a.png');
    assert.deepEqual(s.inputs, ['a.png']);
    assert.deepEqual(s.weights, { kind: 'imagenet' });
    assert.equal(s.classIndex, undefined);
    assert.deepEqual(s.rules, {});
    assert.equal(s.precision, 'float32');
    assert.equal(s.quantize, false);
    assert.equal(s.outDir, DEFAULT_OUT_DIR);
    assert.deepEqual(s.formats, DEFAULT_FORMATS);
    assert.equal(s.batch, DEFAULT_BATCH);
    assert.equal(s.fit, undefined); // the model's own resize policy (Keras: resize)
    assert.equal(s.labels, undefined);
  });

  test('rule options become library options; --gamma selects the gamma rule on convs', () => {
    const s = settings('--preset', 'symmetric', '--gamma', '0.5', '--split', 'ratio', '--start', 'softmax', '--first', 'zplus', '--epsilon', '1e-6', 'x.png');
    assert.deepEqual(s.rules, { preset: 'symmetric', conv: { name: 'gamma', gamma: 0.5 }, split: 'ratio', start: 'softmax', first: 'zplus', epsilon: 1e-6 });
  });

  test('--quantize: bare flag = 8 levels, a following number is the level count', () => {
    assert.equal(settings('--quantize', 'photo.jpg').quantize, 8);
    assert.deepEqual(settings('--quantize', 'photo.jpg').inputs, ['photo.jpg']);
    assert.equal(settings('photo.jpg', '--quantize').quantize, 8);
    assert.equal(settings('--quantize', '4', 'photo.jpg').quantize, 4);
    assert.equal(settings('--quantize=5', 'photo.jpg').quantize, 5);
    // After `--` everything is an input.
    assert.deepEqual(settings('--', '--quantize', '3').inputs, ['--quantize', '3']);
  });

  test('--format: repeatable, comma lists, canonical order without duplicates', () => {
    assert.deepEqual(settings('-f', 'json,png', '--format', 'npy', '-f', 'png', 'x').formats, ['png', 'npy', 'json']);
  });

  test('--weights: imagenet, random (seed 0) or a path', () => {
    assert.deepEqual(settings('--weights', 'random', 'x').weights, { kind: 'random', seed: 0 });
    assert.deepEqual(settings('--weights', 'w.h5', 'x').weights, { kind: 'file', path: 'w.h5' });
  });

  test('bad values are usage errors naming the option', () => {
    for (const [argv, message] of [
      [['--class', '-3', 'x'], /--class/],
      [['--class=-3', 'x'], /--class must be a class index ≥ 0, got "-3"/],
      [['--class', '2.5', 'x'], /--class/],
      [['--epsilon', '0', 'x'], /--epsilon must be a number > 0/],
      [['--gamma', 'abc', 'x'], /--gamma must be a number ≥ 0/],
      [['--precision', 'float16', 'x'], /--precision must be one of float32, float64/],
      [['--fit', 'stretch', 'x'], /--fit must be one of resize, center-crop/],
      [['--colormap', 'jet', 'x'], /--colormap must be one of bwr, RdBu_r, Reds, hot/],
      [['--preset', 'best', 'x'], /--preset must be one of default, symmetric, gamma, epsilon-gamma-box/],
      [['--batch', '1.5', 'x'], /--batch must be an integer ≥ 1/],
      [['--json=yes', 'x'], /option --json does not take a value/],
      [[], /no inputs/],
    ] as [string[], RegExp][]) {
      assert.throws(() => parseExplainArgs(argv), (e: unknown) => e instanceof UsageError && message.test(e.message) && e.hint === 'see resnet-lrp explain --help', argv.join(' '));
    }
  });

  test('--help wins over everything else', () => {
    assert.deepEqual(parseExplainArgs(['--help', '--batch', '0']), { help: true });
  });
});

describe('--no-cache', () => {
  test('explain and evaluate parse it (default off); the environment variable turns the cache off too', () => {
    const on = parseExplainArgs(['x.png']);
    const off = parseExplainArgs(['--no-cache', 'x.png']);
    assert.ok(!on.help && !off.help);
    assert.equal(on.settings.noCache, false);
    assert.equal(off.settings.noCache, true);
    const evaluated = parseEvaluateArgs(['--no-cache', 'folder']);
    assert.ok(!evaluated.help && evaluated.settings.noCache);
    // The command's environment places the cache, as it places the weights.
    assert.deepEqual(compileCacheSetting(false, { RESNET_LRP_CACHE: '/data/c' }), { dir: '/data/c/compiled' });
    assert.deepEqual(compileCacheSetting(false, { HOME: '/home/u' }), { dir: '/home/u/.cache/resnet-lrp/compiled' });
    assert.equal(compileCacheSetting(true, { HOME: '/home/u' }), false);
    assert.equal(compileCacheSetting(false, { RESNET_LRP_NO_CACHE: '1' }), false);
    assert.deepEqual(compileCacheSetting(false, { RESNET_LRP_NO_CACHE: '0', HOME: '/h' }), { dir: '/h/.cache/resnet-lrp/compiled' });
  });
});
