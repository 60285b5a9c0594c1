/**
 * The compiled `resnet-lrp` CLI, run as a user runs it (a child process), against the fixture
 * weights. Never touches the network: the ImageNet download is pointed at a closed local port.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { EXPLAIN_COMMAND } from '../../src/cli/explain-options.js';
import { MAIN_COMMAND } from '../../src/cli/main.js';
import { colorize } from '../../src/image/colormap.js';
import { figureLayout } from '../../src/image/figure.js';
import { loadImage } from '../../src/image/load.js';
import { decodeNpy } from '../../src/image/npy.js';
import { LrpModel, type LrpResult } from '../../src/lrp-model.js';
import { imagenetLabels } from '../../src/model/labels.js';
import { RESNET50_FILE_NAMES } from '../../src/weights/imagenet.js';
import { FIXTURE_WEIGHTS, REPO_ROOT, relativeL2, tvExpected, tvPath } from '../support/fixture.js';
import { runCli, type CliRun } from '../support/process.js';

const SAMPLES = join(REPO_ROOT, 'assets', 'samples');
const SAMPLE_FILES = ['astronaut.png', 'chelsea.png', 'coffee.png', 'rocket.jpg'];
const HINT = 'see resnet-lrp explain --help';

type Run = CliRun;

/** Runs the CLI with a clean environment: no real cache, no way to reach the real download URL. */
function cli(args: readonly string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<Run> {
  return runCli(args, { home: tmp, env: { RESNET_LRP_WEIGHTS_URL: closedUrl, ...options.env }, ...(options.cwd ? { cwd: options.cwd } : {}) });
}

/** `explain` with the fixture weights, writing into `out`. */
function explain(out: string, ...args: string[]): Promise<Run> {
  return cli(['explain', '--weights', FIXTURE_WEIGHTS, '--out', out, ...args]);
}

/** A URL on 127.0.0.1 where nothing listens (a port we bound, then released). */
async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/`;
}

function assertNoStackTrace(text: string): void {
  assert.doesNotMatch(text, /^\s+at .+[:(]/m, `stack trace in:\n${text}`);
}

let tmp: string;
let closedUrl: string;
let model: LrpModel;
/** The library's own results for the samples (computed in-process, not by the CLI). */
const reference = new Map<string, LrpResult>();
async function referenceFor(file: string, classIndex?: number): Promise<LrpResult> {
  const key = `${file}#${classIndex}`;
  if (!reference.has(key)) {
    const image = await loadImage(join(SAMPLES, file));
    reference.set(key, await model.computeLrp(image.input, { debug: true, ...(classIndex !== undefined ? { classIndex } : {}) }));
  }
  return reference.get(key)!;
}

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'resnet-lrp-cli-'));
  closedUrl = await closedPortUrl();
  model = await LrpModel.load({ weights: FIXTURE_WEIGHTS });
});
after(async () => {
  await model.dispose();
  await rm(tmp, { recursive: true, force: true });
});

