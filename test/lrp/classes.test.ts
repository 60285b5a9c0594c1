/**
 * K classes of one image from one forward pass equal K single-class runs (default rules, and
 * the gradient preset, whose max-pool routing scatters per target), and top-k picks the classes
 * by descending logit.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { LrpModel, type LrpResult } from '../../src/lrp-model.js';
import { FIXTURE_WEIGHTS, fixtureInput } from '../support/fixture.js';

let model: LrpModel;
let gradient: LrpModel;
before(async () => {
  model = await LrpModel.load({ weights: FIXTURE_WEIGHTS });
  gradient = await LrpModel.load({ weights: FIXTURE_WEIGHTS, rules: { preset: 'gradient' } });
});
after(async () => {
  await model.dispose();
  await gradient.dispose();
});

function assertSame(several: LrpResult, single: LrpResult, what: string): void {
  assert.equal(several.targetClass, single.targetClass, what);
  assert.ok(Math.abs(several.startRelevance - single.startRelevance) <= 1e-6 * Math.abs(single.startRelevance), what);
  assert.deepEqual(several.logits, single.logits, what);
  let worst = 0;
  for (let k = 0; k < single.relevance.data.length; k++) worst = Math.max(worst, Math.abs(several.relevance.data[k]! - single.relevance.data[k]!));
  const scale = single.relevance.data.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  assert.ok(scale > 0 && worst <= 1e-5 * scale, `${what}: differs from the single run by ${worst} (scale ${scale})`);
  assert.ok(Math.abs(several.conservationError! - single.conservationError!) <= 1e-5, `${what}: conservation error`);
}

for (const [name, get] of [['default', () => model], ['gradient', () => gradient]] as const) {
  test(`${name}: three classes in one run equal three single runs`, async () => {
    const input = fixtureInput();
    const classes = [281, 5, 999];
    const results = await get().computeLrp(input, { classIndices: classes, debug: true });
    assert.equal(results.length, classes.length);
    for (const [k, c] of classes.entries()) assertSame(results[k]!, await get().computeLrp(input, { classIndex: c, debug: true }), `class ${c}`);
    assert.notDeepEqual(results[0]!.attribution.data, results[1]!.attribution.data);
  });
}

test('topK: the K highest logits, highest first, each as its own single run', async () => {
  const input = fixtureInput();
  const results = await model.computeLrp(input, { topK: 3, debug: true });
  const logits = Array.from(results[0]!.logits);
  const expected = logits.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, 3).map(([, i]) => i);
  assert.deepEqual(results.map((r) => r.targetClass), expected);
  assert.equal(results[0]!.targetClass, results[0]!.classIndex);
  for (const r of results) assertSame(r, await model.computeLrp(input, { classIndex: r.targetClass, debug: true }), `top class ${r.targetClass}`);
});

test('class lists that cannot be explained are refused with the reason', async () => {
  const input = fixtureInput();
  await assert.rejects(model.computeLrp(input, { classIndices: [] }), /classIndices is empty/);
  await assert.rejects(model.computeLrp(input, { classIndices: [3, 1000] }), /class index 1000 .*out of range/);
  await assert.rejects(model.computeLrp(input, { topK: 0 }), /topK must be an integer in 1\.\.1000/);
  await assert.rejects(model.computeLrp(input, { topK: 2, classIndices: [1] }), /not both/);
});
