/**
 * The skip-connection split on its own: shares proportional to |x_k|, 1/K where all inputs are
 * zero (the branch a ResNet rarely reaches), exact conservation, and the symmetric halves.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { emitSplit } from '../../src/lrp/split.js';
import { OnnxGraphBuilder } from '../../src/onnx/graph-builder.js';
import { createSession, ort } from '../../src/runtime/session.js';

const m = Float32Array.of(1, -3, 0, 0, 2, 0);
const s = Float32Array.of(3, 1, 0, -4, 0, 0);
const r = Float32Array.of(8, 4, 6, 5, -2, 0);

async function split(mode: 'ratio' | 'equal' | 'ratio-no-fallback', zeroWhereZero = false, inputs = { m, s, r }): Promise<[Float32Array, Float32Array]> {
  const g = new OnnxGraphBuilder('split');
  for (const name of ['m', 's', 'r']) g.input(name, 'float32', [inputs.m.length]);
  const [rm, rs] = emitSplit(g, mode, 'add', ['m', 's'], 'r', zeroWhereZero);
  const outM = g.castOut(rm!, 'r_m', [inputs.m.length]);
  const outS = g.castOut(rs!, 'r_s', [inputs.m.length]);
  const session = await createSession(g.toBytes());
  const feed = (d: Float32Array) => new ort.Tensor('float32', d, [d.length]);
  const out = await session.run({ m: feed(inputs.m), s: feed(inputs.s), r: feed(inputs.r) });
  await session.release();
  return [out[outM]!.data as Float32Array, out[outS]!.data as Float32Array];
}

test('ratio split: |m|/(|m|+|s|) and |s|/(|m|+|s|), halves where both are zero', async () => {
  const [rm, rs] = await split('ratio');
  const expectedM = [2, 3, 3, 0, -2, 0]; // 8·1/4, 4·3/4, 6·½ (0/0), 5·0/4, −2·2/2, 0·½
  const expectedS = [6, 1, 3, 5, 0, 0];
  assert.deepEqual(Array.from(rm), expectedM);
  assert.deepEqual(Array.from(rs), expectedS);
  for (let i = 0; i < r.length; i++) assert.equal(rm[i]! + rs[i]!, r[i], `position ${i} conserves`);
});

test('symmetric split: halves everywhere', async () => {
  const [rm, rs] = await split('equal');
  assert.deepEqual(Array.from(rm), Array.from(r, (v) => v / 2));
  assert.deepEqual(Array.from(rs), Array.from(r, (v) => v / 2));
});

test('ratio split without the fallback ops, where R is 0 wherever both inputs are: bit-identical, subnormal sums included', async () => {
  // Positions 2 and 5 have |m| + |s| = 0, and R = 0 there (what the compiler proves); the last
  // two positions have subnormal sums, which the safe denominator must leave as they are.
  const tiny = 2 ** -149;
  const inputs = {
    m: Float32Array.of(1, -3, 0, 0, 2, 0, tiny, 3 * tiny),
    s: Float32Array.of(3, 1, 0, -4, 0, 0, tiny, 0),
    r: Float32Array.of(8, 4, 0, 5, -2, 0, 6, 7),
  };
  const [withFallbackM, withFallbackS] = await split('ratio', false, inputs);
  const [m2, s2] = await split('ratio', true, inputs);
  assert.deepEqual(Array.from(m2), Array.from(withFallbackM));
  assert.deepEqual(Array.from(s2), Array.from(withFallbackS));
  assert.deepEqual(Array.from(m2), [2, 3, 0, 0, -2, 0, 3, 7]);
});

test('ratio-no-fallback: nothing where both inputs are 0, exact ratios for subnormal sums', async () => {
  const tiny = 2 ** -149;
  const inputs = { m: Float32Array.of(1, 0, tiny), s: Float32Array.of(3, 0, tiny), r: Float32Array.of(8, 5, 6) };
  const [rm, rs] = await split('ratio-no-fallback', false, inputs);
  assert.deepEqual(Array.from(rm), [2, 0, 3]);
  assert.deepEqual(Array.from(rs), [6, 0, 3]);
});
