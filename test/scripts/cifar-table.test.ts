/**
 * scripts/cifar-table.mjs, the documented command behind the README's CIFAR-10 table, with its
 * defaults (the bundled trained ResNet20 and CIFAR-10 images) on the first four images and
 * coarse steps: its three runs write their reports, the table it prints is those reports'
 * numbers, and the paper's split conserves where the symmetric one does not.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { EvaluationReport } from '../../src/eval/report.js';
import { REPO_ROOT } from '../support/fixture.js';
import { runCli } from '../support/process.js';

let tmp: string;
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'resnet-lrp-cifar-table-'));
});
after(() => rm(tmp, { recursive: true, force: true }));

test('cifar-table: three runs (raw, quantized with the paper\'s ties, quantized with random ties) and one table of their numbers', async () => {
  const out = join(tmp, 'out');
  const run = await runCli(
    ['--out', out, '--limit', '4', '--methods', 'lrp,lrp-symmetric,random', '--step', '200', '--levels', '3', '--batch', '8'],
    { home: tmp, script: join(REPO_ROOT, 'scripts', 'cifar-table.mjs'), timeoutMs: 120_000 },
  );
  assert.equal(run.code, 0, run.stderr);
  const reports: EvaluationReport[] = [];
  for (const dir of ['raw', 'quantized-paper', 'quantized-random']) reports.push(JSON.parse(await readFile(join(out, dir, 'report.json'), 'utf8')));
  assert.deepEqual(reports.map((r) => [r.settings.quantize, r.settings.ties]), [[false, 'paper'], [3, 'paper'], [3, 'random']]);
  assert.ok(reports.every((r) => r.images === 4 && r.labeled === 4));
  const table = await readFile(join(out, 'table.md'), 'utf8');
  assert.equal(run.stdout.trim(), table.trim(), 'printed and written');
  for (const method of ['lrp', 'lrp-symmetric', 'random']) {
    const row = table.split('\n').find((l) => l.startsWith(`| ${method} |`));
    assert.ok(row, `${method}: no row in\n${table}`);
    const cells = row.split('|').slice(1, -1).map((c) => c.trim());
    const [raw, paper, random] = reports.map((r) => r.methods.find((m) => m.method === method)!);
    const pid = (m: typeof raw) => `${m!.pid.mean.toFixed(3)} [${m!.pidCi95![0].toFixed(3)}, ${m!.pidCi95![1].toFixed(3)}]`;
    assert.deepEqual(cells, [
      method,
      '4',
      raw!.conservation === null ? '—' : raw!.conservation.mean.toFixed(4),
      pid(raw), pid(paper), pid(random),
      `${(100 * paper!.paperLead!).toFixed(1)} %`,
    ]);
  }
  // The paper's split conserves; the symmetric one loses relevance in the zero-padded shortcut channels.
  const conservation = (method: string) => reports[0]!.methods.find((m) => m.method === method)!.conservation!.mean;
  assert.ok(Math.abs(conservation('lrp') - 1) < 1e-3, `ratio split: ${conservation('lrp')}`);
  assert.ok(conservation('lrp-symmetric') < 0.9, `symmetric split: ${conservation('lrp-symmetric')}`);
  assert.match(table, /\| random \| 4 \| — \|/, 'random has no input relevance');
  // Plain onnxruntime on the file agrees with the report's predictions, and gives its accuracy.
  const accuracy = reports[0]!.accuracy! * 100;
  assert.match(table, new RegExp(`^Cross-check: plain onnxruntime on assets/models/cifar10-resnet20\\.onnx predicts the report's class for 4 of 4 images; its top-1 accuracy: ${accuracy.toFixed(1)} %\\.$`, 'm'));
  const paired = table.split('\n').find((l) => l.startsWith('| lrp − random |'));
  const d = reports.map((r) => r.differences.find((x) => x.a === 'lrp' && x.b === 'random')!);
  assert.equal(paired, `| lrp − random | 4 | ${d.map((x) => `${x.mean.toFixed(3)} [${x.ci95![0].toFixed(3)}, ${x.ci95![1].toFixed(3)}]`).join(' | ')} |`);
});
