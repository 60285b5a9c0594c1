/** The metric's arithmetic (ranks, thresholds, AUC) and the perturbation graph, on tiny inputs. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normalizedAuc, rankPatches, resolveInsertionDeletionOptions } from '../../src/eval/patch-insdel.js';
import { compilePerturbationModel, PERTURBATION_IO, scoreShape } from '../../src/eval/perturbation.js';
import { blackValues, CAFFE_INPUT, TORCHVISION_INPUT, type InputDescription } from '../../src/model/input.js';
import { createSession, ort } from '../../src/runtime/session.js';

test('rankPatches: patch maxima, dense ranks with ties, thresholds τ_i = v_min(step·(i+1), P−1)', () => {
  // 4×4 map, 2×2 patches → patch maxima [[4, 9], [9, 1]] (a tie between two patches).
  const map = Float32Array.from([
    1, 4, 9, 0,
    2, 3, -5, 7,
    9, 0, 1, 1,
    -1, 8, 0, -3,
  ]);
  const options = resolveInsertionDeletionOptions({ patch: 2, step: 1 }, 4);
  const { pixelRanks, thresholds } = rankPatches(map, 4, options);
  // Distinct scores ascending: 1 → 0, 4 → 1, 9 → 2.
  assert.deepEqual([...pixelRanks], [1, 1, 2, 2, 1, 1, 2, 2, 2, 2, 0, 0, 2, 2, 0, 0]);
  // Descending v = [9, 9, 4, 1]; τ_i = v_min(i+1, 3) for i = 0..3 → 9, 4, 1, 1.
  assert.deepEqual([...thresholds], [2, 1, 0, 0]);
});

test('rankPatches: float64 maps keep values apart that float32 would tie; quantization ties them on purpose', () => {
  const a = 0.1;
  const b = 0.1 + 1e-12; // equal in float32
  const map = Float64Array.from([b, a, 0, 0.5]);
  assert.deepEqual([...rankPatches(map, 2, resolveInsertionDeletionOptions({ step: 1 }, 2)).pixelRanks], [2, 1, 0, 3]);
  assert.deepEqual([...rankPatches(Float32Array.from(map), 2, resolveInsertionDeletionOptions({ step: 1 }, 2)).pixelRanks], [1, 1, 0, 2]);
  // 2 levels: b = linspace(0, 0.5, 2) → everything below 0.5 becomes 0.
  assert.deepEqual([...rankPatches(map, 2, resolveInsertionDeletionOptions({ step: 1, quantize: 2 }, 2)).pixelRanks], [0, 0, 0, 1]);
});

test('normalizedAuc is the trapezoid area over [0, 1]', () => {
  assert.equal(normalizedAuc([0, 1]), 0.5);
  assert.equal(normalizedAuc([1, 1, 1, 1]), 1);
  assert.ok(Math.abs(normalizedAuc([0, 0.5, 1]) - 0.5) < 1e-15);
  assert.throws(() => normalizedAuc([1]), /at least 2 points/);
});

for (const desc of [CAFFE_INPUT, TORCHVISION_INPUT]) {
  test(`perturbation graph (${desc.layout}): insertion keeps rank ≥ τ and blacks out the rest, deletion the opposite`, async () => {
    const small: InputDescription = { ...desc, size: 3 };
    const session = await createSession(compilePerturbationModel(small));
    try {
      const pixels = 9;
      const image = Float32Array.from({ length: pixels * 3 }, (_, i) => i + 0.5);
      const ranks = Float32Array.from([0, 5, 2, 2, 8, 1, 7, 3, 4]);
      const thresholds = Float32Array.from([7, 2, 0]);
      const out = await session.run({
        [PERTURBATION_IO.image]: new ort.Tensor('float32', image, [1, 3, 3, 3]), // C = H = W = 3 in either layout
        [PERTURBATION_IO.scores]: new ort.Tensor('float32', ranks, scoreShape(small)),
        [PERTURBATION_IO.thresholds]: new ort.Tensor('float32', thresholds, [3]),
      });
      const images = out[PERTURBATION_IO.images]!;
      assert.deepEqual(images.dims, [6, 3, 3, 3]);
      const black = blackValues(small).map(Math.fround);
      const data = images.data as Float32Array;
      const index = (p: number, c: number): number => (desc.layout === 'NCHW' ? c * pixels + p : p * 3 + c);
      for (let k = 0; k < 3; k++) {
        for (let p = 0; p < pixels; p++) {
          for (let c = 0; c < 3; c++) {
            const kept = ranks[p]! >= thresholds[k]!;
            const original = image[index(p, c)]!;
            assert.equal(data[k * 27 + index(p, c)], kept ? original : black[c], `insertion ${k} pixel ${p} channel ${c}`);
            assert.equal(data[(3 + k) * 27 + index(p, c)], kept ? black[c] : original, `deletion ${k} pixel ${p} channel ${c}`);
          }
        }
      }
    } finally {
      await session.release();
    }
  });
}
