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
import type { ChildProcess } from 'node:child_process';
import { parseEvaluateArgs } from '../../src/cli/evaluate-options.js';
import { main } from '../../src/cli/main.js';
import { readRecords, type EvaluationRecord, type RunInfo } from '../../src/eval/records.js';
import type { EvaluationReport } from '../../src/eval/report.js';
import { imagenetLabels } from '../../src/model/labels.js';
import { TORCHVISION_INPUT } from '../../src/model/input.js';
import { buildResNet, kerasResNetSpec, TORCH_BN_EPSILON } from '../../src/model/resnet.js';
import { randomWeights } from '../../src/weights/random.js';
import { FIXTURE_WEIGHTS, REPO_ROOT, SAMPLES_DIR } from '../support/fixture.js';
import { torchvisionOnnx } from '../support/torch-onnx.js';
import { runCli } from '../support/process.js';

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
    // Conservation per record (LRP has input relevance, random none) and its mean per method.
    const lrpConservation = records.filter((r) => r.method === 'lrp').map((r) => r.conservation);
    assert.ok(lrpConservation.every((c) => typeof c === 'number' && Number.isFinite(c)), `lrp: ${lrpConservation}`);
    assert.ok(records.filter((r) => r.method === 'random').every((r) => r.conservation === null));
    assert.ok(Math.abs(report.methods[0]!.conservation!.mean - (lrpConservation as number[]).reduce((a, b) => a + b) / 4) < 1e-12);
    assert.equal(report.methods[1]!.conservation, null);
    assert.equal(report.settings.ties, 'paper', 'the default tie rule is recorded');
    const markdown = await readFile(join(tmp, 'single', 'report.md'), 'utf8');
    assert.match(markdown, /\| (\*\*)?lrp(\*\*)? \| 4 \| -?\d\.\d{3} ± \d\.\d{3} \|/);
    assert.match(markdown, /\| (\*\*)?random(\*\*)? \| 4 \|.* \| — \| \d+\.\d\d \|/, 'random: no conservation');
    assert.match(markdown, /^Ties: the paper's rule \(every patch tying with a step's threshold enters at once\)\.$/m);
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
    // Every method with input relevance reports its conservation; Grad-CAM and random have none.
    const withoutRelevance = ['gradcam', 'random'];
    for (const m of report.methods) assert.equal(m.conservation === null, withoutRelevance.includes(m.method), m.method);
  });

  test('--ties: the rule is recorded and stated, quantized maps report their ties, random ties are seeded', async () => {
    const one = ['evaluate', join(data, 'n02123045', 'chelsea.png'), '--weights', FIXTURE_WEIGHTS, '--methods', 'lrp', '--patch', '16', '--step', '49', '--quantize', '3'];
    const names = join(tmp, 'names.json');
    await writeFile(names, JSON.stringify(Array.from({ length: 1000 }, (_, i) => `name ${i}`)));
    const runs: Record<string, EvaluationRecord> = {};
    for (const [name, extra] of [['paper', ['--class-names', names]], ['stable', ['--ties', 'stable']], ['random0', ['--ties', 'random']], ['random0b', ['--ties', 'random', '--seed', '0']], ['random7', ['--ties', 'random', '--seed', '7']]] as const) {
      const dir = join(tmp, `ties-${name}`);
      const run = await cli([...one, ...extra, '--out', dir]);
      assert.equal(run.code, 0, run.stderr);
      const [first] = await readRecords(dir);
      assert.ok(first, `${name}: no record`);
      runs[name] = first;
      const report = JSON.parse(await readFile(join(dir, 'report.json'), 'utf8')) as EvaluationReport;
      assert.equal(report.settings.ties, name === 'paper' ? 'paper' : name === 'stable' ? 'stable' : 'random');
      const measured = report.perClass[0]!;
      assert.equal(measured.className, name === 'paper' ? `name ${measured.classIndex}` : imagenetLabels()[measured.classIndex], '--class-names names the classes');
      if (name === 'stable') {
        assert.match(run.stdout, /ties broken by patch index/);
        assert.match(run.stdout, /conservation +ties/, 'table columns');
        assert.match(await readFile(join(dir, 'report.md'), 'utf8'), /\| conservation \| ties \|/);
      }
    }
    // 3 levels tie most of the 196 patches: the statistics describe the map, whatever the rule.
    const paper = runs.paper!;
    assert.ok(paper.tied! > 1 && paper.paperLead! > 0, `tied ${paper.tied}, lead ${paper.paperLead}`);
    for (const r of Object.values(runs)) assert.deepEqual([r.tied, r.paperLead, r.conservation], [paper.tied, paper.paperLead, paper.conservation]);
    assert.notDeepEqual(runs.stable!.insertionCurve, paper.insertionCurve, 'stable ties take fewer patches than the paper’s rule');
    assert.deepEqual(runs.random0b!.insertionCurve, runs.random0!.insertionCurve, 'same seed, same curves');
    assert.notDeepEqual(runs.random7!.insertionCurve, runs.random0!.insertionCurve, 'another seed, another order');
    // A resumed run with another rule is refused.
    const changed = await cli([...one, '--ties', 'stable', '--resume', '--out', join(tmp, 'ties-paper')]);
    assert.equal(changed.code, 2);
    assert.match(changed.stderr, /ties: "paper" ≠ "stable"/);
  });

  test('a 32×32 model with 10 classes: CIFAR-10 images, their labels.csv and class names, --patch checked against 32', async () => {
    // A narrow torchvision-style ResNet18 at CIFAR's input size (random weights: the scores mean nothing).
    const graph = buildResNet({
      ...kerasResNetSpec(50, { baseWidth: 4, classes: 10, inputSize: 32 }),
      name: 'resnet18', stageBlocks: [1, 1, 1, 1], block: 'basic', strideOn: 'middle', convBias: false,
      bnEpsilon: TORCH_BN_EPSILON, input: { ...TORCHVISION_INPUT, size: 32 },
    });
    const model = join(tmp, 'cifar-sized.onnx');
    await writeFile(model, torchvisionOnnx(graph, randomWeights(graph, 3)));
    const cifar = join(SAMPLES_DIR, 'cifar10');
    const images = join(tmp, 'cifar');
    await mkdir(images);
    for (const file of ['airplane-0000.jpg', 'cat-0000.jpg', 'truck-0001.jpg']) await copyFile(join(cifar, file), join(images, file));
    const dir = join(tmp, 'cifar-out');
    const args = ['evaluate', images, '--weights', model, '--labels', join(cifar, 'labels.csv'), '--class-names', join(REPO_ROOT, 'assets', 'models', 'cifar10-resnet20.labels.json'),
      '--fit', 'resize', '--methods', 'lrp,random', '--patch', '1', '--step', '20', '--quiet'];
    const run = await cli([...args, '--out', dir]);
    assert.equal(run.code, 0, run.stderr);
    const records = await readRecords(dir);
    assert.deepEqual(records.map((r) => [r.image.slice(images.length + 1), r.label, r.method]), [
      ['airplane-0000.jpg', 0, 'lrp'], ['airplane-0000.jpg', 0, 'random'], ['cat-0000.jpg', 3, 'lrp'], ['cat-0000.jpg', 3, 'random'], ['truck-0001.jpg', 9, 'lrp'], ['truck-0001.jpg', 9, 'random'],
    ]);
    // 32 × 32 one-pixel patches, 20 per step: ceil(1024 / 20) = 52 points per curve.
    for (const r of records) assert.equal(r.insertionCurve.length, 52);
    const report = JSON.parse(await readFile(join(dir, 'report.json'), 'utf8')) as EvaluationReport;
    assert.deepEqual(report.perClass.map((c) => c.className), ['airplane', 'cat', 'truck']);
    assert.equal(report.labeled, 3);
    const refused = await cli([...args, '--patch', '5', '--out', join(tmp, 'cifar-refused')]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /--patch must divide 32 \(the model's input side\), got 5/);
    await assert.rejects(readFile(join(tmp, 'cifar-refused', 'run.json')), /ENOENT/, 'refused before anything is written');
  });

  test('usage errors name the option', async () => {
    for (const [args, message] of [
      [['--methods', 'lrp,smoothgrad'], /unknown method "smoothgrad"/],
      [['--patch', '5'], /--patch must divide 224/],
      [['--shard', '2/2'], /--shard must be i\/n or auto\/n with 0 ≤ i < n/],
      [['--step', '50176'], /fewer than 2 steps/],
      [['--ig-steps', '0'], /--ig-steps must be an integer ≥ 1/],
      [['--ties', 'first'], /--ties must be one of paper, stable, random, got "first"/],
      [['--class-names', join(tmp, 'no-such-names.json')], /--class-names .*no-such-names\.json: no such file/],
      [['--shard', 'auto/4'], /--shard auto\/4: neither JOB_COMPLETION_INDEX nor SLURM_ARRAY_TASK_ID is set/],
    ] as const) {
      const run = await cli(['evaluate', data, ...args]);
      assert.equal(run.code, 2, args.join(' '));
      assert.match(run.stderr, message);
    }
  });
});

