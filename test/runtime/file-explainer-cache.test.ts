/**
 * The compile cache (src/runtime/file-explainer-cache.ts): a miss compiles and keeps the
 * optimised graph, a hit gives bit-identical results, a corrupt entry is detected and rebuilt,
 * two processes storing the same entry leave one whole entry, and the least recently used
 * entries are evicted beyond the size bound.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { LrpModel } from '../../src/lrp-model.js';
import { layersToGraph } from '../../src/import/keras.js';
import { compileExplainer } from '../../src/lrp/compiler.js';
import { resolveLrpOptions } from '../../src/lrp/presets.js';
import { buildResNet, kerasResNetSpec } from '../../src/model/resnet.js';
import { IO } from '../../src/onnx/classifier.js';
import type { RuntimeSession } from '../../src/runtime/platform.js';
import { cacheDisabledByEnv, FileExplainerCache, NO_CACHE_ENV } from '../../src/runtime/file-explainer-cache.js';
import { nodeRuntime } from '../../src/runtime/session.js';
import { bindWeights, inferKerasResNet } from '../../src/weights/bind.js';
import { readKerasH5 } from '../../src/weights/keras-h5.js';
import type { ModelGraph, ModelWeights } from '../../src/graph/graph.js';
import { REPO_ROOT, FIXTURE_WEIGHTS, fixtureInput } from '../support/fixture.js';

let root: string;
let graph: ModelGraph;
let weights: ModelWeights;
const input = fixtureInput();

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'resnet-lrp-cache-test-'));
  const file = await readKerasH5(FIXTURE_WEIGHTS);
  const arch = inferKerasResNet(file);
  const layers = buildResNet(kerasResNetSpec(arch.depth, { baseWidth: arch.baseWidth }));
  ({ graph, weights } = layersToGraph(layers, bindWeights(layers, file)));
});
after(() => rm(root, { recursive: true, force: true }));

let dirs = 0;
const freshDir = (): string => join(root, `cache-${dirs++}`);

function compiled(preset: 'default' | 'gamma' | 'symmetric' = 'default') {
  return compileExplainer(graph, weights, resolveLrpOptions({ preset }), 'float32');
}

/** The explainer's relevance of the fixture input for the predicted class. */
async function relevance(session: RuntimeSession): Promise<Float32Array> {
  const out = await session.run({ [IO.input]: nodeRuntime.float32(input, [1, 224, 224, 3]), [IO.target]: nodeRuntime.int64(BigInt64Array.of(-1n), [1]) });
  return out[IO.relevance]!.data as Float32Array;
}

/** The entries (not temporary directories) in `dir`. */
async function entries(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => /^[0-9a-f]{64}$/.test(name)).sort();
}

