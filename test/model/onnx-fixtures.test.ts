/**
 * The contract for ONNX files: both torchvision fixtures (bottleneck ResNet50 ÷ 8, basic-block
 * ResNet18 ÷ 4), each exported with BN folded (opset 13, dynamic batch) and with BN kept
 * (opset 11, other input/output names), against the independent float64 reference, for every
 * configuration they ship. Tolerances are docs/lrp-spec.md's: logits 1e-3 absolute, relevance 1e-3
 * relative L2, trace sums 1e-4 relative.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LrpModel, type LrpResult } from '../../src/lrp-model.js';
import { relativeL2, TV_FILES, TV_FIXTURES, tvArray, tvExpected, tvInput, tvPath, tvRules } from '../support/fixture.js';

const LOGIT_TOLERANCE = 1e-3;
const RELEVANCE_TOLERANCE = 1e-3;
const TRACE_TOLERANCE = 1e-4;

/**
 * Our trace (relevance at the output of each node, keyed by node name), in the fixture's units
 * (relevance at the input of each unit): the start; the global average pool's input, i.e. the
 * last addition's output; each block's input, i.e. the previous addition's output or, for the
 * first block, the max pool's output; the max pool's input, i.e. the stem conv's output (BN and
 * ReLU pass relevance on); and the input.
 */
function inFixtureUnits(model: LrpModel, trace: { name: string; sum: number }[]): { name: string; sum: number }[] {
  const op = new Map(model.graph.nodes.map((n) => [n.name, n.op]));
  const stem = trace.filter((t) => op.get(t.name) === 'Conv').at(-1);
  return trace.filter((t, k) => k === 0 || t.name === 'input' || t === stem || op.get(t.name) === 'Add' || op.get(t.name) === 'MaxPool');
}

for (const fixture of TV_FIXTURES) {
  const expected = tvExpected(fixture);
  const input = tvInput(fixture);
  const logits = tvArray(fixture, 'logits.npy').data;
  describe(`${fixture}`, () => {
    const relevanceByFile = new Map<string, Map<string, LrpResult>>();
    for (const file of TV_FILES) {
      for (const [name, reference] of Object.entries(expected.configs)) {
        describe(`${file}, config ${name}`, () => {
          let model: LrpModel;
          let result: LrpResult;
          before(async () => {
            model = await LrpModel.load({ weights: tvPath(fixture, file), rules: tvRules(reference.config) });
            result = await model.computeLrp(input, { debug: true });
            if (!relevanceByFile.has(file)) relevanceByFile.set(file, new Map());
            relevanceByFile.get(file)!.set(name, result);
          });
          after(() => model.dispose());

          test('logits, predicted class and start relevance', () => {
            let worst = 0;
            for (let i = 0; i < logits.length; i++) worst = Math.max(worst, Math.abs(result.logits[i]! - logits[i]!));
            assert.ok(worst <= LOGIT_TOLERANCE, `max logit error ${worst}`);
            assert.equal(result.classIndex, expected.target);
            assert.equal(result.targetClass, expected.target);
            const start = reference.trace[0]![1];
            assert.ok(Math.abs(result.startRelevance - start) <= TRACE_TOLERANCE * Math.abs(start));
          });

          test('input relevance (C × H × W, RGB) and the attribution map', () => {
            const ref = tvArray(fixture, `relevance_${name}.npy`);
            assert.deepEqual(ref.shape, [1, 3, 224, 224]);
            assert.deepEqual(result.relevance.shape, [3, 224, 224]);
            assert.equal(result.relevance.layout, 'CHW');
            const error = relativeL2(result.relevance.data, ref.data);
            assert.ok(error <= RELEVANCE_TOLERANCE, `relative L2 error ${error}`);
            const plane = 224 * 224;
            const refMap = new Float64Array(plane).map((_, p) => ref.data[p]! + ref.data[plane + p]! + ref.data[2 * plane + p]!);
            assert.ok(relativeL2(result.attribution.data, refMap) <= RELEVANCE_TOLERANCE);
          });

          test('every trace entry, one per block', () => {
            const ours = inFixtureUnits(model, result.trace!);
            assert.equal(ours.length, reference.trace.length, `trace ${ours.map((t) => t.name).join(', ')}`);
            reference.trace.forEach(([unit, sum], k) => {
              const error = Math.abs(ours[k]!.sum - sum) / Math.abs(sum);
              assert.ok(error <= TRACE_TOLERANCE, `${unit} #${k} (${ours[k]!.name}): ${ours[k]!.sum} vs ${sum}`);
            });
            const inputSum = result.attribution.data.reduce((a, b) => a + b, 0);
            assert.ok(Math.abs(inputSum - reference.input_sum) <= TRACE_TOLERANCE * Math.abs(reference.input_sum));
          });
        });
      }
    }

    test('BN folded and BN kept give the same relevance (all BN scales are positive)', () => {
      for (const name of Object.keys(expected.configs)) {
        const folded = relevanceByFile.get('model.onnx')!.get(name)!;
        const kept = relevanceByFile.get('model_bn.onnx')!.get(name)!;
        const error = relativeL2(folded.relevance.data, kept.relevance.data);
        assert.ok(error < 1e-5, `${name}: folded vs kept relative L2 ${error}`);
      }
    });
  });
}
