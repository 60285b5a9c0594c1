/**
 * The attribution methods of the evaluation: LRP methods reproduce the reference relevance of
 * their preset, the random baseline is seeded, uniform and independent of batching.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { conservationOf, createMethod, methodNames, type MethodContext } from '../../src/eval/methods.js';
import { classifierFromModel } from '../../src/eval/model-classifier.js';
import { contextFromModel } from '../../src/eval/model-context.js';
import { randomModel } from '../../src/weights/random.js';
import { buildResNet, kerasResNetSpec } from '../../src/model/resnet.js';
import { LrpModel } from '../../src/lrp-model.js';
import type { LrpOptions } from '../../src/lrp/presets.js';
import { CAFFE_INPUT } from '../../src/model/input.js';
import { expected, FIXTURE_WEIGHTS, fixtureArray, fixtureInput, relativeL2, tvExpected, tvInput, tvPath } from '../support/fixture.js';

const input = fixtureInput();

/**
 * A method context on the model in `weights` for the tests of the enclosing describe: loaded
 * before them (other rules load on demand), disposed after them.
 */
function contextFor(weights: string): () => MethodContext {
  const loaded: LrpModel[] = [];
  const load = async (rules: LrpOptions) => {
    const model = await LrpModel.load({ weights, rules });
    loaded.push(model);
    return model;
  };
  let context: MethodContext;
  before(async () => {
    context = contextFromModel(await load({}), { loadLrp: load });
  });
  after(async () => Promise.all(loaded.map((m) => m.dispose())));
  return () => context;
}

describe('LRP methods on the w8 fixture', () => {
  const context = contextFor(FIXTURE_WEIGHTS);

  for (const [method, config] of [['lrp', 'default'], ['lrp-symmetric', 'symmetric']] as const) {
    test(`${method}: map and relevance are the reference's ${config} relevance (rel. L2 ≤ 1e-3)`, async () => {
      const m = await createMethod(method, context());
      assert.equal(m.name, method);
      const other = expected.target === 0 ? 1 : 0;
      const [own, second] = await m.attribute([input, input], [expected.target, other]);
      const reference = fixtureArray(`relevance_${config}.npy`).data;
      assert.ok(relativeL2(own!.relevance!, reference) <= 1e-3, 'relevance');
      const summed = Float64Array.from({ length: 224 * 224 }, (_, p) => reference[3 * p]! + reference[3 * p + 1]! + reference[3 * p + 2]!);
      assert.ok(relativeL2(own!.map, summed) <= 1e-3, 'map = relevance summed over channels');
      // The second image explains another class: a different map.
      assert.ok(relativeL2(second!.map, summed) > 1e-2, 'target honoured');
    });
  }
});

describe('conservation (Σ input relevance / start relevance) on the tv-resnet18-w4 fixture', () => {
  const fixture = 'tv-resnet18-w4';
  const reference = tvExpected(fixture);
  const logit = reference.logit;
  const image = tvInput(fixture);
  const context = contextFor(tvPath(fixture, 'model.onnx'));

  // The reference's input relevance sums over its logit: 1.0000 for the ratio split, 0.8946 for the symmetric one.
  for (const [method, config] of [['lrp', 'default'], ['lrp-symmetric', 'symmetric']] as const) {
    test(`${method}: the reference's ${config} input sum / logit`, async () => {
      const [a] = await (await createMethod(method, context())).attribute([image], [reference.target]);
      const want = reference.configs[config]!.input_sum / logit;
      const got = conservationOf(a!)!;
      assert.ok(Math.abs(got - want) < 1e-4, `${method}: ${got} vs ${want}`);
    });
  }

  test('the gradient methods are measured against the target logit; Grad-CAM and random have no input relevance', async () => {
    for (const name of ['gradient', 'gradxinput', 'gbp', 'ig']) {
      const method = await createMethod(name, context());
      try {
        const [a] = await method.attribute([image], [reference.target]);
        assert.ok(Math.abs(a!.start! - logit) < 1e-4 * Math.abs(logit), `${name}: start ${a!.start} is the logit ${logit}`);
        let sum = 0;
        for (const v of a!.relevance!) sum += v;
        assert.ok(Math.abs(conservationOf(a!)! - sum / logit) < 1e-6, name);
      } finally {
        await method.dispose();
      }
    }
    for (const name of ['gradcam', 'random']) {
      const method = await createMethod(name, context());
      try {
        const [a] = await method.attribute([image], [reference.target]);
        assert.equal(conservationOf(a!), null, name);
      } finally {
        await method.dispose();
      }
    }
  });
});

