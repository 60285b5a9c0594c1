/**
 * K classes (and N images) run in chunks whose size follows from the memory budget and the
 * model's per-target cost (issue 14, item 1): the chunked results equal one unchunked run, and
 * the number of onnxruntime runs is what the budget allows.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { classNames } from '../../src/model/labels.js';
import { buildResNet, kerasResNetSpec } from '../../src/model/resnet.js';
import { outputUnits } from '../../src/onnx/classifier.js';
import { Explainer } from '../../src/runtime/explainer.js';
import { DEFAULT_MEMORY_BUDGET, modelSize, perTargetBytes, targetsPerRun } from '../../src/runtime/memory.js';
import type { Runtime, RuntimeSession } from '../../src/runtime/platform.js';
import { nodeRuntime } from '../../src/runtime/session.js';
import type { LrpResult } from '../../src/runtime/types.js';
import { modelFromBytes } from '../../src/weights/from-bytes.js';
import { randomModel } from '../../src/weights/random.js';
import { readKerasH5 } from '../../src/weights/keras-h5.js';
import { FIXTURE_WEIGHTS, fixtureInput } from '../support/fixture.js';

/** nodeRuntime, counting the targets of every run of every session. */
function countingRuntime(): { runtime: Runtime; runs: number[] } {
  const runs: number[] = [];
  const runtime: Runtime = {
    ...nodeRuntime,
    async createSession(model, options) {
      const session = await nodeRuntime.createSession(model, options);
      const counted: RuntimeSession = {
        run: (feeds) => {
          runs.push(feeds.target ? feeds.target.dims[0]! : feeds.input!.dims[0]!);
          return session.run(feeds);
        },
        release: () => session.release(),
      };
      return counted;
    },
  };
  return { runtime, runs };
}

let source: Parameters<typeof Explainer.create>[1];
let whole: Explainer;
before(async () => {
  const bytes = new Uint8Array(await readFile(FIXTURE_WEIGHTS));
  const { graph, weights, format } = await modelFromBytes(bytes, { label: 'w8.h5', readKeras: readKerasH5 });
  source = { graph, weights, format, label: 'w8.h5', classNames: classNames(outputUnits(graph)), rules: { start: 'softmax' } };
  whole = await Explainer.create(nodeRuntime, source);
});
after(() => whole.dispose());

function assertIdentical(a: readonly LrpResult[], b: readonly LrpResult[]): void {
  assert.equal(a.length, b.length);
  for (const [k, r] of a.entries()) {
    assert.equal(r.targetClass, b[k]!.targetClass);
    assert.equal(r.startRelevance, b[k]!.startRelevance);
    assert.deepEqual(r.relevance.data, b[k]!.relevance.data, `result ${k}: relevance`);
    assert.deepEqual(r.attribution.data, b[k]!.attribution.data, `result ${k}: map`);
    assert.equal(r.conservationError, b[k]!.conservationError);
  }
}

test('the per-class cost is estimated from the activation sizes, and the default budget runs a useful chunk', () => {
  const size = modelSize(source.graph);
  // The narrow ResNet50 of the fixture: one 224×224×3 input, 4.91 M activation values (summed by hand from the layer shapes).
  assert.equal(size.inputValues, 224 * 224 * 3);
  assert.equal(size.activationValues, 4_911_476);
  const bytes = perTargetBytes(size, 'float32');
  // Above the 7.5 MB per class measured on this model (peak RSS of 121 classes against 1), below 4× that.
  assert.ok(bytes >= 7.5e6 && bytes <= 30e6, `${bytes}`);
  assert.equal(perTargetBytes(size, 'float64') > bytes, true);
  // The full ResNet50: 37 M activation values; the default budget still takes several classes per run.
  const full = modelSize(randomModel(buildResNet(kerasResNetSpec(50))).graph);
  assert.equal(full.activationValues, 37_120_212);
  const perRun = targetsPerRun(DEFAULT_MEMORY_BUDGET, perTargetBytes(full, 'float32'));
  assert.ok(perRun >= 8 && perRun <= 64, `${perRun} classes per run`);
  assert.equal(targetsPerRun(100, 1e9), 1, 'one target always runs');
});

