/**
 * `explain --classes` / `--top-k`: several classes of every image from one forward pass, each
 * written under its own tag, each equal to the single-class explanation computed in-process.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readNpy } from '../../src/image/npy.js';
import { LrpModel } from '../../src/lrp-model.js';
import { FIXTURE_WEIGHTS, relativeL2, SAMPLES_DIR } from '../support/fixture.js';
import { CLI, runCli } from '../support/process.js';

const CAT = join(SAMPLES_DIR, 'chelsea.png');
let tmp: string;
let model: LrpModel;
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'resnet-lrp-classes-'));
  model = await LrpModel.load({ weights: FIXTURE_WEIGHTS });
});
after(async () => {
  await model.dispose();
  await rm(tmp, { recursive: true, force: true });
});

const explain = (out: string, ...args: string[]) => runCli(['explain', CAT, '--weights', FIXTURE_WEIGHTS, '-f', 'npy,json', '--out', out, '--quiet', ...args], { home: tmp });

/** The in-process single-class map of the cat for `classIndex`. */
async function singleClassMap(classIndex: number): Promise<Float32Array> {
  const image = await model.loadImage(CAT);
  return (await model.computeLrp(image.input, { classIndex })).attribution.data;
}

async function assertOutputs(out: string, tag: string, classIndex: number): Promise<void> {
  const json = JSON.parse(await readFile(join(out, `chelsea.${tag}.lrp.json`), 'utf8'));
  assert.equal(json.target.classIndex, classIndex, tag);
  const map = await readNpy(join(out, `chelsea.${tag}.attribution.npy`));
  const error = relativeL2(map.data, await singleClassMap(classIndex));
  assert.ok(error < 1e-5, `${tag}: map differs from the single-class run by ${error}`);
}

describe('explain with several classes per image', () => {
  test('--top-k 3: the three highest classes, ranked, each its own files', async () => {
    const out = join(tmp, 'top');
    const run = await explain(out, '--top-k', '3');
    assert.equal(run.code, 0, run.stderr);
    const [prediction] = await model.predict((await model.loadImage(CAT)).input);
    const ranked = Array.from(prediction!.logits.keys()).sort((a, b) => prediction!.logits[b]! - prediction!.logits[a]! || a - b);
    for (let r = 0; r < 3; r++) await assertOutputs(out, `top${r + 1}`, ranked[r]!);
    assert.equal((await readdir(out)).length, 6);

    // Complete outputs are skipped on --resume.
    const again = await explain(out, '--top-k', '3', '--resume', '--json');
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(JSON.parse(again.stdout).map((r: { status: string }) => r.status), ['skipped']);
  });

  test('--classes 281,5: the named classes, tagged by index', async () => {
    const out = join(tmp, 'named');
    const run = await explain(out, '--classes', '281,5', '--json');
    assert.equal(run.code, 0, run.stderr);
    const rows = JSON.parse(run.stdout) as { name: string; targetClass: number }[];
    assert.deepEqual(rows.map((r) => [r.name, r.targetClass]), [['chelsea.c281', 281], ['chelsea.c5', 5]]);
    await assertOutputs(out, 'c281', 281);
    await assertOutputs(out, 'c5', 5);
  });

  test('usage errors: one way of choosing classes, in range, no trace chart', async () => {
    for (const [args, message] of [
      [['--classes', '1,2', '--class', '3'], /choose one of --class, --classes and --top-k/],
      [['--top-k', '1001'], /--top-k must be at most 1000/],
      [['--classes', '4,1000'], /--classes must be in 0\.\.999/],
      [['--classes', '4,4'], /lists a class twice/],
      [['--top-k', '2', '-f', 'trace'], /--format trace needs one class per image/],
    ] as const) {
      const run = await explain(join(tmp, 'bad'), ...args);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message);
    }
  });
});

describe('any number of classes in bounded memory (issue 14, item 1)', () => {
  test('--top-k 1000 with a 256 MiB budget: every class written, peak memory far below the ~8 GB of one run', async () => {
    const out = join(tmp, 'top1000');
    // The child reports its own peak RSS when it exits.
    const reportRss = 'data:text/javascript,process.on("exit",()=>process.stderr.write(`maxrss ${process.resourceUsage().maxRSS}\\n`))';
    const run = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['--import', reportRss, CLI, 'explain', CAT, '--weights', FIXTURE_WEIGHTS, '-f', 'npy', '--top-k', '1000',
        '--start', 'softmax', '--memory-budget', '256', '--out', out, '--quiet'], { env: { PATH: process.env.PATH, HOME: tmp } });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => resolve({ code, stderr }));
    });
    assert.equal(run.code, 0, run.stderr);
    const files = (await readdir(out)).filter((f) => f.endsWith('.attribution.npy'));
    assert.equal(files.length, 1000);
    // One class costs ~7.5 MB on this model: 1000 in one run, held with their results, would pass 8 GB.
    // A bound of 2 GB is a generous margin over the budget plus the model (~0.6 GB measured).
    const kb = Number(/maxrss (\d+)/.exec(run.stderr)![1]);
    assert.ok(kb < 2 * 2 ** 20, `peak RSS ${(kb / 2 ** 20).toFixed(2)} GB`);
    assert.deepEqual((await readNpy(join(out, 'chelsea.top1000.attribution.npy'))).shape, [224, 224]);
  });
});
