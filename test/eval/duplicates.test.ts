/**
 * Duplicate records (the same image and method twice, as two runs on one folder appended them
 * before folders were locked) count once in evaluate's report and in merge alike (issue 14,
 * item 7): one duplicated line moved a mean from 0.008 to 0.205 in one and not the other.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { uniqueRecords, type EvaluationRecord, type RunInfo } from '../../src/eval/records.js';
import { summarize } from '../../src/eval/report.js';

const record = (index: number, method: string, insertion: number, deletion: number, seconds = 1): EvaluationRecord => ({
  image: `img${index}.png`, index, label: null, predicted: 3, target: 3, method, insertion, deletion, pid: insertion - deletion,
  insertionCurve: [0, insertion], deletionCurve: [1, deletion], seconds,
});

const info: RunInfo = {
  format: 'resnet-lrp-evaluate/1',
  settings: { size: 224, classes: 10, patch: 16, step: 49, quantize: false, ties: 'paper', model: 'm.h5', precision: 'float32', fit: 'resize', seed: 0, total: 2 },
  methods: ['lrp'],
  shard: null,
};

test('the report counts a duplicated record once: n, means and curves as without it', () => {
  const records = [record(0, 'lrp', 0.5, 0.1), record(1, 'lrp', 0.3, 0.2)];
  // The second run's copy: same values, another wall time.
  const withDuplicate = [...records, { ...records[1]!, seconds: 7 }];
  const clean = summarize(info, records, []);
  const doubled = summarize(info, withDuplicate, []);
  assert.equal(doubled.methods[0]!.n, 2);
  assert.deepEqual(doubled.methods, clean.methods);
  // By hand: mean insertion (0.5 + 0.3) / 2, PID (0.4 + 0.1) / 2.
  assert.ok(Math.abs(doubled.methods[0]!.insertion.mean - 0.4) < 1e-12);
  assert.ok(Math.abs(doubled.methods[0]!.pid.mean - 0.25) < 1e-12);
});

test('two different results for one image and method are refused, naming both sources', () => {
  const records = [record(0, 'lrp', 0.5, 0.1), record(0, 'lrp', 0.6, 0.1)];
  assert.throws(() => summarize(info, records, []), { message: 'results.jsonl: img0.png with lrp differs from another result for it in results.jsonl' });
  assert.throws(() => uniqueRecords(records, (i) => ['shard-a', 'shard-b'][i]!), { message: 'shard-b: img0.png with lrp differs from another result for it in shard-a' });
  assert.deepEqual(uniqueRecords([record(0, 'lrp', 0.5, 0.1), record(0, 'random', 0.6, 0.1)]).length, 2, 'another method is another result');
});