test('classIndices: runs of the size the budget allows give exactly the unchunked results', async () => {
  const input = fixtureInput();
  const classes = [281, 5, 999, 0, 17, 500, 123];
  const reference = await whole.computeLrp(input, { classIndices: classes, debug: true });
  assert.equal(whole.classesPerRun >= classes.length, true, 'the default budget runs these 7 classes at once');
  const { runtime, runs } = countingRuntime();
  const perClass = perTargetBytes(modelSize(source.graph), 'float32');
  const chunked = await Explainer.create(runtime, { ...source, memoryBudget: 3 * perClass + perClass / 2 });
  try {
    assert.equal(chunked.classesPerRun, 3);
    runs.length = 0;
    const results = await chunked.computeLrp(input, { classIndices: classes, debug: true });
    assert.deepEqual(runs, [3, 3, 1]);
    assertIdentical(results, reference);
  } finally {
    await chunked.dispose();
  }
});

test('topK: the ranks of later runs continue where the earlier stopped', async () => {
  const input = fixtureInput();
  const reference = await whole.computeLrp(input, { topK: 5 });
  const { runtime, runs } = countingRuntime();
  const perClass = perTargetBytes(modelSize(source.graph), 'float32');
  const chunked = await Explainer.create(runtime, { ...source, memoryBudget: 2 * perClass });
  try {
    runs.length = 0;
    const results = await chunked.computeLrp(input, { topK: 5 });
    assert.deepEqual(runs, [2, 2, 1]);
    assertIdentical(results, reference);
    const logits = Array.from(results[0]!.logits);
    assert.deepEqual(results.map((r) => r.targetClass), logits.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, 5).map(([, i]) => i));
  } finally {
    await chunked.dispose();
  }
});

test('a batch larger than the budget allows runs in several runs with the same results', async () => {
  const input = fixtureInput();
  const other = input.map((v, i) => (i % 7 === 0 ? -v : v));
  const images = [input, other, input, other, other];
  const targets = [3, undefined, 281, 5, undefined];
  const reference = await whole.computeLrpBatch(images, { classIndices: targets, debug: true });
  const { runtime, runs } = countingRuntime();
  const perImage = perTargetBytes(modelSize(source.graph), 'float32') + modelSize(source.graph).activationValues * 4;
  const chunked = await Explainer.create(runtime, { ...source, memoryBudget: 2 * perImage });
  try {
    assert.equal(chunked.imagesPerRun, 2);
    runs.length = 0;
    const results = await chunked.computeLrpBatch(images, { classIndices: targets, debug: true });
    assert.deepEqual(runs, [2, 2, 1]);
    for (const [k, r] of results.entries()) {
      assert.deepEqual(r.trace, reference[k]!.trace);
      assert.equal(r.targetClass, reference[k]!.targetClass);
      // onnxruntime's kernels may sum a batch of 2 in another order than a batch of 5: float32 rounding only.
      const scale = reference[k]!.attribution.data.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      r.attribution.data.forEach((v, i) => assert.ok(Math.abs(v - reference[k]!.attribution.data[i]!) <= 1e-5 * scale));
    }
    runs.length = 0;
    const predictions = await chunked.predict({ data: Float32Array.from(images.flatMap((x) => Array.from(x))), shape: [5, 224, 224, 3] });
    assert.deepEqual(runs, [2, 2, 1]);
    assert.deepEqual(predictions.map((p) => p.classIndex), reference.map((r) => r.classIndex));
  } finally {
    await chunked.dispose();
  }
});

test('memoryBudget is checked before anything is compiled', async () => {
  for (const bad of [NaN, -1, 1000, Infinity, '1G']) {
    await assert.rejects(Explainer.create(nodeRuntime, { ...source, memoryBudget: bad as number }), { name: 'RangeError', message: /memoryBudget must be a number of bytes ≥ 1048576/ });
  }
});
