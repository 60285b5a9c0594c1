/**
 * Every architecture family of test/fixtures/families (EfficientNet, MobileNetV3, ShuffleNetV2,
 * RegNetY, SqueezeNet, GoogLeNet and a hand-written ResNet, exported by torch.onnx.export): each
 * loads, predicts what onnxruntime predicts on the file itself with the same logits, and
 * conserves relevance. Conservation is checked with rules that conserve wherever they are used
 * (W² for weighted layers, the pools' gradient, the ratio split, pass-through elsewhere), so any
 * op that lost or invented relevance would show; the default rules give finite maps.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { LrpModel } from '../../src/lrp-model.js';
import { ort } from '../../src/runtime/session.js';
import { FIXTURES_ROOT } from '../support/fixture.js';

const FAMILIES = ['efficientnet', 'mobilenet_v3', 'shufflenet_v2', 'regnet_y', 'squeezenet', 'googlenet', 'hand_written'];
const CONSERVING = { first: 'wsquare', conv: 'wsquare', dense: 'wsquare', maxPool: 'gradient', globalAvgPool: 'gradient' } as const;

for (const family of FAMILIES) {
  describe(`family ${family}`, () => {
    const bytes = readFileSync(join(FIXTURES_ROOT, 'families', `${family}.onnx`));

    test('same logits and class as onnxruntime on the file; default maps are finite', async () => {
      const model = await LrpModel.load({ weights: bytes });
      try {
        const [c, h, w] = model.info.inputShape;
        // The file's own input: pixels in [0, 1] where it normalises them itself, else normalised values.
        const desc = model.inputDescription;
        const pixels = Float32Array.from({ length: c * h * w }, (_, i) => 0.5 + 0.5 * Math.sin(i * 0.37));
        const fileInput = desc.name.includes('normalised in the graph') ? pixels : pixels.map((v, i) => (v - 0.45) / 0.225);
        const ours = desc.name.includes('normalised in the graph')
          ? pixels.map((v, i) => (v - desc.mean[Math.floor(i / (h * w))]!) / desc.std[Math.floor(i / (h * w))]!)
          : fileInput;
        const session = await ort.InferenceSession.create(bytes);
        let reference: Float32Array;
        try {
          const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', fileInput, [1, c, h, w]) });
          reference = out[session.outputNames[0]!]!.data as Float32Array;
        } finally {
          await session.release();
        }
        const result = await model.computeLrp(ours);
        assert.equal(result.classIndex, reference.indexOf(Math.max(...reference)));
        reference.forEach((v, j) => assert.ok(Math.abs(result.logits[j]! - v) <= 1e-4 * Math.max(1, Math.abs(v)), `logit ${j}: ${result.logits[j]} vs ${v}`));
        assert.ok(result.relevance.data.every(Number.isFinite) && result.relevance.data.some((v) => v !== 0));
      } finally {
        await model.dispose();
      }
    });

    test('conserves relevance from the logit to the input', async () => {
      const model = await LrpModel.load({ weights: bytes, rules: CONSERVING });
      try {
        const [c, h, w] = model.info.inputShape;
        const input = Float32Array.from({ length: c * h * w }, (_, i) => Math.sin(i * 0.61));
        // The two highest logits (a final ReLU may leave others at exactly 0: nothing to explain).
        for (const result of await model.computeLrp(input, { topK: 2 })) {
          assert.notEqual(result.startRelevance, 0);
          const total = result.attribution.data.reduce((a, b) => a + b, 0);
          assert.ok(Math.abs(total / result.startRelevance - 1) < 1e-5, `class ${result.targetClass}: ${total} of ${result.startRelevance}`);
        }
      } finally {
        await model.dispose();
      }
    });
  });
}
