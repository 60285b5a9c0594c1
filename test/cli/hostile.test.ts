/**
 * `resnet-lrp explain` against hostile-but-fair inputs (issue 10), run as a child process with
 * the fixture weights. Every run has its own timeout: a hang fails the test.
 */
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FIXTURE_WEIGHTS, REPO_ROOT } from '../support/fixture.js';
import { runCli, type CliOptions, type CliRun } from '../support/process.js';

const SAMPLES = join(REPO_ROOT, 'assets', 'samples');

/** Runs the CLI with its own timeout (a hang fails the test). */
function cli(args: readonly string[], options: Omit<CliOptions, 'home'> = {}): Promise<CliRun> {
  return runCli(args, { timeoutMs: 20_000, ...options, home: tmp });
}

const explain = (out: string, ...args: string[]): string[] => ['explain', '--weights', FIXTURE_WEIGHTS, '--out', out, ...args];

function assertNoStackTrace(text: string): void {
  assert.doesNotMatch(text, /^\s+at .+[:(]/m, `stack trace in:\n${text}`);
}

const tmpFiles = async (dir: string): Promise<string[]> => (await readdir(dir)).filter((f) => f.endsWith('.tmp'));

let tmp: string;
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'resnet-lrp-hostile-cli-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('explain with hostile inputs', { concurrency: 2 }, () => {
  test('a folder of good and bad files: every good one explained, every bad one reported with its reason, exit 1, no temp file', async () => {
    const dir = join(tmp, 'mixed');
    await mkdir(dir);
    await copyFile(join(SAMPLES, 'chelsea.png'), join(dir, 'a.png'));
    await copyFile(join(SAMPLES, 'rocket.jpg'), join(dir, `b\u001b[31m\r\nred.jpg`)); // control characters in the name
    execFileSync('mkfifo', [join(dir, 'fifo.jpg')]);
    await symlink('/dev/zero', join(dir, 'zero.png'));
    await writeFile(join(dir, 'empty.png'), '');
    await writeFile(join(dir, 'big.png'), new Uint8Array(3 * 2 ** 20));
    const bomb = execFileSync(process.execPath, ['--input-type=module', '-e', `
      import sharp from 'sharp';
      process.stdout.write(await sharp({ create: { width: 6000, height: 6000, channels: 3, background: '#888' } }).png().toBuffer());`], { cwd: REPO_ROOT });
    await writeFile(join(dir, 'bomb.png'), bomb);
    // A stale temporary file of ours from a killed run (a pid that no longer exists), and one that is not ours.
    const dead = execFileSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' }).trim();
    await writeFile(join(dir, `a.lrp.png.${dead}.0123abcd.tmp`), 'half');
    await writeFile(join(dir, `notes.txt.${dead}.0123abcd.tmp`), 'not ours');

    // --out is the input folder: its outputs must never become inputs, on any rerun.
    const args = explain(dir, '-f', 'png,json', '--max-pixels', '30M', '--max-file-size', '2', dir);
    const run = await cli(args);
    assert.equal(run.code, 1, run.stderr);
    const reasons: [string, RegExp][] = [
      ['fifo.jpg', /not a regular file \(a FIFO\)/],
      ['zero.png', /not a regular file \(a character device\)/],
      ['empty.png', /file is empty/],
      ['big.png', /file is too large \(3145728 bytes; the limit is 2097152\)/],
      ['bomb.png', /image is 6000 × 6000 \(36 megapixels\), over the limit of 30 megapixels/],
    ];
    for (const [file, reason] of reasons) assert.match(run.stderr, new RegExp(`error: ${join(dir, file).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: ${reason.source}`));
    assert.match(run.stdout, /2 explained, 5 failed/);
    // Control characters are escaped in human output (table, progress, errors), never raw.
    assert.match(run.stdout, /b\\x1b\[31m\\r\\nred\.jpg/);
    assert.doesNotMatch(run.stdout + run.stderr, /\u001b|\r/);
    assertNoStackTrace(run.stderr);
    assert.match(run.stderr, /removed 1 temporary file left in .* by an interrupted run/);
    const files = (await readdir(dir)).sort();
    assert.deepEqual(await tmpFiles(dir), [`notes.txt.${dead}.0123abcd.tmp`]);
    assert.ok(files.includes('a.lrp.png') && files.includes(`b\u001b[31m\r\nred.lrp.json`), files.join(' '));

    // Rerun with --resume: nothing to redo for the good ones, the outputs are left out of the inputs.
    const again = await cli([...args, '--resume', '--json']);
    assert.equal(again.code, 1);
    const results = JSON.parse(again.stdout) as { input: string; status: string }[];
    assert.equal(results.length, 7, 'the same 7 inputs, not our outputs');
    assert.deepEqual(results.filter((r) => r.status === 'skipped').map((r) => r.input).sort(), [join(dir, 'a.png'), join(dir, `b\u001b[31m\r\nred.jpg`)]);
    assert.match(again.stderr, /left out 2 files named like outputs of this command/);
  });

  test('--resume redoes outputs that are empty or truncated, and trusts complete ones', async () => {
    const out = join(tmp, 'resume');
    const image = join(SAMPLES, 'chelsea.png');
    const coffee = join(SAMPLES, 'coffee.png');
    const first = await cli(explain(out, '-f', 'png,heatmap,npy,json', image, coffee));
    assert.equal(first.code, 0, first.stderr);
    const json = await readFile(join(out, 'chelsea.lrp.json'));
    await writeFile(join(out, 'chelsea.lrp.json'), json.subarray(0, json.length >> 1)); // truncated
    const png = await readFile(join(out, 'coffee.heatmap.png'));
    await writeFile(join(out, 'coffee.heatmap.png'), png.subarray(0, png.length - 100)); // truncated PNG
    const second = await cli([...explain(out, '-f', 'png,heatmap,npy,json', image, coffee), '--resume', '--json']);
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual((JSON.parse(second.stdout) as { status: string }[]).map((r) => r.status), ['ok', 'ok']);
    JSON.parse(await readFile(join(out, 'chelsea.lrp.json'), 'utf8'));
    const third = await cli([...explain(out, '-f', 'png,heatmap,npy,json', image, coffee), '--resume', '--json']);
    assert.deepEqual((JSON.parse(third.stdout) as { status: string }[]).map((r) => r.status), ['skipped', 'skipped']);
  });

  test('a non-finite result is a failure for that image: exit 1, no figure, no "NaN %"', async () => {
    const out = join(tmp, 'nonfinite');
    const run = await cli(explain(out, '--gamma', '1e308', '-f', 'png,json', join(SAMPLES, 'chelsea.png')));
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /chelsea\.png: the result is not finite \(.*(NaN|Infinity)/);
    assert.doesNotMatch(run.stdout, /NaN %|null/);
    assert.deepEqual((await readdir(out)).filter((f) => !f.startsWith('.')), []);
  });

  test('--out and the cache on procfs fail at once with the path, instead of spinning', async () => {
    const image = join(SAMPLES, 'chelsea.png');
    const procOut = await cli(explain('/proc/resnet-lrp-x/y', image), { timeoutMs: 10_000 });
    assert.equal(procOut.code, 1);
    assert.match(procOut.stderr, /the output folder \/proc\/resnet-lrp-x\/y is on procfs \(\/proc\), a kernel file system that holds no files: choose a folder on a disk/);
    const cache = await cli(['explain', '--out', join(tmp, 'cache-out'), image], { env: { RESNET_LRP_CACHE: '/proc/resnet-lrp-x' }, timeoutMs: 10_000 });
    assert.equal(cache.code, 1);
    assert.match(cache.stderr, /cannot create the directory \/proc\/resnet-lrp-x/);
    assertNoStackTrace(procOut.stderr + cache.stderr);
  });

  test('an --out that cannot be written fails before the model loads, naming the folder (not a .tmp)', async () => {
    const run = await cli(explain('/proc/self', join(SAMPLES, 'chelsea.png')), { timeoutMs: 10_000 });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /the output folder \/proc\/self is on procfs/);
    assert.doesNotMatch(run.stderr, /\.tmp|rules:/);
    const empty = await cli(explain('', join(SAMPLES, 'chelsea.png')));
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /--out needs a directory name/);
  });

  test('limits of options: --quantize above its bound is a usage error', async () => {
    const run = await cli(explain(join(tmp, 'q'), '--quantize', '1000000000', join(SAMPLES, 'chelsea.png')));
    assert.equal(run.code, 2);
    assert.match(run.stderr, /--quantize must be an integer in 2\.\.65536 \(levels\), got "1000000000"/);
  });

  test('SIGTERM and SIGINT mid-run: exit 128+n, no temporary file left', async () => {
    const dir = join(tmp, 'many');
    await mkdir(dir);
    for (let i = 0; i < 12; i++) await copyFile(join(SAMPLES, 'chelsea.png'), join(dir, `p${i}.png`));
    for (const [signal, code] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
      const out = join(tmp, `signal-${signal}`);
      const run = await cli(explain(out, '-b', '1', '-f', 'png,heatmap,npy,json', '--include-map', dir), {
        onStart: (child) => {
          // Signal as soon as the first output appears (files are being written from then on).
          const poll = setInterval(async () => {
            const files = await readdir(out).catch(() => []);
            if (files.some((f) => f.endsWith('.lrp.json') || f.endsWith('.tmp'))) {
              clearInterval(poll);
              child.kill(signal);
            }
          }, 5);
        },
      });
      assert.equal(run.code, code, `${signal}: ${run.stderr}`);
      assert.match(run.stderr, new RegExp(`stopped by ${signal}; rerun with --resume`));
      assert.deepEqual(await tmpFiles(out), []);
    }
  });

  test('stdin is read when asked for ("-"), with the same size limit', async () => {
    const out = join(tmp, 'stdin');
    const image = await readFile(join(SAMPLES, 'chelsea.png'));
    const feed = (bytes: Uint8Array) => (child: ChildProcess) => {
      child.stdin!.on('error', () => undefined); // the child may stop reading at the limit
      child.stdin!.end(bytes);
    };
    const run = await cli(explain(out, '-f', 'json', '-'), { onStart: feed(image) });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(JSON.parse(await readFile(join(out, 'stdin.lrp.json'), 'utf8')).source, '<stdin>');
    const big = await cli(explain(out, '-f', 'json', '--max-file-size', '1', '-'), { onStart: feed(new Uint8Array(2 * 2 ** 20)) });
    assert.equal(big.code, 1);
    assert.match(big.stderr, /error: -: <stdin>: more than 1048576 bytes \(the limit\)/);
  });

  test('a closed stdout (--json | head -1) ends the run quietly', async () => {
    const run = await cli(explain(join(tmp, 'epipe'), '--json', '-q', join(SAMPLES, 'chelsea.png')), {
      onStart: (child) => child.stdout!.destroy(),
    });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '');
  });

  test('messages: a --weights symlink loop is not "not found"; a notop file says what the CLI needs', async () => {
    const loop = join(tmp, 'loop.h5');
    await symlink(loop, loop);
    const image = join(SAMPLES, 'chelsea.png');
    const looped = await cli(['explain', '--weights', loop, '--out', join(tmp, 'l'), image]);
    assert.equal(looped.code, 2);
    assert.match(looped.stderr, /weights file cannot be read \(too many levels of symbolic links \(a symlink loop\?\) \(ELOOP\)\)/);

    const notop = join(tmp, 'notop.h5');
    execFileSync(process.execPath, ['--input-type=module', '-e', `
      const { readKerasH5 } = await import(${JSON.stringify(join(REPO_ROOT, 'dist/src/weights/keras-h5.js'))});
      const { writeKerasH5 } = await import(${JSON.stringify(join(REPO_ROOT, 'dist/test/weights/h5-helpers.js'))});
      const file = await readKerasH5(${JSON.stringify(FIXTURE_WEIGHTS)});
      const layers = file.layerNames.filter((n) => n !== 'predictions').map((n) => ({ name: n, weights: [...(file.layers.get(n) ?? new Map()).entries()].map(([w, t]) => ({ name: w, tensor: t })) }));
      await writeKerasH5(${JSON.stringify(notop)}, layers);`]);
    const run = await cli(['explain', '--weights', notop, '--out', join(tmp, 'n'), image]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /has no classifier/);
    assert.match(run.stderr, /The command line needs weights that include the classifier .* --weights imagenet/);
    assert.doesNotMatch(run.stderr, /bindWeights\(graph/);
  });
});
