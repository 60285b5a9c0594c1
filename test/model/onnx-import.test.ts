/**
 * The ONNX importer on files written here the way torch.onnx.export writes them: every
 * supported variant (BN folded or kept, Gemm or MatMul head, GlobalAveragePool or ReduceMean,
 * opsets 11–18, fixed or dynamic batch, any names, any class count, basic or bottleneck blocks)
 * becomes the same layer graph and computes the same logits as the graph it was written from;
 * everything else is refused before any output, naming the node, its op and the reason.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import type { ModelGraph } from '../../src/model/graph.js';
import { TORCHVISION_INPUT } from '../../src/model/input.js';
import { importOnnxResNet, OnnxImportError } from '../../src/model/onnx-import.js';
import { buildResNet, kerasResNetSpec, TORCH_BN_EPSILON, type ResNetSpec } from '../../src/model/resnet.js';
import { compileForwardModel, IO } from '../../src/onnx/classifier.js';
import { createSession, ort } from '../../src/runtime/session.js';
import { randomWeights } from '../../src/weights/random.js';
import type { ModelWeights } from '../../src/weights/types.js';
import { tvPath } from '../support/fixture.js';
import { encodeModel, floatInit, torchvisionModel, torchvisionOnnx, type TorchModel, type TorchOnnxOptions } from '../support/torch-onnx.js';

const SIZE = 32;

/** A small torchvision-layout ResNet (stride on the 3×3, no conv bias, BN ε 1e-5, NCHW input). */
function tvSpec(block: 'basic' | 'bottleneck', classes = 10): ResNetSpec {
  return {
    ...kerasResNetSpec(50, { baseWidth: 4, classes, inputSize: SIZE }),
    name: block === 'basic' ? 'resnet18' : 'resnet26',
    stageBlocks: block === 'basic' ? [2, 2, 2, 2] : [2, 2, 2, 2],
    block,
    strideOn: 'middle',
    convBias: false,
    bnEpsilon: TORCH_BN_EPSILON,
    input: { ...TORCHVISION_INPUT, size: SIZE },
  };
}

const basic = buildResNet(tvSpec('basic'));
const basicWeights = randomWeights(basic, 5);
const bottleneck = buildResNet(tvSpec('bottleneck', 7));
const bottleneckWeights = randomWeights(bottleneck, 6);
const image = Float32Array.from({ length: 3 * SIZE * SIZE }, (_, i) => Math.sin(i * 0.37) * 1.7);

async function logits(graph: ModelGraph, weights: ModelWeights): Promise<Float32Array> {
  const session = await createSession(compileForwardModel(graph, weights));
  try {
    const out = await session.run({ [IO.input]: new ort.Tensor('float32', image, [1, 3, SIZE, SIZE]) });
    return out[IO.logits]!.data as Float32Array;
  } finally {
    await session.release();
  }
}

/** The layers without zero padding (torch pads implicitly), as kind and shape. */
function structure(graph: ModelGraph): string[] {
  return graph.layers.filter((l) => l.kind !== 'zeroPad').map((l) => `${l.kind}[${l.outputShape}]`);
}

