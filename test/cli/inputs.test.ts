import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { IMAGE_EXTENSIONS } from '../../src/cli/explain-options.js';
import { assignOutputNames, expandInputs } from '../../src/cli/inputs.js';

const names = (paths: string[]): string[] => assignOutputNames(paths).map((i) => i.name);

test('output names: plain stems unless they collide', () => {
  assert.deepEqual(names(['a/cat.png', 'b/dog.jpg']), ['cat', 'dog']);
  // Different folders: parent folder prefixed, as deep as needed.
  assert.deepEqual(names(['a/cat.png', 'b/cat.png', 'dog.png']), ['a_cat', 'b_cat', 'dog']);
  assert.deepEqual(names(['p/x/cat.png', 'q/x/cat.png']), ['p_x_cat', 'q_x_cat']);
  // Same folder, different extension; case-insensitive file systems count too.
  assert.deepEqual(names(['cat.png', 'cat.JPG']), ['cat_png', 'cat_JPG']);
  assert.deepEqual(names(['a/Cat.png', 'b/cat.png']), ['a_Cat', 'b_cat']);
  // Both at once.
  assert.deepEqual(names(['a/cat.png', 'a/cat.jpg', 'b/cat.png']), ['a_cat_png', 'a_cat_jpg', 'b_cat']);
  // A name that equals another's disambiguated one.
  const tricky = names(['a/cat.png', 'b/cat.png', 'x/a_cat.png']);
  assert.equal(new Set(tricky.map((n) => n.toLowerCase())).size, 3, tricky.join(' '));
  // Independent of order (so --resume finds the same names).
  assert.deepEqual(names(['b/cat.png', 'a/cat.png']), ['b_cat', 'a_cat']);
});

test('inputs: folders expanded to images (by extension, any case, sorted), files kept, duplicates dropped', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'resnet-lrp-inputs-'));
  try {
    for (const f of ['b.PNG', 'a.jpg', 'c.txt', 'd.webp', 'e.tiff']) await writeFile(join(dir, f), 'x');
    await mkdir(join(dir, 'sub.png')); // a folder named like an image is not an image
    await writeFile(join(dir, 'sub.png', 'deep.png'), 'x'); // not recursive
    await symlink(join(dir, 'a.jpg'), join(dir, 'link.gif'));
    await mkdir(join(dir, 'empty'));
    const { files, emptyFolders } = await expandInputs([dir, join(dir, 'a.jpg'), join(dir, 'c.txt'), join(dir, 'missing.png'), join(dir, 'empty')], IMAGE_EXTENSIONS);
    assert.deepEqual(files, [...['a.jpg', 'b.PNG', 'd.webp', 'e.tiff', 'link.gif', 'c.txt', 'missing.png'].map((f) => join(dir, f))]);
    assert.deepEqual(emptyFolders, [join(dir, 'empty')]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