test('--shard auto/n reads the index from a Kubernetes Indexed Job or a Slurm job array, and refuses a bad one', () => {
  const shard = (env: Record<string, string>, text = 'auto/4') => {
    const request = parseEvaluateArgs(['images/', '--shard', text], env);
    return request.help ? undefined : request.settings.shard;
  };
  assert.deepEqual(shard({ JOB_COMPLETION_INDEX: '2' }), { index: 2, count: 4 });
  assert.deepEqual(shard({ SLURM_ARRAY_TASK_ID: '3' }), { index: 3, count: 4 });
  assert.deepEqual(shard({ JOB_COMPLETION_INDEX: '', SLURM_ARRAY_TASK_ID: '0' }), { index: 0, count: 4 }, 'an empty variable is unset');
  assert.deepEqual(shard({ JOB_COMPLETION_INDEX: '1' }, '3/4'), { index: 3, count: 4 }, 'an explicit index wins');
  assert.throws(() => shard({}), /--shard auto\/4: neither JOB_COMPLETION_INDEX nor SLURM_ARRAY_TASK_ID is set/);
  assert.throws(() => shard({ SLURM_ARRAY_TASK_ID: '4' }), /SLURM_ARRAY_TASK_ID="4" is not a shard index 0\.\.3 \(submit with --array=0-3\)/);
  assert.throws(() => shard({ JOB_COMPLETION_INDEX: '-1' }), /JOB_COMPLETION_INDEX="-1" is not a shard index 0\.\.3/);
  assert.throws(() => shard({ JOB_COMPLETION_INDEX: '1' }, 'auto/0'), /--shard must be i\/n or auto\/n/);
});

