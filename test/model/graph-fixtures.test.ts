/**
 * The contract for any CNN in an ONNX file (docs/lrp-spec.md, "Any CNN in an ONNX file"): the
 * graph fixtures — a trained CIFAR-10 ResNet20 with option-A shortcuts, MobileNetV2, VGG11-BN,
 * DenseNet121 and ResNeXt50 — against an independent float64 implementation that executes each
 * ONNX graph itself. Tolerances: logits 1e-4 absolute, relevance 1e-4 relative L2, every trace
 * entry 1e-4 relative. Each model also predicts what a plain onnxruntime session on the same
 * file predicts, and the ratio split conserves relevance.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { LrpModel, type LrpResult } from '../../src/lrp-model.js';
import { ort } from '../../src/runtime/session.js';
import { GRAPH_FIXTURES, graphArray, graphExpected, graphPath, relativeL2 } from '../support/fixture.js';

const TOLERANCE = 1e-4;

for (const fixture of GRAPH_FIXTURES) {
  const expected = graphExpected(fixture);
  const input = Float32Array.from(graphArray(fixture, 'input_nchw.npy').data);
  const logits = graphArray(fixture, 'logits.npy').data;
  describe(`graph fixture ${fixture}`, () => {
    test('onnxruntime on the file itself predicts the fixture\'s class', async () => {
      const session = await ort.InferenceSession.create(readFileSync(graphPath(fixture, 'model.onnx')));
      try {
        const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', input, expected.input.shape) });
        const scores = out[session.outputNames[0]!]!.data as Float32Array;
        assert.equal(scores.indexOf(Math.max(...scores)), expected.predicted);
      } finally {
        await session.release();
      }
    });

    const rules = {
      default: {},
      symmetric: { split: 'symmetric' },
      // γ = 0.25 on every conv but the first, z+ on the dense layers.
      gamma_signed: { conv: { name: 'gamma-signed', gamma: 0.25 } },
    } as const;
    for (const config of ['default', 'symmetric', 'gamma_signed'] as const) {
      describe(`config ${config}`, () => {
        let model: LrpModel;
        let result: LrpResult;
        before(async () => {
          // Where the reference itself moves by ≥ 1e-5 under float32 rounding (expected.json's
          // float32_sensitivity: gamma-signed on ResNeXt and MobileNetV2), compare in float64.
          const precision = expected.configs[config]!.float32_sensitivity >= 1e-5 ? 'float64' : 'float32';
          model = await LrpModel.load({ weights: graphPath(fixture, 'model.onnx'), rules: rules[config], precision });
          result = await model.computeLrp(input, { debug: true });
        });
        after(() => model.dispose());

        test('logits and the explained class', () => {
          let worst = 0;
          for (let i = 0; i < logits.length; i++) worst = Math.max(worst, Math.abs(result.logits[i]! - logits[i]!));
          assert.ok(worst <= TOLERANCE, `max logit error ${worst}`);
          assert.equal(result.classIndex, expected.predicted);
          assert.equal(result.targetClass, expected.target);
        });

        test('input relevance', () => {
          const reference = graphArray(fixture, expected.configs[config]!.file);
          const error = relativeL2(result.relevance.data, reference.data);
          assert.ok(error <= TOLERANCE, `relative L2 error ${error}`);
        });

        test('every trace entry of the reference, by node name', () => {
          const ours = new Map(result.trace!.map((t) => [t.name, t.sum]));
          for (const [node, sum] of Object.entries(expected.configs[config]!.trace)) {
            assert.ok(ours.has(node), `no trace entry for ${node} (ours: ${[...ours.keys()].slice(0, 8).join(', ')}, …)`);
            const error = Math.abs(ours.get(node)! - sum) / Math.abs(sum);
            assert.ok(error <= TOLERANCE, `${node}: ${ours.get(node)} vs ${sum}`);
          }
        });

        test('conservation as the reference has it', () => {
          const inputSum = result.attribution.data.reduce((a, b) => a + b, 0);
          const reference = expected.configs[config]!;
          assert.ok(Math.abs(inputSum - reference.input_sum) <= TOLERANCE * Math.abs(reference.start), `input sum ${inputSum} vs ${reference.input_sum}`);
          const conservation = inputSum / result.startRelevance;
          assert.ok(Math.abs(conservation - reference.conservation) <= TOLERANCE, `conservation ${conservation} vs ${reference.conservation}`);
        });
      });
    }
  });
}
