import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CACHE_DIR_ENV, weightsCacheDir } from '../../src/weights/cache.js';
import { DownloadError, ensureImageNetWeights, ensureWeightsFile } from '../../src/weights/download.js';
import { RESNET50_FILE_NAMES, RESNET50_SIZES, type WeightsFile } from '../../src/weights/imagenet.js';

describe('weightsCacheDir', () => {
  test(`${CACHE_DIR_ENV} overrides everything`, () => {
    assert.equal(weightsCacheDir({ [CACHE_DIR_ENV]: '/data/w', XDG_CACHE_HOME: '/xdg', HOME: '/home/u' }), '/data/w');
  });
  test(`a relative ${CACHE_DIR_ENV} is made absolute`, () => {
    assert.equal(weightsCacheDir({ [CACHE_DIR_ENV]: 'rel/w' }), resolve('rel/w'));
  });
  test('XDG_CACHE_HOME is used next', () => {
    assert.equal(weightsCacheDir({ XDG_CACHE_HOME: '/xdg', HOME: '/home/u' }), '/xdg/resnet-lrp');
  });
  test('default is ~/.cache/resnet-lrp', () => {
    assert.equal(weightsCacheDir({ HOME: '/home/u' }), '/home/u/.cache/resnet-lrp');
    assert.equal(weightsCacheDir({}), join(homedir(), '.cache', 'resnet-lrp'));
  });
  test('empty variables and a relative XDG_CACHE_HOME are ignored', () => {
    assert.equal(weightsCacheDir({ [CACHE_DIR_ENV]: '', XDG_CACHE_HOME: '', HOME: '/home/u' }), '/home/u/.cache/resnet-lrp');
    assert.equal(weightsCacheDir({ XDG_CACHE_HOME: 'relative', HOME: '/home/u' }), '/home/u/.cache/resnet-lrp');
  });
  test('the default argument reads process.env', () => {
    const saved = process.env[CACHE_DIR_ENV];
    process.env[CACHE_DIR_ENV] = '/from/process/env';
    try {
      assert.equal(weightsCacheDir(), '/from/process/env');
    } finally {
      if (saved === undefined) delete process.env[CACHE_DIR_ENV];
      else process.env[CACHE_DIR_ENV] = saved;
    }
  });
});

describe('ensureWeightsFile', () => {
  const DATA = randomBytes(256 * 1024);
  const MD5 = createHash('md5').update(DATA).digest('hex');
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req.url ?? '');
    if (req.url === '/w/weights.h5') res.writeHead(200, { 'content-length': DATA.length }).end(DATA);
    else res.writeHead(404).end();
  });
  let base = '';
  let dir = '';
  const spec = (): WeightsFile => ({ fileName: 'weights.h5', url: `${base}w/weights.h5`, hash: { algorithm: 'md5', hex: MD5 } });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'resnet-lrp-cache-'));
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((done) => server.close(() => done()));
    await rm(dir, { recursive: true, force: true });
  });

  test('downloads into the cache dir once, then reuses the file without a request', async () => {
    const cacheDir = join(dir, 'fresh');
    const path = await ensureWeightsFile(spec(), { cacheDir });
    assert.equal(path, join(cacheDir, 'weights.h5'));
    assert.ok((await readFile(path)).equals(DATA));
    assert.equal(requests.length, 1);
    assert.equal(await ensureWeightsFile(spec(), { cacheDir }), path);
    assert.equal(requests.length, 1, 'second call must not touch the network');
  });

  test('the cache dir comes from the environment by default', async () => {
    const cacheDir = join(dir, 'from-env');
    const saved = process.env[CACHE_DIR_ENV];
    process.env[CACHE_DIR_ENV] = cacheDir;
    try {
      assert.equal(await ensureWeightsFile(spec()), join(cacheDir, 'weights.h5'));
    } finally {
      if (saved === undefined) delete process.env[CACHE_DIR_ENV];
      else process.env[CACHE_DIR_ENV] = saved;
    }
  });

  test('a file placed by hand is verified and used without a request', async () => {
    const cacheDir = join(dir, 'by-hand');
    await mkdir(cacheDir, { recursive: true });
    await writeFile(join(cacheDir, 'weights.h5'), DATA);
    const before = requests.length;
    assert.equal(await ensureWeightsFile(spec(), { cacheDir }), join(cacheDir, 'weights.h5'));
    assert.equal(requests.length, before);
    assert.ok(existsSync(join(cacheDir, 'weights.h5.md5-ok')), 'verification is remembered');
  });

  test('the verified marker skips rehashing while size and mtime are unchanged, and not after', async () => {
    const cacheDir = join(dir, 'marker');
    const path = await ensureWeightsFile(spec(), { cacheDir });
    const { atime, mtime } = await stat(path);
    // Same size, same mtime, different bytes: only a rehash could notice.
    const altered = Buffer.from(DATA);
    altered[0] = altered[0]! ^ 0xff;
    await writeFile(path, altered);
    await utimes(path, atime, mtime);
    assert.equal(await ensureWeightsFile(spec(), { cacheDir }), path);
    // A new mtime invalidates the marker, so the corruption is found.
    await utimes(path, atime, new Date(mtime.getTime() + 5000));
    await assert.rejects(ensureWeightsFile(spec(), { cacheDir }), (error: unknown) => {
      assert.ok(error instanceof DownloadError);
      assert.equal(error.kind, 'corrupt-cache');
      return true;
    });
  });

  test('a corrupt cached file is a clear error naming it and saying to delete it; no download', async () => {
    const cacheDir = join(dir, 'corrupt');
    await mkdir(cacheDir, { recursive: true });
    const path = join(cacheDir, 'weights.h5');
    await writeFile(path, 'not the weights');
    const before = requests.length;
    await assert.rejects(ensureWeightsFile(spec(), { cacheDir }), (error: unknown) => {
      assert.ok(error instanceof DownloadError);
      assert.equal(error.kind, 'corrupt-cache');
      assert.ok(error.message.includes(path), 'names the file');
      assert.match(error.message, /corrupt/);
      assert.match(error.message, /Delete it/);
      assert.ok(error.message.includes(MD5), 'names the expected hash');
      return true;
    });
    assert.equal(requests.length, before);
    assert.equal(await readFile(path, 'utf8'), 'not the weights', 'the file is left for the user to inspect');
  });

  test('a cached ImageNet file of the wrong size is reported as corrupt without hashing or downloading', async () => {
    const cacheDir = join(dir, 'imagenet-corrupt');
    await mkdir(cacheDir, { recursive: true });
    const path = join(cacheDir, RESNET50_FILE_NAMES.top);
    await writeFile(path, 'truncated');
    const before = requests.length;
    await assert.rejects(ensureImageNetWeights({ cacheDir, baseUrl: base }), (error: unknown) => {
      assert.ok(error instanceof DownloadError);
      assert.equal(error.kind, 'corrupt-cache');
      assert.ok(error.message.includes(path));
      assert.ok(error.message.includes(String(RESNET50_SIZES.top)));
      return true;
    });
    assert.equal(requests.length, before);
  });
});
