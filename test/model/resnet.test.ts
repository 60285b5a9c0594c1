/**
 * The ResNet builders: Keras names and shapes, and the other layouts (deeper stacks, basic
 * blocks, torchvision strides without conv bias) compile and conserve relevance unchanged.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileExplainer } from '../../src/lrp/compiler.js';
import { resolveLrpOptions } from '../../src/lrp/presets.js';
import { buildResNet, kerasResNet50, kerasResNetSpec, TORCH_BN_EPSILON } from '../../src/model/resnet.js';
import { IO } from '../../src/onnx/classifier.js';
import { createSession, ort } from '../../src/runtime/session.js';
import { randomModel } from '../../src/weights/random.js';
import { readKerasH5 } from '../../src/weights/keras-h5.js';
import { FIXTURE_WEIGHTS } from '../support/fixture.js';

test('Keras ResNet50: the layer names of the official file, in order, and the shapes', async () => {
  const graph = kerasResNet50();
  const file = await readKerasH5(FIXTURE_WEIGHTS);
  // Same layers (the input's name differs by Keras version); Keras lists them in another valid topological order.
  assert.deepEqual(graph.layers.map((l) => l.name).slice(1).sort(), file.layerNames.slice(1).sort());
  const shape = (name: string) => graph.layers.find((l) => l.name === name)!.outputShape;
  assert.deepEqual(shape('conv1_conv'), [64, 112, 112]);
  assert.deepEqual(shape('pool1_pool'), [64, 56, 56]);
  assert.deepEqual(shape('conv2_block3_out'), [256, 56, 56]);
  assert.deepEqual(shape('conv3_block1_1_conv'), [128, 28, 28]);
  assert.deepEqual(shape('conv5_block3_out'), [2048, 7, 7]);
  assert.deepEqual(shape('predictions'), [1000]);
  assert.equal(graph.layers.filter((l) => l.kind === 'conv').length, 53);
});

test('ResNet101 and ResNet152 are the same builder with more blocks', () => {
  const blocks = (depth: 101 | 152) => new Set(buildResNet(kerasResNetSpec(depth)).layers.map((l) => l.group).filter(Boolean)).size;
  assert.equal(blocks(101), 3 + 4 + 23 + 3);
  assert.equal(blocks(152), 3 + 8 + 36 + 3);
});

/** Runs the default LRP on a small random image and returns the conservation error. */
async function conservation(spec: Parameters<typeof buildResNet>[0]): Promise<{ error: number; trace: number }> {
  const { graph, weights } = randomModel(buildResNet(spec), 3);
  const compiled = compileExplainer(graph, weights, resolveLrpOptions({ first: 'zplus' }));
  const session = await createSession(compiled.model);
  const size = spec.inputSize;
  const input = Float32Array.from({ length: size * size * 3 }, (_, i) => ((i * 7919) % 255) - 120);
  const out = await session.run({
    [IO.input]: new ort.Tensor('float32', input, [1, size, size, 3]),
    [IO.target]: new ort.Tensor('int64', BigInt64Array.of(-1n), [1]),
  });
  await session.release();
  const start = (out[IO.startRelevance]!.data as Float32Array)[0]!;
  const total = (out[IO.attribution]!.data as Float32Array).reduce((a, b) => a + b, 0);
  return { error: Math.abs(total - start) / Math.abs(start), trace: compiled.traceNames.length };
}

test('basic blocks (ResNet18 layout) compile and conserve', async () => {
  const { error, trace } = await conservation({
    ...kerasResNetSpec(50, { baseWidth: 16, classes: 10, inputSize: 64 }), name: 'resnet18', stageBlocks: [2, 2, 2, 2], block: 'basic',
  });
  assert.equal(trace, 1 + 2 + 8 + 2); // start, dense, pool, 8 blocks, max pool, conv1
  assert.ok(error < 1e-3, `conservation error ${error}`);
});

test('torchvision layout (stride on the 3×3, no conv bias) compiles and conserves', async () => {
  const { error } = await conservation({
    ...kerasResNetSpec(50, { baseWidth: 16, classes: 10, inputSize: 64 }), strideOn: 'middle', convBias: false, bnEpsilon: TORCH_BN_EPSILON,
  });
  assert.ok(error < 1e-3, `conservation error ${error}`);
});
