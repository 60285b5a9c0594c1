/**
 * The platform-free core (bytes → model → Explainer on an injected runtime) gives exactly what
 * LrpResNet gives, here with onnxruntime-node as the runtime (the browser test checks
 * onnxruntime-web against Node).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { LrpResNet } from '../../src/lrp-resnet.js';
import { Explainer } from '../../src/runtime/explainer.js';
import { nodeRuntime } from '../../src/runtime/session.js';
import { classNames } from '../../src/model/labels.js';
import { outputUnits } from '../../src/onnx/classifier.js';
import { isOnnxBytes, modelFromBytes } from '../../src/weights/from-bytes.js';
import { readKerasH5 } from '../../src/weights/keras-h5.js';
import { FIXTURE_WEIGHTS, SAMPLES_DIR } from '../support/fixture.js';

test('Explainer on nodeRuntime equals LrpResNet (same class, map, trace, batch)', async () => {
  const bytes = new Uint8Array(await readFile(FIXTURE_WEIGHTS));
  assert.equal(isOnnxBytes(bytes), false);
  const { graph, weights, format } = await modelFromBytes(bytes, { label: 'w8.h5', readKeras: readKerasH5 });
  assert.equal(format, 'keras');
  const core = await Explainer.create(nodeRuntime, { graph, weights, label: 'w8.h5', format, classNames: classNames(outputUnits(graph)), rules: { preset: 'symmetric' } });
  const model = await LrpResNet.load({ weights: FIXTURE_WEIGHTS, rules: { preset: 'symmetric' } });
  try {
    assert.equal(core.info.rules, model.info.rules);
    assert.deepEqual(core.traceNames, model.traceNames);
    const image = await model.loadImage(join(SAMPLES_DIR, 'coffee.png'));
    const a = await core.computeLrp(image.input, { debug: true, classIndex: 3 });
    const b = await model.computeLrp(image.input, { debug: true, classIndex: 3 });
    assert.equal(a.targetClass, 3);
    assert.equal(a.classIndex, b.classIndex);
    assert.deepEqual(a.attribution.data, b.attribution.data);
    assert.deepEqual(a.trace, b.trace);
    const [p] = await core.predict(image.input);
    assert.equal(p!.classIndex, b.classIndex);
    const batch = await core.computeLrpBatch([image.input, image.input], { classIndices: [undefined, 3] });
    assert.equal(batch[0]!.targetClass, b.classIndex);
    assert.deepEqual(batch[1]!.attribution.data, b.attribution.data);
    await assert.rejects(core.computeLrp(new Float32Array(5)), /input has 5 values/);
  } finally {
    await core.dispose();
    await model.dispose();
  }
});

test('modelFromBytes names the file for bytes that are neither HDF5 nor ONNX', async () => {
  await assert.rejects(modelFromBytes(new TextEncoder().encode('hello'), { label: 'x.h5', readKeras: readKerasH5 }), /^Error: x\.h5: not an HDF5 file/);
  await assert.rejects(modelFromBytes(new Uint8Array(0), { label: 'empty.onnx', readKeras: readKerasH5 }), /empty\.onnx: the file is empty/);
});
