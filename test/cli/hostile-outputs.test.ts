/**
 * Where the commands write (issue 14, items 2, 3, 4, 7, 8, 11), run as child processes with
 * the bundled models: an output is never the input, never a device node or FIFO, never on a
 * kernel file system, and is checked before the model loads; one evaluate run per folder; the
 * model is identified by its content.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, link, lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readRecords, type RunInfo } from '../../src/eval/records.js';
import { LOCK_FILE } from '../../src/util/folder-lock.js';
import { FIXTURE_WEIGHTS, SAMPLES_DIR, tvPath } from '../support/fixture.js';
import { CLI, runCli, type CliOptions, type CliRun } from '../support/process.js';

let tmp: string;
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'resnet-lrp-outputs-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function cli(args: readonly string[], options: Omit<CliOptions, 'home'> = {}): Promise<CliRun> {
  return runCli(args, { timeoutMs: 60_000, ...options, home: tmp });
}

const sha256 = async (path: string): Promise<string> => createHash('sha256').update(await readFile(path)).digest('hex');

/** A file that is no model: loading it fails. A command that names --out instead checked --out first. */
async function notAModel(): Promise<string> {
  const path = join(tmp, 'not-a-model.onnx');
  await writeFile(path, new Uint8Array([8, 1, 2, 3]));
  return path;
}

// Small evaluate runs: 16×16 patches, 49 per step (4 steps), one image.
const evaluateArgs = (out: string, weights: string, ...more: string[]): string[] =>
  ['evaluate', join(SAMPLES_DIR, 'chelsea.png'), '--weights', weights, '--methods', 'random', '--patch', '16', '--step', '49', '--quiet', '--out', out, ...more];

describe('export never destroys its input (item 2)', { concurrency: 2 }, () => {
  for (const [kind, source] of [['.onnx', tvPath('tv-resnet18-w4', 'model.onnx')], ['.h5', FIXTURE_WEIGHTS]] as const) {
    test(`${kind}: --out the same file, a symlink to it or a hard link to it is refused; the file is unchanged`, async () => {
      const dir = await mkdtemp(join(tmp, 'same-'));
      const model = join(dir, `m${kind}`);
      await copyFile(source, model);
      await symlink(model, join(dir, `sym${kind}`));
      await link(model, join(dir, `hard${kind}`));
      const before = await sha256(model);
      for (const out of [model, join(dir, `sym${kind}`), join(dir, `hard${kind}`), join(dir, '.', `m${kind}`)]) {
        const run = await cli(['export', '--weights', model, '--out', out, '--quiet']);
        assert.equal(run.code, 1, `${out}: ${run.stderr}`);
        assert.match(run.stderr, new RegExp(`--out .* is the --weights file .*: writing it would destroy the input; choose another --out`));
      }
      assert.equal(await sha256(model), before);
      assert.equal((await lstat(join(dir, `sym${kind}`))).isSymbolicLink(), true);
      assert.deepEqual((await readdir(dir)).sort(), [`hard${kind}`, `m${kind}`, `sym${kind}`]);
    });
  }

  test('--out the --labels file is refused too', async () => {
    const labels = join(tmp, 'labels.json');
    await writeFile(labels, JSON.stringify(Array.from({ length: 1000 }, (_, i) => `c${i}`)));
    const run = await cli(['export', '--weights', FIXTURE_WEIGHTS, '--labels', labels, '--out', labels, '--quiet']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /is the --labels file/);
    assert.equal(JSON.parse(await readFile(labels, 'utf8')).length, 1000);
  });
});