describe('random method', () => {
  const context: MethodContext = {
    inputDescription: CAFFE_INPUT,
    graph: randomModel(buildResNet(kerasResNetSpec(50))).graph,
    loadLrp: () => Promise.reject(new Error('not needed')),
    compileExplainer: () => Promise.reject(new Error('not needed')),
  };
  let other: Float32Array;
  before(() => {
    other = input.slice();
    other[12345] = other[12345]! + 1;
  });

  test('uniform in [0, 1), seeded by seed and image, independent of batching', async () => {
    const random = await createMethod('random', context);
    const [a, b] = await random.attribute([input, other], [0, 0]);
    const [alone] = await random.attribute([other], [5]);
    assert.deepEqual(alone!.map, b!.map, 'same image, same map, whatever the batch and target');
    assert.notDeepEqual(a!.map, b!.map, 'another image, another map');
    const reseeded = await createMethod('random', { ...context, seed: 1 });
    assert.notDeepEqual((await reseeded.attribute([input], [0]))[0]!.map, a!.map, 'another seed, another map');
    const map = a!.map;
    assert.equal(map.length, 224 * 224);
    let sum = 0;
    let min = Infinity;
    let max = -Infinity;
    for (const v of map) {
      sum += v;
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    assert.ok(min >= 0 && max < 1, `range [${min}, ${max}]`);
    // Mean of 50 176 uniforms: 0.5 ± 0.0013 (1 s.d.); 5 s.d. bound.
    assert.ok(Math.abs(sum / map.length - 0.5) < 0.0065, `mean ${sum / map.length}`);
    assert.equal(a!.relevance, undefined, 'no per-channel relevance');
  });

  test('the registry lists every method, and rejects unknown names', async () => {
    for (const name of ['lrp', 'lrp-symmetric', 'gradient', 'gradxinput', 'ig', 'gbp', 'gradcam', 'random']) assert.ok(methodNames().includes(name), name);
    await assert.rejects(createMethod('smoothgrad', context), /unknown method "smoothgrad" \(methods: lrp, .*gradcam, random\)/);
  });
});

test('classifierFromModel: the softmax of the reference logits, image by image in a batch', async () => {
  const model = await LrpModel.load({ weights: FIXTURE_WEIGHTS });
  try {
    const classifier = classifierFromModel(model);
    assert.equal(classifier.classes, 1000);
    assert.equal(classifier.inputDescription.layout, 'NHWC');
    // Another image first, so the fixture's probabilities must come from the second slot.
    const batch = new Float32Array(2 * input.length);
    batch.fill(-100, 0, input.length);
    batch.set(input, input.length);
    const p = await classifier.probabilities(batch, 2);
    assert.equal(p.length, 2000);
    const logits = fixtureArray('logits.npy').data;
    const max = Math.max(...logits);
    const total = logits.reduce((sum, v) => sum + Math.exp(v - max), 0);
    for (let k = 0; k < 1000; k++) {
      const reference = Math.exp(logits[k]! - max) / total;
      assert.ok(Math.abs(p[1000 + k]! - reference) < 1e-5, `class ${k}: ${p[1000 + k]} vs ${reference}`);
    }
    const first = p.subarray(0, 1000).reduce((sum, v) => sum + v, 0);
    assert.ok(Math.abs(first - 1) < 1e-5, `the first image's probabilities sum to ${first}`);
    assert.ok(relativeL2(p.subarray(0, 1000), p.subarray(1000)) > 1e-2, 'the two images are not mixed up');
  } finally {
    await model.dispose();
  }
});
