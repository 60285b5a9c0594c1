/**
 * The ONNX importer on files written here the way torch.onnx.export writes them: every
 * variant (BN folded or kept, Gemm or MatMul head, GlobalAveragePool or ReduceMean, opsets
 * 11–18, fixed or dynamic batch, any names, any class count, basic or bottleneck blocks)
 * computes the same logits as the graph it was written from, with the file's own node names;
 * what the rules do not cover is refused before any output, naming the node, its op and the
 * reason.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import onnxProto from 'onnx-proto';
import type { ModelGraph, ModelWeights } from '../../src/graph/graph.js';
import { layersToGraph } from '../../src/import/keras.js';
import { importOnnx, OnnxImportError } from '../../src/import/onnx.js';
import type { LayerGraph } from '../../src/model/layers.js';
import { TORCHVISION_INPUT } from '../../src/model/input.js';
import { buildResNet, kerasResNetSpec, TORCH_BN_EPSILON, type ResNetSpec } from '../../src/model/resnet.js';
import { compileForwardModel, IO } from '../../src/onnx/classifier.js';
import { compileExplainer } from '../../src/lrp/compiler.js';
import { resolveLrpOptions } from '../../src/lrp/presets.js';
import { createSession, ort } from '../../src/runtime/session.js';
import { randomWeights } from '../../src/weights/random.js';
import type { LayerWeights } from '../../src/weights/types.js';
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
const basicModel = layersToGraph(basic, basicWeights);
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

/** How many nodes of each op a graph has (torch pads implicitly, so Pad is left out). */
function opCounts(graph: ModelGraph): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const n of graph.nodes) if (n.op !== 'Pad') counts[n.op] = (counts[n.op] ?? 0) + 1;
  return counts;
}

describe('supported exports', () => {
  const variants: [string, LayerGraph, LayerWeights, TorchOnnxOptions][] = [
    ['basic blocks, BN folded, Flatten + Gemm, opset 13', basic, basicWeights, {}],
    ['basic blocks, BN kept, opset 11, fixed batch, other names', basic, basicWeights, { foldBn: false, opset: 11, batch: 1, inputName: 'x', outputName: 'y' }],
    ['basic blocks, Reshape + MatMul + Add head, ReduceMean, opset 17', basic, basicWeights, { head: 'matmul', pool: 'reducemean', opset: 17 }],
    ['bottleneck blocks, BN kept, ReduceMean with axes input (opset 18), 7 classes', bottleneck, bottleneckWeights, { foldBn: false, pool: 'reducemean', opset: 18 }],
    ['bottleneck blocks, BN folded, MatMul head, opset 12', bottleneck, bottleneckWeights, { head: 'matmul', opset: 12 }],
  ];
  for (const [name, layers, layerWeights, options] of variants) {
    test(name, async () => {
      const { graph, weights } = layersToGraph(layers, layerWeights);
      const imported = importOnnx(torchvisionOnnx(layers, layerWeights, options), { source: 'model.onnx' });
      const g = imported.graph;
      // The same nodes, without the BatchNorms that a folded export merged into the convs; the
      // head's Flatten/Reshape is a Reshape, its MatMul + Add one Gemm, ReduceMean a global pool.
      const expected = opCounts(graph);
      if (options.foldBn !== false) delete expected.BatchNormalization;
      expected.Reshape = 1;
      assert.deepEqual(opCounts(g), expected);
      assert.equal(g.inputDescription.layout, 'NCHW');
      assert.equal(g.inputDescription.size, SIZE);
      assert.deepEqual(g.inputDescription.mean, TORCHVISION_INPUT.mean);
      assert.equal(imported.file.input, options.inputName ?? 'input');
      assert.equal(imported.file.output, options.outputName ?? 'logits');
      assert.equal(imported.file.batch, options.batch ?? 'dynamic');
      const [ours, reference] = [await logits(g, imported.weights), await logits(graph, weights)];
      for (let i = 0; i < reference.length; i++) assert.ok(Math.abs(ours[i]! - reference[i]!) < 1e-4, `logit ${i}: ${ours[i]} vs ${reference[i]}`);
    });
  }

  test('nodes keep the file\'s names; the graph is named as in the file', () => {
    const bytes = readFileSync(tvPath('tv-resnet18-w4', 'model_bn.onnx'));
    const { graph, file } = importOnnx(bytes);
    assert.deepEqual(file, { input: 'x', output: 'y', opset: 11, batch: 1 });
    const fileNodes = new Set(onnxProto.onnx.ModelProto.decode(bytes).graph!.node!.map((n) => n.name));
    for (const node of graph.nodes) assert.ok(fileNodes.has(node.name), `${node.name} is a node of the file`);
    assert.equal(graph.nodes.filter((n) => n.op === 'Conv').length, 20);
    assert.equal(graph.nodes.filter((n) => n.op === 'Add').length, 8);
  });

  test('input description: torchvision by default, overridable except the layout', () => {
    const bytes = torchvisionOnnx(basic, basicWeights);
    const own = importOnnx(bytes).graph.inputDescription;
    assert.deepEqual({ ...own, resize: undefined }, { ...TORCHVISION_INPUT, size: SIZE, resize: undefined });
    const changed = importOnnx(bytes, { input: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], resize: { fit: 'resize' } } }).graph.inputDescription;
    assert.deepEqual(changed.mean, [0.5, 0.5, 0.5]);
    assert.deepEqual(changed.resize, { fit: 'resize' });
    assert.equal(changed.layout, 'NCHW');
    assert.throws(() => importOnnx(bytes, { input: { size: 64 } }), /size 64×64 was asked for, but input input is fixed at 32×32/);
  });
});

