/**
 * The `official` preset against the paper's released code: `relevance_official.npy` of both
 * torchvision fixtures is the map (224 × 224, summed over channels) that
 * keio-smilab24/LRP-for-ResNet computes itself, on the PyTorch model with its BatchNorm layers.
 *
 * With BN kept (`model_bn.onnx`) the preset reproduces it within 1e-4 relative L2. With BN
 * folded into the convs (`model.onnx`) it cannot exactly: the official code adds ε = 1e-5 to
 * the conv output *before* BN, and a folded conv's output is that value times the BN scale
 * γ/σ, which the folded file no longer holds. The ε then lands on a scaled z (measured: 1.8e-3
 * on the narrow ResNet50, whose small activations feel ε; 1.7e-6 on ResNet18). The folded files
 * are held to 5e-3, which still fails for a real change of the rules (measured on the folded
 * ResNet50: ε = 1e-9 instead of 1e-5 gives 1.0e-2, the 3×3 max-pool windows 0.19, the
 * symmetric split 0.16).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LrpModel } from '../../src/lrp-model.js';
import { relativeL2, TV_FIXTURES, tvArray, tvExpected, tvInput, tvPath } from '../support/fixture.js';

const TOLERANCE = { 'model_bn.onnx': 1e-4, 'model.onnx': 5e-3 } as const;

for (const fixture of TV_FIXTURES) {
  for (const [file, tolerance] of Object.entries(TOLERANCE)) {
    test(`${fixture} ${file}: the official preset reproduces the official code's map (≤ ${tolerance})`, async () => {
      const reference = tvArray(fixture, 'relevance_official.npy');
      assert.deepEqual(reference.shape.slice(-2), [224, 224]);
      const model = await LrpModel.load({ weights: tvPath(fixture, file), rules: { preset: 'official' } });
      try {
        const result = await model.computeLrp(tvInput(fixture));
        assert.equal(result.targetClass, tvExpected(fixture).official.target);
        // The official start is the softmax probability of the predicted class.
        assert.ok(Math.abs(result.startRelevance - result.probabilities[result.targetClass]!) < 1e-6);
        const error = relativeL2(result.attribution.data, reference.data);
        assert.ok(error <= tolerance, `relative L2 error ${error.toExponential(2)} > ${tolerance}`);
      } finally {
        await model.dispose();
      }
    });
  }
}
