/**
 * The gradient rules compose to ∂y_t/∂x: the `gradient` preset against central finite
 * differences of the forward pass (the same ONNX forward ops, in float64 with float64 logits
 * out), on a tiny ResNet with batch norm,
 * a padded max pool (argmax routing), a skip connection and global pooling. The network is
 * piecewise linear, so central differences are exact wherever no ReLU or pool decision flips
 * within ±h; the test checks that premise instead of assuming it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { layersToGraph } from '../../src/import/keras.js';
import { emitForward } from '../../src/onnx/forward.js';
import { OnnxGraphBuilder } from '../../src/onnx/graph-builder.js';
import { createSession, ort } from '../../src/runtime/session.js';
import { relativeL2 } from '../support/fixture.js';
import { CHANNELS, CLASSES, runExplainer, SIZE, tinyInput, tinyResNet, tinyWeights, toChw } from '../support/tiny-nets.js';

const H = 1e-4;

test('gradient preset = ∂y_t/∂x by central differences (BN, max pool argmax, skip, global pool)', async () => {
  // The max pool reads the batch norm's output directly, so its windows have no ties.
  const graph = tinyResNet('pool-first');
  const weights = tinyWeights(graph, 3);
  const input = tinyInput(5);
  const n = input.length;

  // One batch: the input, then x + h·e_i and x − h·e_i for every input value i.
  const batch = new Float32Array((2 * n + 1) * n);
  batch.set(input);
  for (let i = 0; i < n; i++) {
    batch.set(input, (1 + 2 * i) * n);
    batch.set(input, (2 + 2 * i) * n);
    batch[(1 + 2 * i) * n + i] = input[i]! + H;
    batch[(2 + 2 * i) * n + i] = input[i]! - H;
  }
  // The forward ops in float64, with the logits left in float64 (the library's outputs are float32).
  const g = new OnnxGraphBuilder('forward64', 'float64');
  g.input('x', 'float32', ['N', SIZE, SIZE, CHANNELS]);
  const model = layersToGraph(graph, weights);
  const forward = emitForward(g, model.graph, model.weights, g.castIn(g.op('Transpose', ['x'], 'x_nchw', { perm: [0, 3, 1, 2] })));
  const logitsName = forward.tensors.get(graph.output)!;
  g.output(logitsName, 'float64', ['N', CLASSES]);
  const session = await createSession(g.toBytes());
  let logits: Float64Array;
  try {
    const out = await session.run({ x: new ort.Tensor('float32', batch, [2 * n + 1, SIZE, SIZE, CHANNELS]) });
    logits = out[logitsName]!.data as Float64Array;
  } finally {
    await session.release();
  }
  // The perturbed inputs are float32: use the step they really took.
  const step = (i: number) => Math.fround(input[i]! + H) - Math.fround(input[i]! - H);

  for (const target of [0, 2]) {
    const y = (k: number) => logits[k * CLASSES + target]!;
    const central = new Float64Array(n);
    let worstKink = 0;
    for (let i = 0; i < n; i++) {
      const up = y(1 + 2 * i) - y(0);
      const down = y(0) - y(2 + 2 * i);
      central[i] = (up + down) / step(i);
      worstKink = Math.max(worstKink, Math.abs(up - down));
    }
    // Linear within ±h: both one-sided differences agree up to float64 rounding.
    assert.ok(worstKink < 1e-12, `a ReLU or max decision flips within ±h (one-sided differences differ by ${worstKink})`);
    const fd = toChw(central, CHANNELS, SIZE * SIZE);
    const got = await runExplainer(graph, weights, { preset: 'gradient' }, 'float64', input, target);
    assert.equal(got.explained, target);
    assert.equal(got.start, 1);
    const error = relativeL2(got.relevance, fd);
    // The relevance output is float32: ~6e-8 relative.
    assert.ok(error < 1e-7, `target ${target}: relative L2 error ${error}`);
    if (process.env.RESNET_LRP_TEST_VERBOSE) console.log(`gradient vs finite differences, target ${target}: ${error.toExponential(1)} (kink bound ${worstKink.toExponential(1)})`);
  }
});
