/**
 * Conservation on a full-size torchvision ResNet18 (seeded random weights, written here as a
 * torch-style ONNX file with BN folded and read back through the importer): the default
 * rules pass the start relevance down to the input with only floating-point losses.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LrpModel } from '../../src/lrp-model.js';
import { TORCHVISION_INPUT } from '../../src/model/input.js';
import { buildResNet, kerasResNetSpec, TORCH_BN_EPSILON } from '../../src/model/resnet.js';
import { randomWeights } from '../../src/weights/random.js';
import { tvInput } from '../support/fixture.js';
import { torchvisionOnnx } from '../support/torch-onnx.js';

test('full-size ResNet18 from ONNX, default rules: conservation error below 1e-3, and per block', async () => {
  const graph = buildResNet({
    ...kerasResNetSpec(50), name: 'resnet18', stageBlocks: [2, 2, 2, 2], block: 'basic',
    strideOn: 'middle', convBias: false, bnEpsilon: TORCH_BN_EPSILON, input: TORCHVISION_INPUT,
  });
  const model = await LrpModel.load({ weights: torchvisionOnnx(graph, randomWeights(graph, 11)) });
  try {
    assert.equal(model.info.format, 'onnx');
    assert.deepEqual(model.info.inputShape, [3, 224, 224]);
    for (const classIndex of [undefined, 7]) {
      const result = await model.computeLrp(tvInput('tv-resnet18-w4'), { classIndex, debug: true });
      assert.ok(result.conservationError! < 1e-3, `conservation error ${result.conservationError}`);
      // The whole relevance crosses the classifier, the pools and every block's addition.
      const op = new Map(model.graph.nodes.map((n) => [n.name, n.op]));
      const stream = result.trace!.filter((t) => ['Gemm', 'GlobalAveragePool', 'Add', 'MaxPool'].includes(op.get(t.name) ?? '') || t.name === 'input');
      assert.equal(stream.length, 1 + 1 + 8 + 1 + 1); // fc, avgpool, 8 blocks, max pool, input
      for (const entry of stream) {
        assert.ok(Math.abs(entry.sum - result.startRelevance) <= 1e-3 * Math.abs(result.startRelevance), `${entry.name}: ${entry.sum} of ${result.startRelevance}`);
      }
    }
  } finally {
    await model.dispose();
  }
});