describe('outputs are regular files or nothing (item 4)', () => {
  test('export onto a FIFO or a symlink to a device node is refused before the model loads; both stay what they were', async () => {
    const fifo = join(tmp, 'fifo.onnx');
    execFileSync('mkfifo', [fifo]);
    // A symlink, never the device itself: as root, a regression would replace /dev/null with a file.
    const device = join(tmp, 'null.onnx');
    await symlink('/dev/null', device);
    const bogus = await notAModel();
    for (const [out, kind] of [[fifo, 'a FIFO'], [device, 'a character device']] as const) {
      const run = await cli(['export', '--weights', bogus, '--out', out]);
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, new RegExp(`cannot write .*: it is ${kind}, not a regular file \\(outputs are written only where a regular file or nothing is\\)`));
    }
    assert.equal((await stat(fifo)).isFIFO(), true);
    assert.equal((await lstat(device)).isSymbolicLink(), true);
    assert.equal((await stat('/dev/null')).isCharacterDevice(), true);
  });

  test('explain: an output name taken by a FIFO fails that image only, the FIFO stays', async () => {
    const out = join(tmp, 'explain-fifo');
    await mkdir(out);
    execFileSync('mkfifo', [join(out, 'chelsea.lrp.png')]);
    const run = await cli(['explain', '--weights', FIXTURE_WEIGHTS, '--out', out, join(SAMPLES_DIR, 'chelsea.png'), join(SAMPLES_DIR, 'coffee.png')]);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /chelsea\.png: cannot write .*chelsea\.lrp\.png: it is a FIFO, not a regular file/);
    assert.equal((await stat(join(out, 'chelsea.lrp.png'))).isFIFO(), true);
    assert.equal((await stat(join(out, 'coffee.lrp.png'))).isFile(), true);
  });
});

describe('one output check for every command, before anything expensive (item 3)', { concurrency: 2 }, () => {
  test('evaluate, export and merge on procfs or sysfs fail at once naming the file system, before the weights are read', async () => {
    const bogus = await notAModel();
    const runs: [string[], RegExp][] = [
      [evaluateArgs('/proc/resnet-lrp-foo', bogus), /the output folder \/proc\/resnet-lrp-foo is on procfs \(\/proc\), a kernel file system that holds no files/],
      [evaluateArgs('/sys/resnet-lrp-foo/bar', bogus), /the output folder \/sys\/resnet-lrp-foo\/bar is on sysfs/],
      [['export', '--weights', bogus, '--out', '/proc/self/explainer.onnx'], /the folder of \/proc\/self\/explainer\.onnx is on procfs/],
      [['merge', tmp, '--out', '/proc/resnet-lrp-merged'], /the output folder \/proc\/resnet-lrp-merged is on procfs/],
    ];
    for (const [args, message] of runs) {
      // 20 s is a hang guard, far above the milliseconds this takes; the old evaluate spun for minutes.
      const run = await cli(args, { timeoutMs: 20_000 });
      assert.equal(run.code, 1, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message);
      assert.doesNotMatch(run.stderr, /not-a-model/, 'the weights were never loaded');
    }
  });

  test('evaluate: an --out in the way (a file) fails before the weights are read; nothing is created', async () => {
    const file = join(tmp, 'a-file');
    await writeFile(file, 'x');
    const run = await cli(evaluateArgs(join(file, 'sub'), await notAModel()));
    assert.equal(run.code, 1);
    assert.match(run.stderr, /cannot create the directory .*a-file\/sub: .*a-file is not a directory/);
    const missing = await cli(evaluateArgs(join(tmp, 'new', 'deeper'), join(tmp, 'missing.h5')));
    assert.equal(missing.code, 2);
    await assert.rejects(stat(join(tmp, 'new')), { code: 'ENOENT' });
  });

  test('--max-input-pixels refuses a model whose input is larger, naming the file, before anything is written (item 6)', async () => {
    const out = join(tmp, 'small-input.onnx');
    const run = await cli(['export', '--weights', FIXTURE_WEIGHTS, '--max-input-pixels', '40000', '--out', out]);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, new RegExp(`${FIXTURE_WEIGHTS}: the model's input is 224 × 224 × 3 \\(0\\.0502 megapixels\\), over the limit of 0\\.04 megapixels \\(maxInputPixels, --max-input-pixels\\)`));
    await assert.rejects(stat(out), { code: 'ENOENT' });
  });

  test('--weights of a file that is missing names the command that ran (item 11)', async () => {
    for (const command of ['evaluate', 'export', 'serve']) {
      const args = command === 'evaluate' ? evaluateArgs(join(tmp, 'x'), '/missing.h5') : [command, '--weights', '/missing.h5', ...(command === 'export' ? ['--out', join(tmp, 'x.onnx')] : [])];
      const run = await cli(args);
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, new RegExp(`^resnet-lrp ${command}: weights file not found: /missing\\.h5`));
    }
  });
});

