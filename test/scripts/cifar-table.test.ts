/**
 * scripts/cifar-table.mjs, the documented command behind the README's CIFAR-10 table, on a
 * small stand-in (the tv-resnet18-w4 fixture, two photos, coarse patches): its three runs
 * write their reports, and the table it prints is those reports' numbers.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { EvaluationReport } from '../../src/eval/report.js';
import { REPO_ROOT, SAMPLES_DIR, tvPath } from '../support/fixture.js';
import { runCli } from '../support/process.js';

let tmp: string;
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'resnet-lrp-cifar-table-'));
});
after(() => rm(tmp, { recursive: true, force: true }));

test('cifar-table: three runs (raw, quantized with the paper\'s ties, quantized with random ties) and one table of their numbers', async () => {
  const images = join(tmp, 'images');
  await mkdir(images);
  for (const file of ['chelsea.png', 'coffee.png']) await copyFile(join(SAMPLES_DIR, file), join(images, file));
  const labels = join(tmp, 'labels.csv');
  await writeFile(labels, 'image,label\nchelsea.png,281\ncoffee.png,504\n');
  const out = join(tmp, 'out');
  const run = await runCli(
    ['--out', out, '--weights', tvPath('tv-resnet18-w4', 'model.onnx'), '--images', images, '--labels', labels, '--class-names', '',
      '--methods', 'lrp,random', '--patch', '16', '--step', '49', '--levels', '3', '--batch', '8'],
    { home: tmp, script: join(REPO_ROOT, 'scripts', 'cifar-table.mjs'), timeoutMs: 120_000 },
  );
  assert.equal(run.code, 0, run.stderr);
  const reports: EvaluationReport[] = [];
  for (const dir of ['raw', 'quantized-paper', 'quantized-random']) reports.push(JSON.parse(await readFile(join(out, dir, 'report.json'), 'utf8')));
  assert.deepEqual(reports.map((r) => [r.settings.quantize, r.settings.ties]), [[false, 'paper'], [3, 'paper'], [3, 'random']]);
  assert.ok(reports.every((r) => r.images === 2 && r.labeled === 2));
  const table = await readFile(join(out, 'table.md'), 'utf8');
  assert.equal(run.stdout.trim(), table.trim(), 'printed and written');
  for (const method of ['lrp', 'random']) {
    const row = table.split('\n').find((l) => l.startsWith(`| ${method} |`));
    assert.ok(row, `${method}: no row in\n${table}`);
    const cells = row.split('|').slice(1, -1).map((c) => c.trim());
    const [raw, paper, random] = reports.map((r) => r.methods.find((m) => m.method === method)!);
    const pid = (m: typeof raw) => `${m!.pid.mean.toFixed(3)} [${m!.pidCi95![0].toFixed(3)}, ${m!.pidCi95![1].toFixed(3)}]`;
    assert.deepEqual(cells, [
      method,
      '2',
      raw!.conservation === null ? '—' : raw!.conservation.mean.toFixed(4),
      pid(raw), pid(paper), pid(random),
      `${(100 * paper!.paperLead!).toFixed(1)} %`,
    ]);
  }
  assert.match(table, /\| lrp \| 2 \| \d\.\d{4} \|/, 'LRP conserves: a number');
  assert.match(table, /\| random \| 2 \| — \|/, 'random has no input relevance');
  // Plain onnxruntime on the file agrees with the report's predictions, and gives its accuracy.
  const accuracy = reports[0]!.accuracy! * 100;
  assert.match(table, new RegExp(`^Cross-check: plain onnxruntime on test/fixtures/tv-resnet18-w4/model\\.onnx predicts the report's class for 2 of 2 images; its top-1 accuracy: ${accuracy.toFixed(1)} %\\.$`, 'm'));
  const paired = table.split('\n').find((l) => l.startsWith('| lrp − random |'));
  const d = reports.map((r) => r.differences.find((x) => x.a === 'lrp' && x.b === 'random')!);
  assert.equal(paired, `| lrp − random | 2 | ${d.map((x) => `${x.mean.toFixed(3)} [${x.ci95![0].toFixed(3)}, ${x.ci95![1].toFixed(3)}]`).join(' | ')} |`);
});
