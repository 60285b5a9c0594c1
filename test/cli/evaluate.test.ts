/**
 * `resnet-lrp evaluate` and `merge` end to end on the bundled reference model: labels from
 * class folders, the records, the report, and the two promises of the scale recipe — shards
 * merged equal a single run exactly, and a killed run resumed equals an uninterrupted one.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { main } from '../../src/cli/main.js';
import { readRecords, type EvaluationRecord, type RunInfo } from '../../src/eval/records.js';
import type { EvaluationReport } from '../../src/eval/report.js';
import { FIXTURE_WEIGHTS, SAMPLES_DIR } from '../support/fixture.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: readonly string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    // No reachable weights cache, and no compile cache written anywhere.
    env: { RESNET_LRP_CACHE: '/nonexistent', RESNET_LRP_NO_CACHE: '1' },
  });
  return { code, stdout, stderr };
}

/** The records without their wall times, in report order. */
async function results(dir: string): Promise<Omit<EvaluationRecord, 'seconds'>[]> {
  return (await readRecords(dir))
    .sort((a, b) => a.index - b.index || (a.method < b.method ? -1 : 1))
    .map(({ seconds: _, ...rest }) => rest);
}

async function reportWithoutTiming(dir: string): Promise<Omit<EvaluationReport, 'timing'>> {
  const { timing: _, ...rest } = JSON.parse(await readFile(join(dir, 'report.json'), 'utf8')) as EvaluationReport;
  return rest;
}

