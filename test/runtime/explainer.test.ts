/**
 * The platform-free core (bytes → model → Explainer on an injected runtime), here with
 * onnxruntime-node as the runtime, reproduces the reference fixture (the browser test checks
 * onnxruntime-web against Node), and its K classes from one forward pass equal K single runs.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { Explainer } from '../../src/runtime/explainer.js';
import { nodeRuntime } from '../../src/runtime/session.js';
import { classNames } from '../../src/model/labels.js';
import { outputUnits } from '../../src/onnx/classifier.js';
import { isOnnxBytes, modelFromBytes } from '../../src/weights/from-bytes.js';
import { readKerasH5 } from '../../src/weights/keras-h5.js';
import type { LrpResult } from '../../src/runtime/types.js';
import { expected, fixtureArray, fixtureInput, fixtureRules, FIXTURE_WEIGHTS, relativeL2, tvInput, tvPath } from '../support/fixture.js';

test('Explainer from bytes on nodeRuntime reproduces the w8 fixture (logits, relevance, trace, batch)', async () => {
  const bytes = new Uint8Array(await readFile(FIXTURE_WEIGHTS));
  assert.equal(isOnnxBytes(bytes), false);
  const { graph, weights, format } = await modelFromBytes(bytes, { label: 'w8.h5', readKeras: readKerasH5 });
  assert.equal(format, 'keras');
  const reference = expected.configs['symmetric']!;
  const core = await Explainer.create(nodeRuntime, { graph, weights, label: 'w8.h5', format, classNames: classNames(outputUnits(graph)), rules: fixtureRules(reference.config) });
  try {
    // Tolerances of docs/lrp-spec.md: logits 1e-3 absolute, relevance 1e-3 relative L2, trace 1e-4 relative.
    const input = fixtureInput();
    const relevance = fixtureArray('relevance_symmetric.npy').data;
    const logits = fixtureArray('logits.npy').data;
    const result = await core.computeLrp(input, { debug: true });
    assert.equal(result.classIndex, expected.target);
    assert.equal(result.targetClass, expected.target);
    for (let k = 0; k < logits.length; k++) assert.ok(Math.abs(result.logits[k]! - logits[k]!) < 1e-3, `logit ${k}`);
    assert.ok(relativeL2(result.relevance.data, relevance) <= 1e-3, 'relevance');
    assert.deepEqual(result.trace!.map((t) => t.name), reference.trace.map(([name]) => name));
    result.trace!.forEach((t, i) => assert.ok(Math.abs(t.sum - reference.trace[i]![1]) <= 1e-4 * Math.abs(reference.trace[i]![1]), `trace ${t.name}`));
    const [p] = await core.predict(input);
    assert.equal(p!.classIndex, expected.target);
    // A batch: the same image with another target first (it must not leak into the second).
    const other = expected.top5[1]!;
    const batch = await core.computeLrpBatch([input, input], { classIndices: [other, undefined] });
    assert.equal(batch[0]!.targetClass, other);
    assert.equal(batch[1]!.targetClass, expected.target);
    assert.ok(relativeL2(batch[1]!.relevance.data, relevance) <= 1e-3, 'batched relevance');
    assert.ok(relativeL2(batch[0]!.relevance.data, relevance) > 1e-2, 'another class gives another map');
    await assert.rejects(core.computeLrp(new Float32Array(5)), /input has 5 values/);
  } finally {
    await core.dispose();
  }
});

test('modelFromBytes names the file for bytes that are neither HDF5 nor ONNX', async () => {
  await assert.rejects(modelFromBytes(new TextEncoder().encode('hello'), { label: 'x.h5', readKeras: readKerasH5 }), /^Error: x\.h5: not an HDF5 file/);
  await assert.rejects(modelFromBytes(new Uint8Array(0), { label: 'empty.onnx', readKeras: readKerasH5 }), /empty\.onnx: the file is empty/);
});

/** The core on nodeRuntime for the torchvision-layout ResNet18 fixture (CHW input, basic blocks). */
async function tvCore(rules?: { start: 'softmax-predicted' }): Promise<Explainer> {
  const bytes = new Uint8Array(await readFile(tvPath('tv-resnet18-w4', 'model.onnx')));
  const { graph, weights, format } = await modelFromBytes(bytes, { label: 'model.onnx', readKeras: readKerasH5 });
  return Explainer.create(nodeRuntime, { graph, weights, label: 'model.onnx', format, classNames: classNames(outputUnits(graph)), ...(rules ? { rules } : {}) });
}