describe('canonicalisation: what the importer folds away', () => {
  const model = (options: TorchOnnxOptions = {}) => torchvisionModel(basic, basicWeights, options);
  const nodeNamed = (m: TorchModel, name: string) => m.nodes.find((n) => n.name === name)!;
  const run = async (m: TorchModel, input = image) => {
    const { graph, weights } = importOnnx(encodeModel(m));
    const session = await createSession(compileForwardModel(graph, weights));
    try {
      const out = await session.run({ [IO.input]: new ort.Tensor('float32', input, [1, 3, SIZE, SIZE]) });
      return { graph, logits: out[IO.logits]!.data as Float32Array };
    } finally {
      await session.release();
    }
  };

  test('normalisation applied to the input inside the graph becomes the input description', async () => {
    const m = model();
    m.initializers.push(floatInit('mean', Float32Array.of(0.5, 0.25, 0.125), [1, 3, 1, 1]), floatInit('std', Float32Array.of(2, 4, 0.5), [1, 3, 1, 1]));
    m.nodes.unshift(
      { name: '/norm/Sub', op: 'Sub', inputs: ['input', 'mean'], outputs: ['centred'] },
      { name: '/norm/Div', op: 'Div', inputs: ['centred', 'std'], outputs: ['normalised'] },
    );
    nodeNamed(m, '/conv1_conv/Conv').inputs[0] = 'normalised';
    const pixels = image.map((v) => (v + 2) / 4);
    const mean = [0.5, 0.25, 0.125];
    const std = [2, 4, 0.5];
    const normalised = pixels.map((v, i) => (v - mean[Math.floor(i / (SIZE * SIZE))]!) / std[Math.floor(i / (SIZE * SIZE))]!);
    const { graph, logits: folded } = await run(m, normalised);
    assert.ok(!graph.nodes.some((n) => n.op === 'Sub' || n.op === 'Div'));
    // The file takes pixels in [0, 1]: (p/255 − mean)/std is the description now.
    const desc = graph.inputDescription;
    assert.equal(desc.scale, 1 / 255);
    assert.deepEqual(desc.mean, mean);
    assert.deepEqual(desc.std, std);
    // Fed the normalised image, the folded graph computes what the file computes on the pixels.
    const session = await ort.InferenceSession.create(encodeModel(m));
    try {
      const out = await session.run({ input: new ort.Tensor('float32', pixels, [1, 3, SIZE, SIZE]) });
      const file = out.logits!.data as Float32Array;
      for (let i = 0; i < file.length; i++) assert.ok(Math.abs(folded[i]! - file[i]!) < 1e-4, `logit ${i}: ${folded[i]} vs ${file[i]}`);
    } finally {
      await session.release();
    }
  });

  test('a side branch the output does not read is left out', async () => {
    const m = model();
    const out = nodeNamed(m, '/conv3_block1_out/Relu').outputs[0]!;
    m.nodes.push({ name: '/probe/Relu', op: 'Relu', inputs: [out], outputs: ['probe'] });
    const { graph } = await run(m);
    assert.ok(!graph.nodes.some((n) => n.name === '/probe/Relu'));
  });

  test('a final Softmax is dropped: the logits are explained', async () => {
    const m = model();
    m.nodes.push({ name: '/softmax/Softmax', op: 'Softmax', inputs: ['logits'], outputs: ['scores'], attributes: { axis: 1 } });
    m.output.name = 'scores';
    const { graph, logits: ours } = await run(m);
    assert.ok(!graph.nodes.some((n) => n.op === 'Softmax'));
    const reference = await logits(basicModel.graph, basicModel.weights);
    for (let i = 0; i < reference.length; i++) assert.ok(Math.abs(ours[i]! - reference[i]!) < 1e-4);
  });

  test('model tensors named like the compiled graph\'s inputs and outputs do not collide with them', async () => {
    const m = model({ inputName: 'target', outputName: 'relevance' });
    const rename = (from: string, to: string) => {
      for (const n of m.nodes) {
        n.inputs = n.inputs.map((i) => (i === from ? to : i));
        n.outputs = n.outputs.map((o) => (o === from ? to : o));
      }
    };
    rename(nodeNamed(m, '/conv1_conv/Conv').outputs[0]!, 'logits');
    rename(nodeNamed(m, '/conv2_block1_out/Relu').outputs[0]!, 'attribution');
    rename(nodeNamed(m, '/conv2_block2_out/Relu').outputs[0]!, 'probabilities');
    const { graph, weights } = importOnnx(encodeModel(m));
    const { logits: ours } = await run(m);
    const reference = await logits(basicModel.graph, basicModel.weights);
    for (let i = 0; i < reference.length; i++) assert.ok(Math.abs(ours[i]! - reference[i]!) < 1e-4);
    const compiled = compileExplainer(graph, weights, resolveLrpOptions({}));
    const session = await createSession(compiled.model);
    try {
      const out = await session.run({ [IO.input]: new ort.Tensor('float32', image, [1, 3, SIZE, SIZE]), [IO.target]: new ort.Tensor('int64', [-1n], [1]) });
      assert.equal((out[IO.relevance]!.data as Float32Array).length, 3 * SIZE * SIZE);
      assert.equal((out[IO.logits]!.data as Float32Array).length, 10);
    } finally {
      await session.release();
    }
  });
});