describe('resnet-lrp explain', { concurrency: 2 }, () => {
  test('one image, every format: valid PNGs, an NPY and a JSON that agree with the library', async () => {
    const out = join(tmp, 'one');
    const run = await explain(out, '--format', 'png,heatmap', '-f', 'npy', '--format=json', join(SAMPLES, 'chelsea.png'));
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual((await readdir(out)).sort(), ['chelsea.attribution.npy', 'chelsea.heatmap.png', 'chelsea.lrp.json', 'chelsea.lrp.png']);
    const ref = await referenceFor('chelsea.png');

    const figure = await sharp(join(out, 'chelsea.lrp.png')).metadata();
    const layout = figureLayout(224, 224);
    assert.deepEqual([figure.format, figure.width, figure.height], ['png', layout.width, layout.height]);

    const npy = decodeNpy(await readFile(join(out, 'chelsea.attribution.npy')));
    assert.deepEqual(npy.shape, [224, 224]);
    assert.ok(npy.data instanceof Float32Array);
    assert.ok(relativeL2(npy.data, ref.attribution.data) < 1e-5, 'the .npy is the library attribution map');

    // The heatmap shows exactly that map, with the default colormap and symmetric scale.
    const heat = await sharp(join(out, 'chelsea.heatmap.png')).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([heat.info.width, heat.info.height, heat.info.channels], [224, 224, 3]);
    assert.deepEqual(new Uint8Array(heat.data), colorize(npy.data));

    const json = JSON.parse(await readFile(join(out, 'chelsea.lrp.json'), 'utf8'));
    assert.equal(json.prediction.classIndex, ref.classIndex);
    assert.equal(json.prediction.className, imagenetLabels()[ref.classIndex]);
    assert.ok(Math.abs(json.prediction.confidence - ref.probabilities[ref.classIndex]!) < 1e-6);
    assert.equal(json.target.classIndex, ref.classIndex);
    assert.ok(Math.abs(json.conservationError - ref.conservationError!) < 1e-5);
    assert.deepEqual(json.top5.map((t: { classIndex: number }) => t.classIndex).slice(0, 1), [ref.classIndex]);
    assert.equal(json.top5.length, 5);
    assert.deepEqual(json.attribution.shape, [224, 224]);
    assert.equal(json.attribution.data, undefined, 'the map is only included with --include-map');
    assert.equal(json.meaningful, true);
    // One image: no progress bar; the summary names the file, class and outputs.
    assert.doesNotMatch(run.stderr, /ETA/);
    assert.match(run.stdout, new RegExp(`chelsea\\.png +${ref.classIndex} `));
  });

  test('conservation (Σ input relevance / start relevance) in the JSON and the summary: the reference sums of tv-resnet18-w4', async () => {
    const fixture = 'tv-resnet18-w4';
    const ref = tvExpected(fixture);
    for (const [preset, config] of [['default', 'default'], ['symmetric', 'symmetric']] as const) {
      const out = join(tmp, `conservation-${preset}`);
      const run = await cli(['explain', '--weights', tvPath(fixture, 'model.onnx'), '--fit', 'resize', '--preset', preset, '-f', 'json', '--out', out, tvPath(fixture, 'input_224.png')]);
      assert.equal(run.code, 0, run.stderr);
      const json = JSON.parse(await readFile(join(out, 'input_224.lrp.json'), 'utf8'));
      assert.equal(json.target.classIndex, ref.target);
      // The ratio split conserves (1.0000), the symmetric one loses a tenth (0.8946).
      const want = ref.configs[config]!.input_sum / ref.logit;
      assert.ok(Math.abs(json.conservation - want) < 1e-3, `${preset}: ${json.conservation} vs ${want}`);
      assert.ok(Math.abs(Math.abs(json.conservation - 1) - json.conservationError) < 1e-6, 'error = |ratio − 1|');
      assert.match(run.stdout, /conservation/);
      assert.match(run.stdout, new RegExp(`input_224\\.png +${ref.target} .* ${json.conservation.toFixed(4)} `));
    }
  });

  test('--class 281 explains that class instead of the predicted one', async () => {
    const out = join(tmp, 'class');
    const run = await explain(out, '--class', '281', '-f', 'json,npy', '--include-map', join(SAMPLES, 'chelsea.png'));
    assert.equal(run.code, 0, run.stderr);
    const ref = await referenceFor('chelsea.png', 281);
    const predicted = await referenceFor('chelsea.png');
    assert.notEqual(predicted.classIndex, 281, 'the test needs a class other than the predicted one');
    const json = JSON.parse(await readFile(join(out, 'chelsea.lrp.json'), 'utf8'));
    assert.equal(json.target.classIndex, 281);
    assert.equal(json.target.className, 'tabby, tabby cat');
    assert.equal(json.prediction.classIndex, predicted.classIndex, 'the prediction is unchanged');
    const npy = decodeNpy(await readFile(join(out, 'chelsea.attribution.npy')));
    assert.ok(relativeL2(npy.data, ref.attribution.data) < 1e-5, 'the map is the one for class 281');
    assert.ok(relativeL2(npy.data, predicted.attribution.data) > 1e-3, 'and not the one for the predicted class');
    // --include-map: the JSON carries the same map.
    assert.equal(json.attribution.data.length, 224);
    assert.ok(relativeL2(json.attribution.data.flat(), npy.data) < 1e-7);
  });

  test('a folder of the 4 samples with --batch 2: 4 figures and a summary table', async () => {
    const out = join(tmp, 'folder');
    const run = await explain(out, '--batch', '2', SAMPLES);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual((await readdir(out)).sort(), SAMPLE_FILES.map((f) => f.replace(/\.\w+$/, '.lrp.png')));
    const lines = run.stdout.split('\n');
    const header = lines.findIndex((l) => /^file +class +confidence +conservation +outputs$/.test(l));
    assert.ok(header >= 0, run.stdout);
    for (const [k, file] of SAMPLE_FILES.entries()) {
      const ref = await referenceFor(file);
      const row = lines[header + 2 + k]!;
      assert.ok(row.startsWith(join('assets', 'samples', file)) || row.startsWith(join(SAMPLES, file)), row);
      assert.match(row, new RegExp(` ${ref.classIndex} ${imagenetLabels()[ref.classIndex]!.slice(0, 10)}`));
      assert.match(row, new RegExp(`${(100 * ref.probabilities[ref.classIndex]!).toFixed(1)} %`));
      const conservation = ref.attribution.data.reduce((sum, v) => sum + v, 0) / ref.startRelevance;
      assert.match(row, new RegExp(` ${conservation.toFixed(4)} `), 'conservation: Σ input relevance / start relevance');
      assert.match(row, new RegExp(`${file.replace(/\.\w+$/, '')}\\.lrp\\.png$`));
    }
    assert.match(run.stdout, /^4 explained; outputs in /m);
    // Progress with ETA on stderr (not a TTY: whole lines), never on stdout.
    assert.match(run.stderr, /4\/4 +100% .*ETA/);
    assert.doesNotMatch(run.stdout, /ETA/);
  });

  test('--json: only JSON on stdout, one object per input', async () => {
    const out = join(tmp, 'json');
    const run = await explain(out, '--json', '-b', '3', '-f', 'json', SAMPLES);
    assert.equal(run.code, 0, run.stderr);
    const results = JSON.parse(run.stdout); // throws on any progress or table junk
    assert.equal(results.length, 4);
    for (const [k, file] of SAMPLE_FILES.entries()) {
      const ref = await referenceFor(file);
      assert.equal(results[k].input, join(SAMPLES, file));
      assert.equal(results[k].status, 'ok');
      assert.equal(results[k].predictedClass, ref.classIndex);
      assert.deepEqual(results[k].outputs, [join(out, file.replace(/\.\w+$/, '.lrp.json'))]);
    }
    assert.match(run.stderr, /ETA/, 'progress goes to stderr');
  });

  test('--resume skips inputs whose outputs exist, and redoes the others', async () => {
    const out = join(tmp, 'resume');
    const first = await explain(out, '-f', 'png,json', SAMPLES);
    assert.equal(first.code, 0, first.stderr);
    const mtimes = async (): Promise<Map<string, number>> =>
      new Map(await Promise.all((await readdir(out)).map(async (f) => [f, (await stat(join(out, f))).mtimeMs] as [string, number])));
    const before = await mtimes();
    assert.equal(before.size, 8);
    await rm(join(out, 'coffee.lrp.json')); // coffee is incomplete now

    const second = await explain(out, '-f', 'png,json', '--resume', '--json', SAMPLES);
    assert.equal(second.code, 0, second.stderr);
    const results = JSON.parse(second.stdout);
    assert.deepEqual(results.map((r: { status: string }) => r.status), ['skipped', 'skipped', 'ok', 'skipped']);
    const now = await mtimes();
    assert.equal(now.size, 8);
    for (const [file, mtime] of before) {
      if (file.startsWith('coffee') && file !== 'coffee.lrp.json') assert.ok(now.get(file)! > mtime, `${file} was not redone`);
      else if (!file.startsWith('coffee')) assert.equal(now.get(file), mtime, `${file} was rewritten`);
    }
    // The removed output is back, and it describes coffee.png.
    const redone = JSON.parse(await readFile(join(out, 'coffee.lrp.json'), 'utf8'));
    assert.match(redone.source, /coffee\.png$/);
    assert.equal(redone.target.classIndex, results[2].targetClass);
  });

  test('a corrupt image among good ones: exit 1, the failure named, the others written', async () => {
    const dir = join(tmp, 'mixed');
    const out = join(tmp, 'mixed-out');
    await mkdir(dir);
    await copyFile(join(SAMPLES, 'chelsea.png'), join(dir, 'a.png'));
    await writeFile(join(dir, 'b.png'), (await readFile(join(SAMPLES, 'coffee.png'))).subarray(0, 4000)); // truncated
    await copyFile(join(SAMPLES, 'rocket.jpg'), join(dir, 'c.jpg'));
    await writeFile(join(dir, 'notes.txt'), 'not an image, and not picked up by the folder scan');
    const run = await explain(out, '-b', '2', dir, join(tmp, 'missing.png'));
    assert.equal(run.code, 1);
    assert.deepEqual((await readdir(out)).sort(), ['a.lrp.png', 'c.lrp.png']);
    assert.match(run.stderr, new RegExp(`error: ${escape(join(dir, 'b.png'))}: could not be decoded`));
    assert.match(run.stderr, new RegExp(`error: ${escape(join(tmp, 'missing.png'))}: no such file`));
    assert.match(run.stdout, /b\.png +FAILED: could not be decoded/);
    assert.match(run.stdout, /2 explained, 2 failed/);
    assert.doesNotMatch(run.stdout + run.stderr, /notes\.txt/);
    assertNoStackTrace(run.stderr);
    // No half-written or temporary files.
    assert.ok((await readdir(out)).every((f) => !f.endsWith('.tmp')));
  });

  test('same file name in two folders: both kept, under disambiguated names', async () => {
    const out = join(tmp, 'same-out');
    for (const [folder, sample] of [['x', 'chelsea.png'], ['y', 'coffee.png']] as const) {
      await mkdir(join(tmp, 'same', folder), { recursive: true });
      await copyFile(join(SAMPLES, sample), join(tmp, 'same', folder, 'photo.png'));
    }
    const run = await explain(out, '-f', 'json', join(tmp, 'same', 'x'), join(tmp, 'same', 'y', 'photo.png'));
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual((await readdir(out)).sort(), ['x_photo.lrp.json', 'y_photo.lrp.json']);
    const x = JSON.parse(await readFile(join(out, 'x_photo.lrp.json'), 'utf8'));
    const y = JSON.parse(await readFile(join(out, 'y_photo.lrp.json'), 'utf8'));
    assert.equal(x.source, join(tmp, 'same', 'x', 'photo.png'));
    assert.equal(y.source, join(tmp, 'same', 'y', 'photo.png'));
    assert.equal(x.prediction.classIndex, (await referenceFor('chelsea.png')).classIndex);
    assert.equal(y.prediction.classIndex, (await referenceFor('coffee.png')).classIndex);
  });

  test('usage errors: exit 2, one line naming the problem, a pointer to --help, no output', async () => {
    const image = join(SAMPLES, 'chelsea.png');
    const cases: [string[], RegExp][] = [
      [['explain', '--frobnicate', image], /unknown option --frobnicate/],
      [['explain', '--weights', FIXTURE_WEIGHTS, '--class', '5000', image], /--class must be in 0\.\.999/],
      [['explain', '--class', '5000', image], /--class must be in 0\.\.999/], // checked before any download
      [['explain', '--class', 'cat', image], /--class must be a class index/],
      [['explain', '--split', 'foo', image], /--split must be one of ratio, ratio-no-fallback, symmetric, gradient, got "foo"/],
      [['explain', '--batch', '0', image], /--batch must be an integer ≥ 1/],
      [['explain', '--format', 'png,gif', image], /--format must be one of png, heatmap, npy, json, trace, got "gif"/],
      [['explain', '--quantize', '1', image], /--quantize must be an integer in 2\.\.65536/],
      [['explain', '--weights', FIXTURE_WEIGHTS], /no inputs/],
      [['explain', '--weights', join(tmp, 'nope.h5'), image], /weights file not found: .*nope\.h5/],
      [['explain', '--out'], /option --out needs a value/],
    ];
    // Run where the default output folder would appear, to see that nothing is written.
    const cwd = join(tmp, 'usage-cwd');
    await mkdir(cwd);
    const runs = await Promise.all(cases.map(([args]) => cli(args, { cwd })));
    for (const [k, run] of runs.entries()) {
      const [args, message] = cases[k]!;
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      const lines = run.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 2, run.stderr);
      assert.match(lines[0]!, /^resnet-lrp explain: /);
      assert.match(lines[0]!, message);
      assert.equal(lines[1], HINT);
      assert.equal(run.stdout, '');
    }
    assert.deepEqual(await readdir(cwd), [], 'nothing written');
    const unknown = await cli(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "frobnicate"[^\n]*\nsee resnet-lrp --help\n$/);
  });

  test('--help lists every option with its default; --version prints the version', async () => {
    const [top, explainHelp, version] = await Promise.all([cli(['--help']), cli(['explain', '--help']), cli(['--version'])]);
    for (const [run, spec] of [[top, MAIN_COMMAND], [explainHelp, EXPLAIN_COMMAND]] as const) {
      assert.equal(run.code, 0);
      assert.equal(run.stderr, '');
      for (const option of spec.options) {
        const line = run.stdout.split('\n').findIndex((l) => l.includes(`--${option.name}`) && l.trimStart().startsWith('-'));
        assert.ok(line >= 0, `--${option.name} missing from the help`);
        if (option.default !== undefined) {
          // The default may wrap onto the option's continuation lines.
          const entry = run.stdout.split('\n').slice(line, line + 4).join(' ').replace(/\s+/g, ' ');
          assert.ok(entry.includes(`(default: ${option.default.replace(/\s+/g, ' ')})`), `--${option.name}: default not shown`);
        }
      }
    }
    assert.match(top.stdout, /explain/);
    for (const name of ['--weights', '--class', '--preset', '--gamma', '--split', '--start', '--first', '--epsilon', '--precision', '--quantize',
      '--positive-only', '--colormap', '--out', '--format', '--batch', '--fit', '--resume', '--json', '--quiet']) {
      assert.ok(explainHelp.stdout.includes(name), name);
    }
    assert.match(explainHelp.stdout, /\(default: imagenet\)/);
    assert.match(explainHelp.stdout, /\(default: \.\/lrp-out\)/);
    const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8'));
    assert.equal(version.stdout, `${pkg.version}\n`);
  });

  test('--weights imagenet, empty cache, no network: a clean error naming where the file goes', async () => {
    const cache = join(tmp, 'empty-cache');
    await mkdir(cache);
    const run = await cli(['explain', '--out', join(tmp, 'offline-out'), join(SAMPLES, 'chelsea.png')], { env: { RESNET_LRP_CACHE: cache } });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^resnet-lrp: error: Cannot download /);
    assert.ok(run.stderr.includes(join(cache, RESNET50_FILE_NAMES.top)), run.stderr);
    assertNoStackTrace(run.stderr);
    assert.equal(run.stdout, '');
    assert.deepEqual(await readdir(cache), [], 'no partial download left');
  });

  test('--weights random: explanations clearly labelled as not meaningful', async () => {
    const out = join(tmp, 'random');
    const run = await cli(['explain', '--weights', 'random', '-f', 'json', '--out', out, join(SAMPLES, 'coffee.png')]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /random weights: NOT a meaningful explanation/);
    assert.match(run.stdout, /weights: random\(seed=0\) — random weights: NOT a meaningful explanation/);
    const json = JSON.parse(await readFile(join(out, 'coffee.lrp.json'), 'utf8'));
    assert.equal(json.meaningful, false);
    assert.equal(json.weights, 'random(seed=0)');
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

test('explain keeps the compiled explainer in the cache; --no-cache and RESNET_LRP_NO_CACHE=1 keep nothing, with the same map', async () => {
  const image = join(SAMPLES, 'chelsea.png');
  const npy = async (out: string) => readFile(join(out, 'chelsea.attribution.npy'));
  const entries = async (cache: string) => readdir(join(cache, 'compiled')).then((names) => names.filter((n) => /^[0-9a-f]{64}$/.test(n)), () => []);
  const runs = [
    { cache: join(tmp, 'cc-default'), args: [], env: {}, kept: 1 },
    { cache: join(tmp, 'cc-flag'), args: ['--no-cache'], env: {}, kept: 0 },
    { cache: join(tmp, 'cc-env'), args: [], env: { RESNET_LRP_NO_CACHE: '1' }, kept: 0 },
  ];
  const maps: Buffer[] = [];
  for (const r of runs) {
    const out = join(r.cache, 'out');
    const run = await cli(['explain', '--weights', FIXTURE_WEIGHTS, '--out', out, '-f', 'npy', '-q', ...r.args, image], { env: { RESNET_LRP_CACHE: r.cache, ...r.env } });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '', 'nothing on stderr (onnxruntime warns when it writes an NCHWc graph unless told not to)');
    assert.equal((await entries(r.cache)).length, r.kept, `${r.args.join(' ') || JSON.stringify(r.env)}`);
    maps.push(await npy(out));
  }
  // A warm start from the entry of the first run.
  const warmOut = join(tmp, 'cc-default', 'out-warm');
  const warm = await cli(['explain', '--weights', FIXTURE_WEIGHTS, '--out', warmOut, '-f', 'npy', '-q', image], { env: { RESNET_LRP_CACHE: join(tmp, 'cc-default') } });
  assert.equal(warm.code, 0, warm.stderr);
  assert.equal(warm.stderr, '', 'no onnxruntime warning on a cached start');
  maps.push(await npy(warmOut));
  for (const map of maps.slice(1)) assert.ok(map.equals(maps[0]!), 'bit-identical maps with and without the cache');
});
