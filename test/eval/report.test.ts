/** The report's statistics: the bootstrap interval against hand-checkable cases and the normal approximation, and paired differences. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EvaluationRecord, RunInfo } from '../../src/eval/records.js';
import { bootstrapCi, meanSe, summarize } from '../../src/eval/report.js';

test('bootstrapCi: constant values give a point; two values 0 and 1 give [0, 1]; n < 2 gives null', () => {
  assert.deepEqual(bootstrapCi([0.3, 0.3, 0.3, 0.3]), [0.3, 0.3]);
  // Means of 2 draws from {0, 1}: 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4, so both 2.5 % tails sit on the ends.
  assert.deepEqual(bootstrapCi([0, 1]), [0, 1]);
  assert.equal(bootstrapCi([0.5]), null);
  assert.equal(bootstrapCi([]), null);
});

test('bootstrapCi: for 1000 values it is the normal interval mean ± 1.96 s.e. to within 10 % of its width, and reproducible', () => {
  const values = Array.from({ length: 1000 }, (_, i) => (i * 7919) % 101 / 100);
  const { mean, se } = meanSe(values);
  const [lo, hi] = bootstrapCi(values)!;
  const half = 1.96 * se!;
  assert.ok(Math.abs(lo - (mean - half)) < 0.1 * half && Math.abs(hi - (mean + half)) < 0.1 * half, `[${lo}, ${hi}] vs ${mean} ± ${half}`);
  assert.deepEqual(bootstrapCi(values), [lo, hi], 'the same values, the same interval');
  assert.notDeepEqual(bootstrapCi(values, 2000, 1), [lo, hi], 'another seed, other draws');
});

test('summarize: paired differences of the first method against the others, over the images both have', () => {
  const info: RunInfo = {
    format: 'resnet-lrp-evaluate/1',
    settings: { size: 32, classes: 10, patch: 1, step: 20, quantize: false, ties: 'paper', model: 'm', precision: 'float32', fit: 'resize', seed: 0, total: 3 },
    methods: ['lrp', 'lrp-symmetric', 'random'],
    shard: null,
  };
  const record = (index: number, method: string, pid: number): EvaluationRecord => ({
    image: `${index}.jpg`, index, label: 3, predicted: 3, target: 3, method, insertion: pid, deletion: 0, pid,
    insertionCurve: [0, pid], deletionCurve: [0, 0], seconds: 1,
  });
  const records = [
    record(0, 'lrp', 0.5), record(0, 'lrp-symmetric', 0.4), record(0, 'random', 0.1),
    record(1, 'lrp', 0.7), record(1, 'lrp-symmetric', 0.5), record(1, 'random', 0.1),
    record(2, 'lrp', 0.6), record(2, 'lrp-symmetric', 0.5), // random missing on image 2
  ];
  const report = summarize(info, records, []);
  assert.deepEqual(report.differences.map((d) => [d.a, d.b, d.n]), [['lrp', 'lrp-symmetric', 3], ['lrp', 'random', 2]]);
  assert.ok(Math.abs(report.differences[0]!.mean - (0.1 + 0.2 + 0.1) / 3) < 1e-12);
  assert.ok(Math.abs(report.differences[1]!.mean - (0.4 + 0.6) / 2) < 1e-12);
  // Differences 0.1, 0.2, 0.1: the interval lies within their range and holds their mean.
  const [lo, hi] = report.differences[0]!.ci95!;
  assert.ok(lo >= 0.1 - 1e-12 && hi <= 0.2 + 1e-12 && lo <= 0.4 / 3 && hi >= 0.4 / 3, `[${lo}, ${hi}]`);
  assert.equal(report.methods[2]!.pidCi95![0], 0.1, 'random: a constant PID');
  // Old records without conservation or ties: null, not NaN.
  assert.deepEqual([report.methods[0]!.conservation, report.methods[0]!.tied, report.methods[0]!.paperLead], [null, null, null]);
});