describe('refusals name the node, its op and why', () => {
  const model = (options: TorchOnnxOptions = {}) => torchvisionModel(basic, basicWeights, options);
  const refuse = (m: TorchModel, pattern: RegExp) => {
    assert.throws(() => importOnnx(encodeModel(m), { source: 'my.onnx' }), (error: unknown) => {
      assert.ok(error instanceof OnnxImportError, String(error));
      assert.match(error.message, /^my\.onnx: /);
      assert.match(error.message, pattern);
      return true;
    });
  };
  const nodeNamed = (m: TorchModel, name: string) => m.nodes.find((n) => n.name === name)!;

  test('a product of two computed tensors that is not a gate', () => {
    const m = model();
    nodeNamed(m, '/conv2_block2/Add').op = 'Mul';
    refuse(m, /node \/conv2_block2\/Add \(Mul\): multiplies two computed tensors \(\[4,8,8\] and \[4,8,8\]\) neither of which is a Sigmoid\/HardSigmoid gate/);
  });

  test('an op without a rule', () => {
    const m = model();
    nodeNamed(m, '/conv1_relu/Relu').op = 'Softplus';
    refuse(m, /node \/conv1_relu\/Relu \(Softplus\): Softplus is not supported \(supported: Conv, Gemm/);
  });

  test('weights in an external data file', () => {
    const m = model();
    const w = m.initializers.find((t) => t.name === 'conv1_conv.weight')!;
    w.rawData = new Uint8Array(0);
    w.dataLocation = 1;
    w.externalData = [{ key: 'location', value: 'weights.bin' }];
    refuse(m, /initializer conv1_conv\.weight: its data is in an external file/);
  });

  test('groups that do not divide the channels', () => {
    const m = model();
    nodeNamed(m, '/conv3_block1_2_conv/Conv').attributes!.group = 3;
    refuse(m, /node \/conv3_block1_2_conv\/Conv \(Conv\): group=3 does not divide its 8 input and 8 output channels/);
  });

  test('absurd attributes: zero strides, negative kernels, huge pads, a window larger than its input', () => {
    const conv = '/conv2_block1_1_conv/Conv';
    const cases: [(m: TorchModel) => void, RegExp][] = [
      [(m) => { nodeNamed(m, conv).attributes!.strides = [0, 0]; }, /strides \[0,0\] must be two integers in 1…65536/],
      [(m) => { nodeNamed(m, '/pool1_pool/MaxPool').attributes!.kernel_shape = [-7, -7]; }, /\(MaxPool\): kernel_shape \[-7,-7\] must be two integers in 1…65536/],
      [(m) => { nodeNamed(m, conv).attributes!.pads = [2 ** 53 + 1, 0, 0, 0]; }, /pads \[.*\] must be four integers in 0…65536/],
      [(m) => { nodeNamed(m, conv).attributes!.dilations = [40, 40]; }, /its 3×3 window \(dilations \[40,40\], pads \[1,1,1,1\]\) does not fit its 8×8 input/],
      [(m) => { nodeNamed(m, conv).attributes!.kernel_shape = [5, 5]; }, /kernel_shape \[5,5\] differs from the kernel's 3×3/],
    ];
    for (const [change, pattern] of cases) {
      const m = model();
      change(m);
      refuse(m, pattern);
    }
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

  test('not an ONNX file', () => {
    assert.throws(() => importOnnx(new TextEncoder().encode('hello world, not a model'), { source: 'x.onnx' }), /x\.onnx: not an ONNX model/);
  });
});
