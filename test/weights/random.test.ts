import test from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { expectedParamShapes, PARAM_NAMES } from '../../src/model/layers.js';
import { kerasResNet50 } from '../../src/model/resnet.js';
import { randomWeights } from '../../src/weights/random.js';
import { forward, nhwcToChw, readNpyF32 } from './forward-helper.js';
import { FIXTURE_DIR } from './h5-helpers.js';

const full = kerasResNet50();

function stats(data: ArrayLike<number>): { mean: number; std: number; min: number; max: number } {
  let s = 0;
  let s2 = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    s += v;
    s2 += v * v;
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  const mean = s / data.length;
  return { mean, std: Math.sqrt(s2 / data.length - mean * mean), min, max };
}

test('full-width ResNet50: every parameter, in the shapes the graph expects', () => {
  // How fast is the bench's business (load_compile_ms), not a test's: timed tests fail on a busy machine.
  const weights = randomWeights(full);
  let count = 0;
  for (const layer of full.layers) {
    if (!PARAM_NAMES[layer.kind]) {
      assert.ok(!weights.has(layer.name), layer.name);
      continue;
    }
    const params = weights.get(layer.name)!;
    const expected = expectedParamShapes(full, layer);
    assert.deepEqual(Object.keys(params).sort(), Object.keys(expected).sort(), layer.name);
    for (const [name, shape] of Object.entries(expected)) {
      assert.deepEqual(params[name]!.shape, shape, `${layer.name} ${name}`);
      assert.equal(params[name]!.data.length, shape.reduce((a, b) => a * b, 1));
      count += params[name]!.data.length;
    }
  }
  assert.equal(count, 25_636_712); // Keras ResNet50's parameter count
});

test('same seed gives the same values, another seed different ones', () => {
  const graph = kerasResNet50({ baseWidth: 16 });
  const a = randomWeights(graph, 7);
  const b = randomWeights(graph, 7);
  const c = randomWeights(graph, 8);
  const d = randomWeights(graph); // default seed 0
  for (const [layer, params] of a) {
    for (const [name, t] of Object.entries(params)) {
      assert.deepEqual(b.get(layer)![name]!.data, t.data, `${layer} ${name}`);
      assert.notDeepEqual(c.get(layer)![name]!.data, t.data, `${layer} ${name}`);
    }
  }
  assert.deepEqual(randomWeights(graph, 0).get('conv1_conv')!.kernel!.data, d.get('conv1_conv')!.kernel!.data);
  // Layers of the same shape still get different values.
  assert.notDeepEqual(a.get('conv2_block2_1_conv')!.kernel!.data, a.get('conv2_block3_1_conv')!.kernel!.data);
});

test('distributions: He-normal kernels, positive biases, BN near identity, halved gamma before adds', () => {
  const weights = randomWeights(full, 1);
  const kernel = weights.get('conv3_block1_2_conv')!.kernel!; // 3×3×128 fan-in
  const k = stats(kernel.data);
  assert.ok(Math.abs(k.mean) < 0.002, `kernel mean ${k.mean}`);
  const he = Math.sqrt(2 / (3 * 3 * 128));
  assert.ok(Math.abs(k.std / he - 1) < 0.02, `kernel std ${k.std} vs He ${he}`);

  const dense = stats(weights.get('predictions')!.kernel!.data);
  assert.ok(Math.abs(dense.std / Math.sqrt(2 / 2048) - 1) < 0.02);

  const bias = stats(weights.get('conv1_conv')!.bias!.data);
  assert.ok(bias.min >= 0 && bias.max < 0.05);

  const bn = weights.get('conv2_block1_1_bn')!;
  assert.ok(Math.abs(stats(bn.gamma!.data).mean - 1) < 0.05);
  assert.ok(Math.abs(stats(bn.movingVariance!.data).mean - 1) < 0.05);
  assert.ok(stats(bn.movingVariance!.data).min > 0);
  assert.ok(Math.abs(stats(bn.movingMean!.data).mean) < 0.01);
  for (const residual of ['conv2_block1_0_bn', 'conv2_block1_3_bn', 'conv5_block3_3_bn']) {
    assert.ok(Math.abs(stats(weights.get(residual)!.gamma!.data).mean - 0.5) < 0.05, residual);
  }
});

test('activations stay finite and non-degenerate through all 16 blocks of a full-width ResNet50', async () => {
  // Full width; a 64×64 input keeps the plain-JS forward pass to about a second.
  const graph = kerasResNet50({ inputSize: 64 });
  const image = await readNpyF32(join(FIXTURE_DIR, 'input_caffe_nhwc.npy')); // caffe scale, ±~120
  const outputs = forward(graph, randomWeights(graph), nhwcToChw(image.data, image.shape, 64));
  const blocks = graph.layers.filter((l) => /^conv\d_block\d+_out$/.test(l.name));
  assert.equal(blocks.length, 16);
  for (const block of blocks) {
    const data = outputs.get(block.name)!.data;
    const s = stats(data);
    const active = data.reduce((n, v) => n + (v > 0 ? 1 : 0), 0) / data.length;
    assert.ok(Number.isFinite(s.max), block.name);
    assert.ok(active > 0.2 && active < 0.95, `${block.name}: ${active} active`);
    // Same order of magnitude as the input: neither vanishing nor exploding.
    assert.ok(s.std > 5 && s.max < 5000, `${block.name}: std ${s.std}, max ${s.max}`);
  }
  const logits = stats(outputs.get('predictions')!.data);
  assert.ok(Number.isFinite(logits.max) && logits.std > 1, `logits std ${logits.std}`);
});
