/**
 * Per-layer rule overrides: each named layer gets exactly the rule it is given, and only it.
 * Checked by equivalence on the reference model: the gamma preset equals z+ with every conv
 * overridden to gamma by name, and one overridden layer changes the result.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { LrpModel } from '../../src/lrp-model.js';
import { assignRules, firstLayers } from '../../src/lrp/composite.js';
import type { LrpOptions } from '../../src/lrp/presets.js';
import { FIXTURE_WEIGHTS, fixtureInput, relativeL2 } from '../support/fixture.js';

const GAMMA = { name: 'gamma', gamma: 0.1 } as const;
const input = fixtureInput();
const models: LrpModel[] = [];
const load = async (rules: LrpOptions) => {
  const model = await LrpModel.load({ weights: FIXTURE_WEIGHTS, rules });
  models.push(model);
  return model;
};
after(() => Promise.all(models.map((m) => m.dispose())));

let byKind: LrpModel;
before(async () => {
  byKind = await load({ conv: GAMMA });
});

test('every conv overridden by name equals the same rule chosen by kind', async () => {
  const first = firstLayers(byKind.graph);
  const convs = byKind.graph.nodes.filter((n) => n.op === 'Conv' && !first.has(n.name)).map((n) => n.name);
  assert.equal(convs.length, 52);
  const byName = await load({ conv: 'zplus', layers: Object.fromEntries(convs.map((n) => [n, GAMMA])) });
  const [a, b] = [await byKind.computeLrp(input), await byName.computeLrp(input)];
  assert.deepEqual(b.relevance.data, a.relevance.data);
  assert.match(byName.info.rules, /conv5_block3_3_conv=gamma\(gamma=0\.1\)/);
});

test('one overridden layer: its rule is compiled, the others keep theirs, the result moves', async () => {
  const plain = await load({});
  const one = await load({ layers: { conv5_block3_3_conv: GAMMA } });
  const rules = assignRules(one.graph, one.config);
  assert.equal(rules.get('conv5_block3_3_conv')!.rule.name, 'gamma');
  assert.equal(rules.get('conv5_block3_2_conv')!.rule.name, 'zplus');
  assert.equal(rules.get('conv1_conv')!.rule.name, 'zb');
  const [p, o] = [await plain.computeLrp(input), await one.computeLrp(input)];
  assert.equal(o.logits[0], p.logits[0], 'the forward pass does not depend on rules');
  const moved = relativeL2(o.relevance.data, p.relevance.data);
  assert.ok(moved > 1e-6 && moved < 1, `relevance moved by ${moved}`);
});
