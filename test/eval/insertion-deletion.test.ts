/**
 * The metric against the paper's own code: `test/fixtures/insdel/*.json` hold the curves and
 * AUCs that `metrics/patch_insdel.py` computes on the `tv-resnet50-w8` fixture (ONNX, NCHW,
 * torchvision normalisation) for two maps at three settings. Every point and AUC within 1e-4.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { InsertionDeletionEvaluator, evaluateInsertionDeletion } from '../../src/eval/insertion-deletion.js';
import { OnnxClassifier } from '../../src/eval/onnx-classifier.js';
import { decodeNpy } from '../../src/image/npy.js';
import { TORCHVISION_INPUT } from '../../src/model/input.js';
import { createSession, type ort } from '../../src/runtime/session.js';
import { FIXTURES_ROOT } from '../support/fixture.js';

const TV = join(FIXTURES_ROOT, 'tv-resnet50-w8');
const INSDEL = join(FIXTURES_ROOT, 'insdel');
const TOLERANCE = 1e-4;

interface MapReference {
  insertion: number;
  deletion: number;
  pid: number;
  insertion_curve: number[];
  deletion_curve: number[];
}
interface Reference {
  label: number;
  patch: number;
  step: number;
  quantize: number;
  maps: Record<string, MapReference>;
}

const npy = (path: string) => decodeNpy(readFileSync(path));

/**
 * relevance_default (1, 3, 224, 224) summed over channels, and the random map. The reference
 * summed in float64: in float32 two pixels tie exactly at step 73 of (p=1, step=500), and ties
 * are all inserted, which moves that one point by 0.01 — so the sum stays float64 here.
 */
function fixtureMaps(): Record<string, Float32Array | Float64Array> {
  const relevance = npy(join(TV, 'relevance_default.npy')).data;
  const plane = 224 * 224;
  const summed = new Float64Array(plane);
  for (let i = 0; i < plane; i++) summed[i] = relevance[i]! + relevance[plane + i]! + relevance[2 * plane + i]!;
  return { relevance_default: summed, random_map: Float32Array.from(npy(join(INSDEL, 'random_map.npy')).data) };
}

function maxAbs(a: readonly number[], b: readonly number[]): number {
  assert.equal(a.length, b.length, 'curve length');
  return Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));
}

describe('patch insertion / deletion against the paper’s metric code', () => {
  let session: ort.InferenceSession;
  let classifier: OnnxClassifier;
  const input = Float32Array.from(npy(join(TV, 'input_nchw.npy')).data);
  const maps = fixtureMaps();

  before(async () => {
    session = await createSession(readFileSync(join(TV, 'model.onnx')));
    classifier = new OnnxClassifier(session, { inputDescription: TORCHVISION_INPUT, input: 'input', output: 'logits', classes: 1000 });
  });
  after(async () => session.release());

  for (const file of readdirSync(INSDEL).filter((f) => f.endsWith('.json')).sort()) {
    const reference: Reference = JSON.parse(readFileSync(join(INSDEL, file), 'utf8'));
    test(`${file}: every curve point and AUC within ${TOLERANCE}`, async () => {
      const evaluator = await InsertionDeletionEvaluator.create(classifier, {
        patch: reference.patch,
        step: reference.step,
        quantize: reference.quantize === 0 ? false : reference.quantize,
        batchSize: 32,
      });
      try {
        for (const [name, expected] of Object.entries(reference.maps)) {
          const forwardBefore = evaluator.stats.forwardImages;
          const result = await evaluator.evaluate(input, maps[name]!, reference.label);
          const steps = Math.ceil((224 / reference.patch) ** 2 / reference.step);
          assert.equal(result.insertionCurve.length, steps, `${name}: points`);
          assert.equal(evaluator.stats.forwardImages - forwardBefore, 2 * steps, `${name}: forward passes`);
          const errors = {
            insertionCurve: maxAbs(result.insertionCurve, expected.insertion_curve),
            deletionCurve: maxAbs(result.deletionCurve, expected.deletion_curve),
            insertion: Math.abs(result.insertion - expected.insertion),
            deletion: Math.abs(result.deletion - expected.deletion),
            pid: Math.abs(result.pid - expected.pid),
          };
          for (const [what, error] of Object.entries(errors)) assert.ok(error <= TOLERANCE, `${file} ${name} ${what}: max abs error ${error}`);
          console.log(`# ${file} ${name}: max abs error ${JSON.stringify(Object.fromEntries(Object.entries(errors).map(([k, v]) => [k, Number(v.toExponential(2))])))}`);
        }
      } finally {
        await evaluator.dispose();
      }
    });
  }

  test('the target defaults to the predicted class (the fixture’s label is its prediction)', async () => {
    const result = await evaluateInsertionDeletion(classifier, input, maps.random_map!, { patch: 16, step: 49 });
    assert.equal(result.target, 327);
    assert.equal(result.insertionCurve.length, 4);
  });

  test('bad options and inputs are refused with a clear message', async () => {
    await assert.rejects(evaluateInsertionDeletion(classifier, input, maps.random_map!, { patch: 5 }), /patch size must be .* divides the image side 224/);
    await assert.rejects(evaluateInsertionDeletion(classifier, input, maps.random_map!, { step: 50176 }), /fewer than 2 steps/);
    await assert.rejects(evaluateInsertionDeletion(classifier, input, new Float32Array(100)), /map has 100 values, expected 224×224/);
    await assert.rejects(evaluateInsertionDeletion(classifier, input.subarray(1), maps.random_map!), /Float32Array of 150528 values/);
    await assert.rejects(evaluateInsertionDeletion(classifier, input, maps.random_map!, { target: 1000 }), /target class 1000 is out of range/);
  });
});