describe('resnet-lrp evaluate / merge', () => {
  let tmp: string;
  let data: string;
  // 16×16 patches, 49 per step: 4 steps, 8 forward passes per image and method.
  const common = ['--weights', FIXTURE_WEIGHTS, '--methods', 'lrp,random', '--patch', '16', '--step', '49', '--batch', '8', '--quiet'];

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'resnet-lrp-evaluate-'));
    // ImageNet validation layout: class folders by WordNet id and by index, plus a loose image.
    data = join(tmp, 'val');
    for (const [folder, files] of [['n02123045', ['chelsea.png', 'coffee.png']], ['5', ['astronaut.png']], ['.', ['rocket.jpg']]] as const) {
      await mkdir(join(data, folder), { recursive: true });
      for (const f of files) await copyFile(join(SAMPLES_DIR, f), join(data, folder, f));
    }
  });
  after(() => rm(tmp, { recursive: true, force: true }));

  test('a single run: labels from class folders, one record per image and method, report and plot', async () => {
    const run = await cli(['evaluate', data, ...common, '--out', join(tmp, 'single')]);
    assert.equal(run.code, 0, run.stderr);
    const records = await results(join(tmp, 'single'));
    assert.equal(records.length, 8);
    const byImage = new Map(records.map((r) => [r.image.slice(data.length + 1), r]));
    assert.deepEqual([...byImage.keys()], ['rocket.jpg', '5/astronaut.png', 'n02123045/chelsea.png', 'n02123045/coffee.png']);
    assert.equal(byImage.get('n02123045/chelsea.png')!.label, 281);
    assert.equal(byImage.get('n02123045/chelsea.png')!.target, 281);
    assert.equal(byImage.get('5/astronaut.png')!.target, 5);
    const rocket = byImage.get('rocket.jpg')!;
    assert.equal(rocket.label, null);
    assert.equal(rocket.target, rocket.predicted, 'unlabelled: the predicted class is measured');
    for (const r of records) {
      assert.equal(r.insertionCurve.length, 4);
      assert.ok(Math.abs(r.pid - (r.insertion - r.deletion)) < 1e-12);
    }
    const report = JSON.parse(await readFile(join(tmp, 'single', 'report.json'), 'utf8')) as EvaluationReport;
    assert.deepEqual(report.methods.map((m) => [m.method, m.n]), [['lrp', 4], ['random', 4]]);
    const lrpPids = records.filter((r) => r.method === 'lrp').map((r) => r.pid);
    assert.ok(Math.abs(report.methods[0]!.pid.mean - lrpPids.reduce((a, b) => a + b) / 4) < 1e-12);
    assert.deepEqual(report.perClass.map((c) => c.classIndex), [...new Set([5, 281, rocket.target])].sort((a, b) => a - b));
    assert.equal(report.labeled, 3);
    const markdown = await readFile(join(tmp, 'single', 'report.md'), 'utf8');
    assert.match(markdown, /\| (\*\*)?lrp(\*\*)? \| 4 \| -?\d\.\d{3} ± \d\.\d{3} \|/);
    assert.match(markdown, /!\[.*\]\(curves\.png\)/);
    const plot = await sharp(join(tmp, 'single', 'curves.png')).metadata();
    assert.equal(plot.format, 'png');
    assert.ok(plot.width! >= 1000 && plot.height! >= 500);
  });

  test('shards 0/2 and 1/2 merged equal the single run exactly (records, report, per-class table, plot)', async () => {
    for (const shard of ['0/2', '1/2']) {
      const run = await cli(['evaluate', data, ...common, '--shard', shard, '--out', join(tmp, `shard-${shard[0]}`)]);
      assert.equal(run.code, 0, run.stderr);
    }
    assert.equal((await readRecords(join(tmp, 'shard-0'))).length, 4, 'shard 0 has images 0 and 2');
    const merged = await cli(['merge', join(tmp, 'shard-0'), join(tmp, 'shard-1'), '--out', join(tmp, 'merged'), '--quiet']);
    assert.equal(merged.code, 0, merged.stderr);
    assert.deepEqual(await results(join(tmp, 'merged')), await results(join(tmp, 'single')));
    assert.deepEqual(await reportWithoutTiming(join(tmp, 'merged')), await reportWithoutTiming(join(tmp, 'single')));
    for (const file of ['per-class.csv', 'curves.png']) {
      assert.deepEqual(await readFile(join(tmp, 'merged', file)), await readFile(join(tmp, 'single', file)), file);
    }
    // A missing shard is reported, not silently passed off as the whole.
    const partial = await cli(['merge', join(tmp, 'shard-0'), '--out', join(tmp, 'partial')]);
    assert.equal(partial.code, 0);
    assert.match(partial.stderr, /shards 1\/2 are missing/);
  });

  test('a run killed mid-write and resumed equals the uninterrupted run; without --resume the folder is refused', async () => {
    const dir = join(tmp, 'killed');
    await mkdir(dir);
    await copyFile(join(tmp, 'single', 'run.json'), join(dir, 'run.json'));
    const lines = (await readFile(join(tmp, 'single', 'results.jsonl'), 'utf8')).split('\n');
    // Three complete records and half of the fourth, as a kill during the write leaves them.
    await writeFile(join(dir, 'results.jsonl'), `${lines.slice(0, 3).join('\n')}\n${lines[3]!.slice(0, 50)}`);
    const refused = await cli(['evaluate', data, ...common, '--out', dir]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /holds the results of an earlier run: add --resume/);
    const changed = await cli(['evaluate', data, ...common, '--step', '98', '--resume', '--out', dir]);
    assert.equal(changed.code, 2);
    assert.match(changed.stderr, /settings differ .*step: 49 ≠ 98/);
    const resumed = await cli(['evaluate', data, ...common, '--resume', '--out', dir]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual(await results(dir), await results(join(tmp, 'single')));
    assert.deepEqual(await reportWithoutTiming(dir), await reportWithoutTiming(join(tmp, 'single')));
  });

  test('every method runs on the bundled model: LRP, the gradient baselines, Grad-CAM, IG, random', async () => {
    const methods = ['lrp', 'lrp-symmetric', 'gradcam', 'ig', 'gbp', 'gradxinput', 'gradient', 'random'];
    const dir = join(tmp, 'methods');
    const run = await cli(['evaluate', join(data, 'n02123045'), '--weights', FIXTURE_WEIGHTS, '--methods', methods.join(','),
      '--patch', '16', '--step', '49', '--limit', '1', '--ig-steps', '8', '--quiet', '--out', dir]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal((JSON.parse(await readFile(join(dir, 'run.json'), 'utf8')) as RunInfo).settings.igSteps, 8, 'IG steps recorded');
    const records = await readRecords(dir);
    assert.deepEqual(records.map((r) => r.method), methods, 'one record per method, in the order asked for');
    for (const r of records) {
      assert.equal(r.target, 281, `${r.method}: the label is measured`);
      assert.ok([r.insertion, r.deletion].every((v) => v >= 0 && v <= 1), `${r.method}: AUCs in [0, 1]`);
      assert.equal(r.insertionCurve.length, 4);
    }
    // Different maps rank the patches differently: the methods are not one map under eight names.
    assert.ok(new Set(records.map((r) => r.insertionCurve.join())).size >= 5, 'distinct insertion curves');
    const report = JSON.parse(await readFile(join(dir, 'report.json'), 'utf8')) as EvaluationReport;
    assert.deepEqual(report.methods.map((m) => m.method).sort(), [...methods].sort());
  });

  test('usage errors name the option', async () => {
    for (const [args, message] of [
      [['--methods', 'lrp,smoothgrad'], /unknown method "smoothgrad"/],
      [['--patch', '5'], /--patch must divide 224/],
      [['--shard', '2/2'], /--shard must be i\/n with 0 ≤ i < n/],
      [['--step', '50176'], /fewer than 2 steps/],
      [['--ig-steps', '0'], /--ig-steps must be an integer ≥ 1/],
    ] as const) {
      const run = await cli(['evaluate', data, ...args]);
      assert.equal(run.code, 2, args.join(' '));
      assert.match(run.stderr, message);
    }
  });
});
