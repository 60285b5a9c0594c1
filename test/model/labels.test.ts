import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classNames, IMAGENET_CLASS_COUNT, imagenetLabels, topK } from '../../src/model/labels.js';

describe('imagenetLabels', () => {
  it('has the 1000 class names in Keras order', () => {
    const labels = imagenetLabels();
    assert.equal(labels.length, IMAGENET_CLASS_COUNT);
    assert.equal(labels[0], 'tench, Tinca tinca');
    assert.equal(labels[281], 'tabby, tabby cat');
    assert.equal(labels[282], 'tiger cat');
    assert.equal(labels[285], 'Egyptian cat');
    assert.match(labels[999]!, /^toilet tissue/);
    assert.ok(labels.every((l) => typeof l === 'string' && l.length > 0));
  });

  it('is loaded once and cannot be modified', () => {
    const labels = imagenetLabels();
    assert.equal(imagenetLabels(), labels);
    assert.ok(Object.isFrozen(labels));
  });
});

describe('topK', () => {
  it('returns the k most probable classes, best first, with ImageNet names', () => {
    const p = new Float32Array(1000).fill(0.0001);
    p[281] = 0.6;
    p[282] = 0.25;
    p[285] = 0.1;
    assert.deepEqual(topK(p, 3), [
      { classIndex: 281, className: 'tabby, tabby cat', probability: Math.fround(0.6) },
      { classIndex: 282, className: 'tiger cat', probability: Math.fround(0.25) },
      { classIndex: 285, className: 'Egyptian cat', probability: Math.fround(0.1) },
    ]);
  });

  it('breaks ties by class index, ranks NaN last and caps k at the class count', () => {
    const p = Float32Array.from([0.2, NaN, 0.5, 0.2, -1]);
    const names = ['a', 'b', 'c', 'd', 'e'];
    assert.deepEqual(
      topK(p, 10, names).map((s) => s.className),
      ['c', 'a', 'd', 'e', 'b'],
    );
  });

  it('validates k and the labels', () => {
    const p = new Float32Array(3);
    assert.throws(() => topK(p, 0, ['a', 'b', 'c']), /k must be a positive integer/);
    assert.throws(() => topK(p, 1.5, ['a', 'b', 'c']), /k must be a positive integer/);
    assert.throws(() => topK(p, 1, ['a', 'b']), /3 classes but only 2 labels/);
  });
});

it('classNames: ImageNet names for 1000 classes, generic names for another head', () => {
  assert.equal(classNames(1000), imagenetLabels());
  assert.deepEqual(classNames(3), ['class 0', 'class 1', 'class 2']);
});