function assertSameAsSingle(several: LrpResult, single: LrpResult, what: string): void {
  assert.equal(several.targetClass, single.targetClass, what);
  assert.deepEqual(several.logits, single.logits, what);
  assert.equal(several.relevance.layout, 'CHW', what);
  const rel = relativeL2(several.relevance.data, single.relevance.data);
  assert.ok(rel <= 1e-5, `${what}: relevance differs from the single run by rel. L2 ${rel}`);
  assert.ok(relativeL2(several.attribution.data, single.attribution.data) <= 1e-5, `${what}: attribution`);
  assert.ok(Math.abs(several.startRelevance - single.startRelevance) <= 1e-6 * Math.abs(single.startRelevance), `${what}: start relevance`);
  assert.ok(Math.abs(several.conservationError! - single.conservationError!) <= 1e-5, `${what}: conservation error`);
}

test('Explainer on nodeRuntime: classIndices and topK from one forward pass equal single-class runs', async () => {
  const core = await tvCore();
  try {
    const input = tvInput('tv-resnet18-w4');
    const classes = [206, 7, 44];
    const several = await core.computeLrp(input, { classIndices: classes, debug: true });
    assert.equal(several.length, classes.length);
    const singles = new Map<number, LrpResult>();
    for (const c of new Set(classes)) singles.set(c, await core.computeLrp(input, { classIndex: c, debug: true }));
    for (const [k, c] of classes.entries()) assertSameAsSingle(several[k]!, singles.get(c)!, `classIndices[${k}] = ${c}`);
    assert.ok(relativeL2(several[0]!.attribution.data, several[1]!.attribution.data) > 0.01, 'two classes gave the same map');
    assert.equal(several[0]!.trace, undefined);

    const top = await core.computeLrp(input, { topK: 2, debug: true });
    const logits = Array.from(top[0]!.logits);
    const expected = logits.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, 2).map(([, i]) => i);
    assert.deepEqual(top.map((r) => r.targetClass), expected);
    for (const r of top) assertSameAsSingle(r, singles.get(r.targetClass) ?? (await core.computeLrp(input, { classIndex: r.targetClass, debug: true })), `top class ${r.targetClass}`);

    await assert.rejects(core.computeLrp(input, { topK: 0 }), { name: 'RangeError', message: 'topK must be an integer in 1..1000 (the model\'s classes), got number 0' });
    await assert.rejects(core.computeLrp(input, { classIndices: [3, 1000] }), /class index 1000 .*out of range/);
  } finally {
    await core.dispose();
  }
  await assert.rejects(core.computeLrp(tvInput('tv-resnet18-w4'), { topK: 1 }), /this model was disposed/);
});

test('Explainer: a start rule that explains the predicted class only refuses other classes, and topK > 1', async () => {
  const core = await tvCore({ start: 'softmax-predicted' });
  try {
    const input = tvInput('tv-resnet18-w4');
    await assert.rejects(core.computeLrp(input, { classIndices: [44] }), /start rule "softmax-predicted" explains the predicted class only .*use start: 'softmax'/);
    await assert.rejects(core.computeLrp(input, { topK: 2 }), /start rule "softmax-predicted" explains the predicted class only: topK must be 1/);
    const [top] = await core.computeLrp(input, { topK: 1 });
    assert.equal(top!.targetClass, top!.classIndex);
  } finally {
    await core.dispose();
  }
});