describe('FileExplainerCache', () => {
  test('a miss stores the entry; the hit gives the same trace names and bit-identical relevance', async () => {
    const cache = new FileExplainerCache({ dir: freshDir() });
    const c = compiled();
    assert.equal(await cache.load('model A', {}), undefined);
    const direct = await nodeRuntime.createSession(c.model);
    const stored = await cache.store('model A', c, {});
    const hit = await cache.load('model A', {});
    assert.ok(hit, 'the stored entry is found');
    try {
      assert.deepEqual(hit.traceNames, c.traceNames);
      const expected = await relevance(direct);
      assert.deepEqual(await relevance(stored.session), expected);
      assert.deepEqual(await relevance(hit.session), expected);
      assert.equal((await entries(cache.dir)).length, 1);
      // Another identity (other rules, model or precision) is another entry.
      assert.equal(await cache.load('model B', {}), undefined);
      // The optimisation level is part of the key.
      assert.equal(await cache.load('model A', { graphOptimization: 'basic' }), undefined);
    } finally {
      for (const s of [direct, stored.session, hit.session]) await s.release();
    }
  });

  for (const [what, damage] of [
    ['a flipped byte in the model', async (entry: string) => {
      const bytes = await readFile(join(entry, 'model.onnx'));
      bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0x10;
      await writeFile(join(entry, 'model.onnx'), bytes);
    }],
    ['a truncated model', async (entry: string) => {
      const bytes = await readFile(join(entry, 'model.onnx'));
      await writeFile(join(entry, 'model.onnx'), bytes.subarray(0, bytes.length - 1000));
    }],
    ['altered trace names', async (entry: string) => {
      const record = JSON.parse(await readFile(join(entry, 'entry.json'), 'utf8'));
      record.traceNames[0] = 'elsewhere';
      await writeFile(join(entry, 'entry.json'), JSON.stringify(record));
    }],
    ['an entry.json that is not JSON', (entry: string) => writeFile(join(entry, 'entry.json'), '{"kind":')],
    ['a missing model file', (entry: string) => rm(join(entry, 'model.onnx'))],
  ] as const) {
    test(`${what} is a miss: the entry is removed and the next store rebuilds it`, async () => {
      const cache = new FileExplainerCache({ dir: freshDir() });
      const c = compiled();
      await (await cache.store('model A', c, {})).session.release();
      const [name] = await entries(cache.dir);
      await damage(join(cache.dir, name!));
      assert.equal(await cache.load('model A', {}), undefined);
      assert.deepEqual(await entries(cache.dir), []);
      await (await cache.store('model A', c, {})).session.release();
      const hit = await cache.load('model A', {});
      assert.ok(hit);
      await hit.session.release();
    });
  }

  test('beyond maxBytes the least recently used entries are evicted', async () => {
    const dir = freshDir();
    const probe = new FileExplainerCache({ dir });
    await (await probe.store('probe', compiled(), {})).session.release();
    const [probeName] = await entries(dir);
    const entrySize = (await stat(join(dir, probeName!, 'model.onnx'))).size + (await stat(join(dir, probeName!, 'entry.json'))).size;
    await rm(join(dir, probeName!), { recursive: true });
    // Room for two entries of this size, not three.
    const cache = new FileExplainerCache({ dir, maxBytes: Math.floor(entrySize * 2.5) });
    const c = compiled();
    await (await cache.store('A', c, {})).session.release();
    const [a] = await entries(dir);
    assert.ok(a, 'A stored');
    await (await cache.store('B', c, {})).session.release();
    const b = (await entries(dir)).find((n) => n !== a)!;
    // B older than A, though stored later: then A is used, B not.
    await utimes(join(dir, b, 'entry.json'), new Date(1000), new Date(1000));
    await utimes(join(dir, a, 'entry.json'), new Date(2000), new Date(2000));
    await (await cache.store('C', c, {})).session.release();
    const left = await entries(dir);
    assert.equal(left.length, 2);
    assert.ok(left.includes(a!), 'the more recently used entry stays');
    assert.ok(!left.includes(b), 'the least recently used entry is evicted');
    assert.ok(await cache.load('A', {}).then(async (h) => (h ? (await h.session.release(), true) : false)));
    assert.equal(await cache.load('B', {}), undefined);
  });

  test('a load marks the entry as used (its entry.json mtime)', async () => {
    const cache = new FileExplainerCache({ dir: freshDir() });
    await (await cache.store('A', compiled(), {})).session.release();
    const [name] = await entries(cache.dir);
    const file = join(cache.dir, name!, 'entry.json');
    await utimes(file, new Date(1000), new Date(1000));
    const hit = await cache.load('A', {});
    await hit!.session.release();
    assert.ok((await stat(file)).mtimeMs > 1_000_000, 'last use is now');
  });

  test('maxBytes 0 keeps nothing, and the session works', async () => {
    const cache = new FileExplainerCache({ dir: freshDir(), maxBytes: 0 });
    const c = compiled();
    const stored = await cache.store('A', c, {});
    try {
      assert.equal((await relevance(stored.session)).length, input.length);
      assert.equal(await cache.load('A', {}), undefined);
    } finally {
      await stored.session.release();
    }
  });

  test('an unwritable directory keeps nothing, and the session works', async () => {
    const file = join(root, 'a-file');
    await writeFile(file, 'not a directory');
    const cache = new FileExplainerCache({ dir: join(file, 'compiled') });
    const stored = await cache.store('A', compiled(), {});
    await stored.session.release();
    assert.equal(await cache.load('A', {}), undefined);
  });

  test('contentHash is the SHA-256 of the file, remembered until the file changes', async () => {
    const cache = new FileExplainerCache({ dir: freshDir() });
    const file = join(root, 'weights.bin');
    const sha = (data: string) => createHash('sha256').update(data).digest('hex');
    await writeFile(file, 'first content');
    assert.equal(await cache.contentHash(file), sha('first content'));
    assert.equal(await cache.contentHash(file), sha('first content'));
    // Same size, other bytes: the change time moves, so the file is hashed again.
    await writeFile(file, 'other content');
    assert.equal(await cache.contentHash(file), sha('other content'));
    assert.equal(await cache.contentHash(join(root, 'missing.bin')), undefined);
    assert.equal(await cache.contentHash(root), undefined, 'a directory is not hashed');
  });

  test('maxBytes must be a non-negative integer', () => {
    assert.throws(() => new FileExplainerCache({ maxBytes: -1 }), /maxBytes must be a non-negative integer, got -1/);
    assert.throws(() => new FileExplainerCache({ maxBytes: 1.5 }), /got 1.5/);
  });

  test(`${NO_CACHE_ENV} turns the cache off for any value but empty or 0`, () => {
    assert.equal(cacheDisabledByEnv({}), false);
    assert.equal(cacheDisabledByEnv({ [NO_CACHE_ENV]: '' }), false);
    assert.equal(cacheDisabledByEnv({ [NO_CACHE_ENV]: '0' }), false);
    assert.equal(cacheDisabledByEnv({ [NO_CACHE_ENV]: '1' }), true);
  });
});