describe('supported exports', () => {
  const variants: [string, ModelGraph, ModelWeights, TorchOnnxOptions][] = [
    ['basic blocks, BN folded, Flatten + Gemm, opset 13', basic, basicWeights, {}],
    ['basic blocks, BN kept, opset 11, fixed batch, other names', basic, basicWeights, { foldBn: false, opset: 11, batch: 1, inputName: 'x', outputName: 'y' }],
    ['basic blocks, Reshape + MatMul + Add head, ReduceMean, opset 17', basic, basicWeights, { head: 'matmul', pool: 'reducemean', opset: 17 }],
    ['bottleneck blocks, BN kept, ReduceMean with axes input (opset 18), 7 classes', bottleneck, bottleneckWeights, { foldBn: false, pool: 'reducemean', opset: 18 }],
    ['bottleneck blocks, BN folded, MatMul head, opset 12', bottleneck, bottleneckWeights, { head: 'matmul', opset: 12 }],
  ];
  for (const [name, graph, weights, options] of variants) {
    test(name, async () => {
      const imported = importOnnxResNet(torchvisionOnnx(graph, weights, options), { source: 'model.onnx' });
      const g = imported.graph;
      // The same layers, without the BatchNorms that a folded export merged into the convs.
      assert.deepEqual(structure(g), structure(graph).filter((s) => options.foldBn === false || !s.startsWith('batchNorm')));
      assert.equal(g.inputDescription.layout, 'NCHW');
      assert.equal(g.inputDescription.size, SIZE);
      assert.deepEqual(g.inputDescription.mean, TORCHVISION_INPUT.mean);
      assert.equal(imported.file.input, options.inputName ?? 'input');
      assert.equal(imported.file.output, options.outputName ?? 'logits');
      assert.equal(imported.file.batch, options.batch ?? 'dynamic');
      // One trace group per residual block, named after it.
      const groups = new Set(g.layers.map((l) => l.group).filter(Boolean));
      assert.deepEqual([...groups], [...new Set(graph.layers.map((l) => l.group).filter(Boolean))]);
      const [ours, reference] = [await logits(g, imported.weights), await logits(graph, weights)];
      for (let i = 0; i < reference.length; i++) assert.ok(Math.abs(ours[i]! - reference[i]!) < 1e-4, `logit ${i}: ${ours[i]} vs ${reference[i]}`);
    });
  }

  test('torch names become module paths; the architecture is named by its depth', () => {
    const { graph, file } = importOnnxResNet(readFileSync(tvPath('tv-resnet18-w4', 'model_bn.onnx')));
    assert.equal(graph.name, 'resnet18');
    assert.deepEqual(file, { input: 'x', output: 'y', opset: 11, batch: 1 });
    const names = graph.layers.map((l) => l.name);
    for (const name of ['x', 'conv1', 'bn1', 'relu', 'maxpool', 'layer1.0.conv1', 'layer1.0.bn1', 'layer2.0.downsample.0', 'layer2.0.downsample.1', 'layer4.1.add', 'layer4.1.relu_1', 'avgpool', 'fc']) {
      assert.ok(names.includes(name), `${name} in ${names.join(' ')}`);
    }
    assert.equal(graph.layers.find((l) => l.name === 'layer2.0.downsample.0')!.group, 'layer2.0');
    assert.equal(graph.layers.find((l) => l.name === 'maxpool')!.group, undefined);
    assert.equal(importOnnxResNet(readFileSync(tvPath('tv-resnet50-w8', 'model.onnx'))).graph.name, 'resnet50');
  });

  test('input description: torchvision by default, overridable except the layout', () => {
    const bytes = torchvisionOnnx(basic, basicWeights);
    const own = importOnnxResNet(bytes).graph.inputDescription;
    assert.deepEqual({ ...own, resize: undefined }, { ...TORCHVISION_INPUT, size: SIZE, resize: undefined });
    const changed = importOnnxResNet(bytes, { input: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], resize: { fit: 'resize' } } }).graph.inputDescription;
    assert.deepEqual(changed.mean, [0.5, 0.5, 0.5]);
    assert.deepEqual(changed.resize, { fit: 'resize' });
    assert.equal(changed.layout, 'NCHW');
    assert.throws(() => importOnnxResNet(bytes, { input: { size: 64 } }), /size 64 was asked for, but input input is fixed at 32×32/);
  });
});

