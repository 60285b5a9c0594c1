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

/** The patches each step takes (rank ≥ τ_i), per step, as sorted patch indices (patch = 1 pixel). */
function stepSets(map: Float32Array, size: number, options: Parameters<typeof resolveInsertionDeletionOptions>[0]): number[][] {
  const { pixelRanks, thresholds } = rankPatches(map, size, resolveInsertionDeletionOptions(options, size));
  return [...thresholds].map((t) => [...pixelRanks.keys()].filter((i) => pixelRanks[i]! >= t));
}

// 3×3 map, one patch per pixel, step 2: positions k = 2, 4, 6, 8, 8. Scores by patch index:
// 0 → 5; 1, 2, 3, 5, 7 → 3 (five tie); 8 → 2; 4 → 1; 6 → 0.
const TIE_MAP = Float32Array.from([5, 3, 3, 3, 1, 3, 0, 3, 2]);
const TIED = [1, 2, 3, 5, 7];

test('ties paper: every patch tying with the threshold v_k enters at once', () => {
  assert.deepEqual(stepSets(TIE_MAP, 3, { step: 2 }), [
    [0, 1, 2, 3, 5, 7], // k = 2: v_2 = 3, and all six patches ≥ 3 (3 ahead of the nominal 3)
    [0, 1, 2, 3, 5, 7], // k = 4: v_4 = 3
    [0, 1, 2, 3, 5, 7, 8], // k = 6: v_6 = 2
    [0, 1, 2, 3, 4, 5, 6, 7, 8],
    [0, 1, 2, 3, 4, 5, 6, 7, 8],
  ]);
  assert.deepEqual(stepSets(TIE_MAP, 3, { step: 2, ties: 'paper' }), stepSets(TIE_MAP, 3, { step: 2 }), 'paper is the default');
  // Tied at v_k: 5, 5, 1, 1, 1 patches; ahead of k + 1: 3, 1, 0, 0, 0 of 9.
  const { ties } = rankPatches(TIE_MAP, 3, resolveInsertionDeletionOptions({ step: 2 }, 3));
  assert.ok(Math.abs(ties.tied - 13 / 5) < 1e-12, `tied ${ties.tied}`);
  assert.ok(Math.abs(ties.paperLead - 4 / 45) < 1e-12, `paperLead ${ties.paperLead}`);
  // The statistics describe the map, not the rule.
  assert.deepEqual(rankPatches(TIE_MAP, 3, resolveInsertionDeletionOptions({ step: 2, ties: 'stable' }, 3)).ties, ties);
});

test('ties stable: exactly k + 1 patches per step, equal scores in patch index order', () => {
  assert.deepEqual(stepSets(TIE_MAP, 3, { step: 2, ties: 'stable' }), [
    [0, 1, 2],
    [0, 1, 2, 3, 5],
    [0, 1, 2, 3, 5, 7, 8],
    [0, 1, 2, 3, 4, 5, 6, 7, 8],
    [0, 1, 2, 3, 4, 5, 6, 7, 8],
  ]);
  // Without ties every rule gives the paper's steps.
  const distinct = Float32Array.from([0.3, 0.9, 0.1, 0.5, 0.7, 0.2, 0.8, 0.4, 0.6]);
  for (const ties of ['stable', 'random'] as const) assert.deepEqual(stepSets(distinct, 3, { step: 2, ties }), stepSets(distinct, 3, { step: 2 }), ties);
});

test('ties random: k + 1 patches per step, higher scores first, equal scores in a seeded order (the same per seed)', () => {
  const firstTied = new Set<number>();
  const orders = new Set<string>();
  for (let seed = 0; seed < 40; seed++) {
    const sets = stepSets(TIE_MAP, 3, { step: 2, ties: 'random', tieSeed: seed });
    assert.deepEqual(stepSets(TIE_MAP, 3, { step: 2, ties: 'random', tieSeed: seed }), sets, `seed ${seed}: deterministic`);
    assert.deepEqual(sets.map((s) => s.length), [3, 5, 7, 9, 9], `seed ${seed}: k + 1 patches`);
    // Patch 0 (score 5) first; steps 0 and 1 take only tied patches besides it; step 2 all of them and patch 8.
    assert.ok(sets[0]!.includes(0) && sets[0]!.every((i) => i === 0 || TIED.includes(i)), `seed ${seed}: ${sets[0]}`);
    assert.ok(sets[1]!.every((i) => i === 0 || TIED.includes(i)));
    assert.deepEqual(sets[2], [0, 1, 2, 3, 5, 7, 8]);
    // Each step extends the previous one.
    for (let i = 1; i < sets.length; i++) assert.ok(sets[i - 1]!.every((p) => sets[i]!.includes(p)));
    firstTied.add(sets[0]!.filter((i) => i !== 0)[0]!);
    orders.add(JSON.stringify(sets.slice(0, 2)));
  }
  // Over 40 seeds every tied patch is among the first taken at some seed, and the orders differ.
  assert.ok(TIED.every((p) => [...orders].some((o) => (JSON.parse(o) as number[][])[0]!.includes(p))), `orders ${[...orders].join(' ')}`);
  assert.ok(firstTied.size >= 3 && orders.size >= 5, `${firstTied.size} first patches, ${orders.size} orders`);
});

test('ties: an unknown rule or a bad seed is refused', () => {
  assert.throws(() => resolveInsertionDeletionOptions({ step: 1, ties: 'sorted' as never }, 4), /ties must be one of paper, stable, random, got sorted/);
  assert.throws(() => resolveInsertionDeletionOptions({ step: 1, ties: 'random', tieSeed: -1 }, 4), /tieSeed must be an integer ≥ 0/);
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