describe('the scale recipe: shards as parallel processes, one killed and resumed, then merged', () => {
  let tmp: string;
  let data: string;
  const common = ['--weights', FIXTURE_WEIGHTS, '--methods', 'lrp,random', '--patch', '16', '--step', '49', '--batch', '8', '--quiet'];
  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'resnet-lrp-shards-'));
    // 8 images: the four samples in two class folders.
    data = join(tmp, 'val');
    for (const folder of ['n02123045', '7']) {
      await mkdir(join(data, folder), { recursive: true });
      for (const f of ['chelsea.png', 'coffee.png', 'astronaut.png', 'rocket.jpg']) await copyFile(join(SAMPLES_DIR, f), join(data, folder, f));
    }
  });
  after(() => rm(tmp, { recursive: true, force: true }));

  test('3 shards (auto/3 from JOB_COMPLETION_INDEX), shard 0 killed after its first record and resumed (SLURM_ARRAY_TASK_ID): the merge is the single run', async () => {
    const single = await cli(['evaluate', data, ...common, '--out', join(tmp, 'single')]);
    assert.equal(single.code, 0, single.stderr);
    const shardDir = (i: number) => join(tmp, `shard-${i}`);
    const shardRun = (i: number, env: Record<string, string>, extra: string[] = [], onStart?: (child: ChildProcess) => void) =>
      runCli(['evaluate', data, ...common, ...extra, '--shard', 'auto/3', '--out', shardDir(i)], { home: tmp, env, timeoutMs: 120_000, ...(onStart ? { onStart } : {}) });
    const killAfterFirstRecord = (child: ChildProcess) => {
      const poll = setInterval(() => {
        readFile(join(shardDir(0), 'results.jsonl'), 'utf8').then((text) => {
          if (text.includes('\n')) {
            clearInterval(poll);
            child.kill('SIGKILL');
          }
        }, () => undefined);
      }, 5);
      child.on('close', () => clearInterval(poll));
    };
    const runs = await Promise.all([0, 1, 2].map((i) => shardRun(i, { JOB_COMPLETION_INDEX: String(i) }, [], i === 0 ? killAfterFirstRecord : undefined)));
    assert.equal(runs[0]!.signal, 'SIGKILL', 'shard 0 was killed, not finished');
    const partial = (await readFile(join(shardDir(0), 'results.jsonl'), 'utf8')).split('\n').filter((line) => line !== '').length;
    assert.ok(partial >= 1 && partial < 6, `shard 0 stopped midway: ${partial} of 6 records`);
    for (const i of [1, 2]) assert.equal(runs[i]!.code, 0, runs[i]!.stderr);
    // A restarted Slurm array task resumes where it stopped.
    const resumed = await shardRun(0, { SLURM_ARRAY_TASK_ID: '0' }, ['--resume']);
    assert.equal(resumed.code, 0, resumed.stderr);
    const merged = await cli(['merge', shardDir(0), shardDir(1), shardDir(2), '--out', join(tmp, 'merged'), '--quiet']);
    assert.equal(merged.code, 0, merged.stderr);

    // Byte for byte, except the wall times: the records' `seconds`, report.json's `timing` and
    // report.md's "s / image" column measure this machine's load, not the results.
    const read = (dir: string, file: string) => readFile(join(tmp, dir, file));
    for (const file of ['per-class.csv', 'curves.png', 'run.json']) assert.deepEqual(await read('merged', file), await read('single', file), file);
    const withoutSeconds = async (dir: string) => (await read(dir, 'results.jsonl')).toString().replace(/"seconds":[^,}]*/g, '"seconds":_');
    assert.equal(await withoutSeconds('merged'), await withoutSeconds('single'), 'results.jsonl');
    const withoutTiming = async (dir: string) => (await read(dir, 'report.json')).toString().replace(/"timing":\s*\{[^}]*\}/, '"timing":_');
    assert.equal(await withoutTiming('merged'), await withoutTiming('single'), 'report.json');
    // The method table (from its header with "s / image" to the blank line after it) ends in the time.
    const withoutTimeColumn = async (dir: string) => {
      let inTable = false;
      return (await read(dir, 'report.md')).toString().split('\n').map((line) => {
        if (line.includes('| s / image |')) inTable = true;
        else if (line.trim() === '') inTable = false;
        return inTable ? line.replace(/ [^|]* \|$/, ' _ |') : line;
      }).join('\n');
    };
    assert.equal(await withoutTimeColumn('merged'), await withoutTimeColumn('single'), 'report.md');
    assert.match((await read('single', 'report.md')).toString(), /\| s \/ image \|/, 'the column left out is the timing');
  });
});