describe('refusals name the node, its op and why', () => {
  const model = (options: TorchOnnxOptions = {}) => torchvisionModel(basic, basicWeights, options);
  const refuse = (m: TorchModel, pattern: RegExp) => {
    assert.throws(() => importOnnxResNet(encodeModel(m), { source: 'my.onnx' }), (error: unknown) => {
      assert.ok(error instanceof OnnxImportError, String(error));
      assert.match(error.message, /^my\.onnx: /);
      assert.match(error.message, pattern);
      return true;
    });
  };
  const nodeNamed = (m: TorchModel, name: string) => m.nodes.find((n) => n.name === name)!;

  test('a Concat joining feature maps (DenseNet style)', () => {
    const m = model();
    const add = nodeNamed(m, '/conv2_block2/Add');
    add.op = 'Concat';
    add.attributes = { axis: 1 };
    refuse(m, /node "\/conv2_block2\/Add" \(Concat\) concatenates feature maps/);
  });

  test('a Sigmoid head', () => {
    const m = model();
    m.nodes.push({ name: '/sigmoid/Sigmoid', op: 'Sigmoid', inputs: ['logits'], outputs: ['scores'] });
    m.output.name = 'scores';
    refuse(m, /node "\/sigmoid\/Sigmoid" \(Sigmoid\) is not part of a ResNet classifier/);
  });

  test('a pre-activation (v2) block: no ReLU after the Add', () => {
    const m = model();
    // The last block's output ReLU is removed: its Add feeds the pool directly.
    const relu = m.nodes.findIndex((n) => n.name === '/conv5_block2_out/Relu');
    const [removed] = m.nodes.splice(relu, 1);
    for (const n of m.nodes) n.inputs = n.inputs.map((i) => (i === removed!.outputs[0] ? removed!.inputs[0]! : i));
    refuse(m, /pre-activation \(v2\)/);
  });

  test('weights in an external data file', () => {
    const m = model();
    const w = m.initializers.find((t) => t.name === 'conv1_conv.weight')!;
    w.rawData = new Uint8Array(0);
    w.dataLocation = 1;
    w.externalData = [{ key: 'location', value: 'weights.bin' }];
    refuse(m, /node "\/conv1_conv\/Conv" \(Conv\) kernel conv1_conv\.weight: its data is in an external file/);
  });

  test('a grouped convolution (ResNeXt)', () => {
    const m = model();
    nodeNamed(m, '/conv3_block1_2_conv/Conv').attributes!.group = 2;
    refuse(m, /node "\/conv3_block1_2_conv\/Conv" \(Conv\) group=2: grouped or depthwise convolutions/);
  });

  test('an op outside a ResNet (preprocessing inside the graph)', () => {
    const m = model();
    m.initializers.push(floatInit('two', Float32Array.of(2), []));
    m.nodes.unshift({ name: '/scale/Mul', op: 'Mul', inputs: ['input', 'two'], outputs: ['scaled'] });
    nodeNamed(m, '/conv1_conv/Conv').inputs[0] = 'scaled';
    refuse(m, /node "\/scale\/Mul" \(Mul\) is not an operation of a torchvision-style ResNet/);
  });

  test('two outputs, a non-float input, nodes out of order', () => {
    const two = model();
    two.nodes.push({ name: '/extra/Identity', op: 'Identity', inputs: ['logits'], outputs: ['copy'] });
    two.extraOutputs = [{ name: 'copy', dims: ['batch', 10] }];
    refuse(two, /the model has 2 outputs \(logits, copy\); expected one, the class scores/);
    const bytes = model();
    bytes.inputType = 2; // UINT8
    refuse(bytes, /input input must be a float32 tensor, got UINT8/);
    const unsorted = model();
    unsorted.nodes.reverse();
    refuse(unsorted, /reads ".*", which no earlier node, initializer or graph input produces \(nodes must be in topological order\)/);
  });

  test('a side branch off the residual stream', () => {
    const m = model();
    const out = nodeNamed(m, '/conv3_block1_out/Relu').outputs[0]!;
    m.nodes.push({ name: '/probe/Relu', op: 'Relu', inputs: [out], outputs: ['probe'] });
    refuse(m, /\(Conv\) a residual block input must feed exactly two branches, conv3_block1_out feeds 3/);
  });

  test('not an ONNX file', () => {
    assert.throws(() => importOnnxResNet(new TextEncoder().encode('hello world, not a model'), { source: 'x.onnx' }), /x\.onnx: not an ONNX model/);
  });
});
