/** Labels: WordNet ids, class indices, mapping files, class folders, and the deterministic selection. */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { collectImages, selectImages } from '../../src/cli/evaluate-inputs.js';
import { imagenetWnids, labelOf, parseClassName, readLabelFile } from '../../src/eval/labels.js';
import { imagenetLabels } from '../../src/model/labels.js';

let tmp: string;
before(async () => (tmp = await mkdtemp(join(tmpdir(), 'resnet-lrp-labels-'))));
after(() => rm(tmp, { recursive: true, force: true }));

test('the 1000 WordNet ids follow the class order of the labels', () => {
  const wnids = imagenetWnids();
  assert.equal(wnids.size, 1000);
  // Spot checks against the class names (same index, same concept).
  for (const [wnid, index, name] of [['n01440764', 0, 'tench'], ['n02123045', 281, 'tabby'], ['n15075141', 999, 'toilet tissue']] as const) {
    assert.equal(wnids.get(wnid), index);
    assert.match(imagenetLabels()[index]!, new RegExp(name));
  }
  assert.equal(parseClassName('n02123045', 1000), 281);
  assert.equal(parseClassName('n02123045', 10), undefined, 'WordNet ids only for 1000-class models');
  assert.equal(parseClassName('7', 10), 7);
  assert.equal(parseClassName('10', 10), undefined);
  assert.equal(parseClassName('cats', 1000), undefined);
});

test('label files: CSV with a header (ImageNet’s LOC_val_solution.csv), plain CSV, JSON; errors name the line', async () => {
  const loc = join(tmp, 'LOC_val_solution.csv');
  await writeFile(loc, 'ImageId,PredictionString\nILSVRC2012_val_00000001,n01751748 111 0 500 375 n01751748 1 2 3 4\nILSVRC2012_val_00000002,n09193705 31 59 500 375\n');
  const table = await readLabelFile(loc, 1000);
  assert.equal(labelOf(table, 'val/ILSVRC2012_val_00000001.JPEG'), 65);
  assert.equal(labelOf(table, 'ILSVRC2012_val_00000002.JPEG'), 970);
  const plain = join(tmp, 'plain.csv');
  await writeFile(plain, 'a/cat.png,281\ndog.jpg,n02085620\n');
  const t2 = await readLabelFile(plain, 1000);
  assert.equal(labelOf(t2, 'a/cat.png'), 281);
  assert.equal(labelOf(t2, 'b/cat.png'), undefined, 'a path key matches that path only');
  assert.equal(labelOf(t2, 'x/dog.jpg'), 151);
  const json = join(tmp, 'labels.json');
  await writeFile(json, JSON.stringify({ 'cat.png': 281, 'dog.jpg': 'n02085620' }));
  assert.equal(labelOf(await readLabelFile(json, 1000), 'photos/cat.png'), 281);
  await writeFile(plain, 'cat.png,281\ndog.jpg,1000\n');
  await assert.rejects(readLabelFile(plain, 1000), /plain\.csv line 2: "1000" is not a class of the model/);
});

test('class folders label their images; selection by class, limit and shard is deterministic and complete', async () => {
  const root = join(tmp, 'val');
  const files = [['n01440764', 'a.png'], ['n01440764', 'b.png'], ['n01440764', 'c.png'], ['1', 'd.png'], ['1', 'e.png'], ['misc', 'f.png']] as const;
  for (const [dir, file] of files) {
    await mkdir(join(root, dir), { recursive: true });
    await writeFile(join(root, dir, file), '');
  }
  await writeFile(join(root, 'loose.png'), '');
  const { images } = await collectImages([root], { extensions: ['.png'], classes: 1000 });
  // `misc` is no class: not expanded. Loose images first, then the class folders by name.
  assert.deepEqual(images.map((i) => [i.path.slice(root.length + 1), i.label]), [
    ['loose.png', undefined], ['1/d.png', 1], ['1/e.png', 1], ['n01440764/a.png', 0], ['n01440764/b.png', 0], ['n01440764/c.png', 0],
  ]);
  const { selected, total } = selectImages(images, { perClass: 2 });
  assert.equal(total, 5);
  assert.deepEqual(selected.map((i) => i.index), [0, 1, 2, 3, 4]);
  const shards = [0, 1, 2].map((index) => selectImages(images, { perClass: 2, limit: 4, shard: { index, count: 3 } }).selected);
  assert.deepEqual(shards.map((s) => s.map((i) => i.index)), [[0, 3], [1], [2]]);
  assert.deepEqual(shards.flat().map((i) => i.path).sort(), selectImages(images, { perClass: 2, limit: 4 }).selected.map((i) => i.path).sort());
});

test('a labels file that lists one image twice with different labels is refused; the same label twice is fine (issue 14, item 11)', async () => {
  const conflicting = join(tmp, 'twice.csv');
  await writeFile(conflicting, 'image,label\ncat.jpg,281\ndog.jpg,207\ncat.jpg,285\n');
  await assert.rejects(readLabelFile(conflicting, 1000), { message: `${conflicting} line 4: "cat.jpg" is listed again with another label (285, before 281)` });
  const repeated = join(tmp, 'repeated.csv');
  await writeFile(repeated, 'cat.jpg,281\ncat.jpg,n02123045\n');
  assert.equal((await readLabelFile(repeated, 1000)).get('cat.jpg'), 281);
});