describe('LrpModel.load with the compile cache', () => {
  test('cold, warm and without the cache: bit-identical maps, trace and logits; other rules are another entry', async () => {
    const dir = freshDir();
    const run = async (compileCache: boolean | { dir: string }, preset: 'default' | 'gamma' = 'default') => {
      const model = await LrpModel.load({ weights: FIXTURE_WEIGHTS, compileCache, rules: { preset } });
      try {
        return { lrp: await model.computeLrp(input, { debug: true }), traceNames: model.traceNames };
      } finally {
        await model.dispose();
      }
    };
    const plain = await run(false);
    const cold = await run({ dir });
    assert.equal((await entries(dir)).length, 1);
    const warm = await run({ dir });
    assert.equal((await entries(dir)).length, 1, 'the warm start reads the entry and writes none');
    for (const r of [cold, warm]) {
      assert.deepEqual(r.traceNames, plain.traceNames);
      assert.deepEqual(r.lrp.attribution.data, plain.lrp.attribution.data);
      assert.deepEqual(r.lrp.relevance, plain.lrp.relevance);
      assert.deepEqual(r.lrp.trace, plain.lrp.trace);
      assert.deepEqual(r.lrp.logits, plain.lrp.logits);
    }
    await run({ dir }, 'gamma');
    assert.equal((await entries(dir)).length, 2);
  });

  test('two processes filling the same entry at once leave one whole entry and no temporary files', async () => {
    const dir = freshDir();
    const child = join(REPO_ROOT, 'dist', 'test', 'support', 'cache-child.js');
    const exec = promisify(execFile);
    const [a, b] = await Promise.all([exec(process.execPath, [child, dir]), exec(process.execPath, [child, dir])]);
    assert.equal(a.stdout, b.stdout);
    assert.deepEqual((await readdir(dir)).filter((name) => name.endsWith('.tmp')), [], 'no temporary directories left');
    assert.equal((await entries(dir)).length, 1);
    const third = await exec(process.execPath, [child, dir]);
    assert.equal(third.stdout, a.stdout);
  });
});