describe('evaluate: one run per folder, duplicates counted once, models told apart by content (items 7, 8)', () => {
  test('a lock held by a running process refuses a second run; a dead process\'s lock is taken over and released', async () => {
    const out = join(tmp, 'locked');
    await mkdir(out);
    await writeFile(join(out, LOCK_FILE), `${process.pid}\n`);
    const refused = await cli(evaluateArgs(out, FIXTURE_WEIGHTS));
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`${out} is in use by another run \\(pid ${process.pid}, lock file .*\\): wait for it to end, or choose another --out`));
    const dead = execFileSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' }).trim();
    await writeFile(join(out, LOCK_FILE), `${dead}\n`);
    const run = await cli(evaluateArgs(out, FIXTURE_WEIGHTS));
    assert.equal(run.code, 0, run.stderr);
    assert.equal((await readRecords(out)).length, 1);
    assert.ok(!(await readdir(out)).includes(LOCK_FILE), 'released at the end');
  });

  test('two concurrent --resume runs on one folder: one runs, the other is refused; one record per image and method', async () => {
    const out = join(tmp, 'concurrent');
    const start = (): Promise<{ code: number | null; stderr: string }> =>
      new Promise((resolve) => {
        const child = spawn(process.execPath, [CLI, ...evaluateArgs(out, FIXTURE_WEIGHTS, '--resume')], { env: { PATH: process.env.PATH, HOME: tmp } });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('close', (code) => resolve({ code, stderr }));
      });
    const runs = await Promise.all([start(), start()]);
    const codes = runs.map((r) => r.code).sort();
    assert.deepEqual(codes, [0, 1], runs.map((r) => r.stderr).join('\n'));
    assert.match(runs.find((r) => r.code === 1)!.stderr, /is in use by another run/);
    assert.equal((await readRecords(out)).length, 1);
  });

  test('run.json identifies the model by its content; merge refuses two files under one path', async () => {
    const a = join(tmp, 'ida');
    const b = join(tmp, 'idb');
    for (const [dir, file] of [[a, 'model.onnx'], [b, 'model_bn.onnx']] as const) {
      await mkdir(dir);
      await copyFile(tvPath('tv-resnet18-w4', file), join(dir, 'm.onnx'));
    }
    // The same relative path `m.onnx`, run from two folders: two different files of one architecture.
    for (const [dir, shard] of [[a, '0/2'], [b, '1/2']] as const) {
      const run = await cli(evaluateArgs('out', 'm.onnx', '--shard', shard, join(SAMPLES_DIR, 'coffee.png')), { cwd: dir });
      assert.equal(run.code, 0, run.stderr);
      const info = JSON.parse(await readFile(join(dir, 'out', 'run.json'), 'utf8')) as RunInfo;
      assert.equal(info.settings.model, 'm.onnx');
      assert.equal(info.settings.modelId, `sha256:${await sha256(join(dir, 'm.onnx'))}`);
    }
    const merged = await cli(['merge', join(a, 'out'), join(b, 'out'), '--out', join(tmp, 'merged-ids')]);
    assert.equal(merged.code, 1);
    assert.match(merged.stderr, /settings differ .*modelId: "sha256:[0-9a-f]{64}" ≠ "sha256:[0-9a-f]{64}"/);
  });
});

describe('evaluate and merge never block on a FIFO in a run folder (item 4)', () => {
  test('a FIFO named results.jsonl is refused before the model loads; merge refuses a FIFO run.json', async () => {
    const out = join(tmp, 'fifo-results');
    await mkdir(out);
    execFileSync('mkfifo', [join(out, 'results.jsonl')]);
    const run = await cli(evaluateArgs(out, await notAModel()), { timeoutMs: 20_000 });
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /cannot write .*results\.jsonl: it is a FIFO, not a regular file/);
    const shard = join(tmp, 'fifo-shard');
    await mkdir(shard);
    execFileSync('mkfifo', [join(shard, 'run.json')]);
    const merged = await cli(['merge', shard, '--out', join(tmp, 'fifo-merged')], { timeoutMs: 20_000 });
    assert.equal(merged.code, 1, merged.stderr);
    assert.match(merged.stderr, /run\.json: not a regular file \(a FIFO\); only regular files are read/);
  });
});
