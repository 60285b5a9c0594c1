import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DownloadError, downloadFile, ensureImageNetWeights, partialPathFor, type DownloadProgress } from '../../src/weights/download.js';
import { KERAS_RESNET_BASE_URL, RESNET50_FILE_NAMES, resnet50WeightsFile } from '../../src/weights/imagenet.js';

const SIZE = 1024 * 1024;
const DATA = randomBytes(SIZE);
const MD5 = createHash('md5').update(DATA).digest('hex');
const HALF = SIZE / 2;

interface Seen {
  readonly path: string;
  readonly range: string | undefined;
}

/** Serves DATA with Range support; a few paths misbehave on purpose. */
function handler(seen: Seen[], cutOnce: Set<string>): http.RequestListener {
  return (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    seen.push({ path, range: req.headers.range });
    if (path === '/redirect.bin') {
      res.writeHead(302, { location: '/hop/redirect2.bin' }).end();
      return;
    }
    if (path === '/hop/redirect2.bin') {
      res.writeHead(301, { location: 'http://127.0.0.1:' + (req.socket.localPort ?? 0) + '/file.bin' }).end();
      return;
    }
    if (path === '/loop.bin') {
      res.writeHead(302, { location: '/loop.bin' }).end();
      return;
    }
    if (path === '/silent.bin') return; // never answers: the client's timeout must fire
    if (path.startsWith('/cut') && !cutOnce.has(path)) {
      // First request: announce the full length, send half, then kill the connection.
      cutOnce.add(path);
      res.writeHead(200, { 'content-length': SIZE });
      res.write(DATA.subarray(0, HALF), () => res.socket?.destroy());
      return;
    }
    if (path !== '/file.bin' && path !== '/norange.bin' && !path.startsWith('/cut')) {
      res.writeHead(404).end('no such file');
      return;
    }
    const match = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (match && path !== '/norange.bin') {
      const start = Number(match[1]);
      if (start >= SIZE) {
        res.writeHead(416, { 'content-range': `bytes */${SIZE}` }).end();
        return;
      }
      res.writeHead(206, { 'content-length': SIZE - start, 'content-range': `bytes ${start}-${SIZE - 1}/${SIZE}` });
      res.end(DATA.subarray(start));
      return;
    }
    res.writeHead(200, { 'content-length': SIZE });
    res.end(DATA);
  };
}

const seen: Seen[] = [];
const server = http.createServer(handler(seen, new Set()));
let base = '';
let closedPortBase = '';
let dir = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'resnet-lrp-download-'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  // A port that was just free and is closed again: connecting to it is refused.
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  closedPortBase = `http://127.0.0.1:${(probe.address() as AddressInfo).port}/`;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

const md5Of = async (path: string): Promise<string> => createHash('md5').update(await readFile(path)).digest('hex');
const requestsFor = (path: string): Seen[] => seen.filter((s) => s.path === path);

describe('downloadFile', () => {
  test('downloads, verifies the hash, reports monotonic progress and leaves no partial file', async () => {
    const dest = join(dir, 'good', 'file.bin');
    const progress: DownloadProgress[] = [];
    await downloadFile(`${base}file.bin`, dest, { expectedHash: { algorithm: 'md5', hex: MD5 }, onProgress: (p) => progress.push(p) });
    assert.equal(await md5Of(dest), MD5);
    assert.ok((await readFile(dest)).equals(DATA));
    assert.equal(existsSync(partialPathFor(dest)), false);
    assert.ok(progress.length > 1);
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i]!.received >= progress[i - 1]!.received, 'progress went backwards');
    assert.deepEqual(progress.at(-1), { received: SIZE, total: SIZE });
  });

  test('a wrong hash names both hashes and the URL, and leaves neither dest nor partial file', async () => {
    const dest = join(dir, 'badhash', 'file.bin');
    const wrong = '0123456789abcdef0123456789abcdef';
    await assert.rejects(downloadFile(`${base}file.bin`, dest, { expectedHash: { algorithm: 'md5', hex: wrong } }), (error: unknown) => {
      assert.ok(error instanceof DownloadError);
      assert.equal(error.kind, 'hash');
      assert.match(error.message, new RegExp(wrong));
      assert.match(error.message, new RegExp(MD5));
      assert.ok(error.message.includes(`${base}file.bin`));
      return true;
    });
    assert.equal(existsSync(dest), false);
    assert.equal(existsSync(partialPathFor(dest)), false);
  });

  test('sha256 hashes are checked too', async () => {
    const dest = join(dir, 'sha', 'file.bin');
    const sha = createHash('sha256').update(DATA).digest('hex');
    await downloadFile(`${base}file.bin`, dest, { expectedHash: { algorithm: 'sha256', hex: sha.toUpperCase() } });
    assert.ok((await readFile(dest)).equals(DATA));
  });

  test('a connection cut midway keeps the partial file, and the next call resumes with Range', async () => {
    const dest = join(dir, 'cut', 'file.bin');
    const url = `${base}cut.bin`;
    await assert.rejects(downloadFile(url, dest, { expectedHash: { algorithm: 'md5', hex: MD5 } }), (error: unknown) => {
      assert.ok(error instanceof DownloadError);
      assert.equal(error.kind, 'interrupted');
      assert.match(error.message, /interrupted/);
      assert.match(error.message, /run again to resume/);
      assert.ok(error.message.includes(url));
      return true;
    });
    assert.equal(existsSync(dest), false);
    const part = await readFile(partialPathFor(dest));
    assert.equal(part.length, HALF);
    assert.ok(part.equals(DATA.subarray(0, HALF)));

    const progress: DownloadProgress[] = [];
    await downloadFile(url, dest, { expectedHash: { algorithm: 'md5', hex: MD5 }, onProgress: (p) => progress.push(p) });
    assert.deepEqual(
      requestsFor('/cut.bin').map((s) => s.range),
      [undefined, `bytes=${HALF}-`],
    );
    assert.equal(await md5Of(dest), MD5);
    assert.equal(existsSync(partialPathFor(dest)), false);
    assert.equal(progress[0]!.received, HALF, 'progress starts from the resumed offset');
    assert.deepEqual(progress.at(-1), { received: SIZE, total: SIZE });
  });

  test('a server that ignores Range (200 instead of 206) still yields the right file', async () => {
    const dest = join(dir, 'norange', 'file.bin');
    await mkdir(join(dir, 'norange'), { recursive: true });
    await writeFile(partialPathFor(dest), Buffer.alloc(1000, 0xee)); // stale bytes that must not survive
    await downloadFile(`${base}norange.bin`, dest, { expectedHash: { algorithm: 'md5', hex: MD5 } });
    assert.equal(requestsFor('/norange.bin')[0]!.range, 'bytes=1000-');
    assert.equal((await stat(dest)).size, SIZE);
    assert.equal(await md5Of(dest), MD5);
  });

  test('a complete partial file answered with 416 is verified and kept, without a body', async () => {
    const dest = join(dir, 'complete-part', 'file.bin');
    await mkdir(join(dir, 'complete-part'), { recursive: true });
    await writeFile(partialPathFor(dest), DATA);
    const before = seen.length;
    await downloadFile(`${base}file.bin`, dest, { expectedHash: { algorithm: 'md5', hex: MD5 } });
    assert.deepEqual(seen.slice(before).map((s) => s.range), [`bytes=${SIZE}-`]);
    assert.equal(await md5Of(dest), MD5);
  });

  test('a partial file longer than the remote file (416) restarts from zero', async () => {
    const dest = join(dir, 'long-part', 'file.bin');
    await mkdir(join(dir, 'long-part'), { recursive: true });
    await writeFile(partialPathFor(dest), Buffer.concat([DATA, Buffer.from('trailing junk')]));
    const before = seen.length;
    await downloadFile(`${base}file.bin`, dest, { expectedHash: { algorithm: 'md5', hex: MD5 } });
    assert.deepEqual(seen.slice(before).map((s) => s.range), [`bytes=${SIZE + 13}-`, undefined]);
    assert.equal(await md5Of(dest), MD5);
  });

  test('HTTP 404 names the URL and the status', async () => {
    const dest = join(dir, 'missing', 'file.bin');
    const url = `${base}missing.bin`;
    await assert.rejects(downloadFile(url, dest), (error: unknown) => {
      assert.ok(error instanceof DownloadError);
      assert.equal(error.kind, 'http');
      assert.equal(error.status, 404);
      assert.ok(error.message.includes(url));
      assert.match(error.message, /404/);
      return true;
    });
    assert.equal(existsSync(dest), false);
  });

  test('redirects (relative and absolute) are followed', async () => {
    const dest = join(dir, 'redirect', 'file.bin');
    const before = seen.length;
    await downloadFile(`${base}redirect.bin`, dest, { expectedHash: { algorithm: 'md5', hex: MD5 } });
    assert.deepEqual(seen.slice(before).map((s) => s.path), ['/redirect.bin', '/hop/redirect2.bin', '/file.bin']);
    assert.equal(await md5Of(dest), MD5);
  });

  test('a redirect loop stops after maxRedirects', async () => {
    const before = seen.length;
    await assert.rejects(downloadFile(`${base}loop.bin`, join(dir, 'loop', 'f.bin'), { maxRedirects: 3 }), /more than 3 redirects/);
    assert.equal(seen.length - before, 4);
  });

  test('a server that never answers times out as offline', async () => {
    const dest = join(dir, 'silent', 'file.bin');
    await assert.rejects(downloadFile(`${base}silent.bin`, dest, { timeoutMs: 150 }), (error: unknown) => {
      assert.ok(error instanceof DownloadError);
      assert.equal(error.kind, 'offline');
      assert.match(error.message, /ETIMEDOUT/);
      return true;
    });
  });
});

describe('ensureImageNetWeights', () => {
  test('the official file spec is the Keras URL and MD5', () => {
    const top = resnet50WeightsFile('top');
    assert.equal(top.url, 'https://storage.googleapis.com/tensorflow/keras-applications/resnet/resnet50_weights_tf_dim_ordering_tf_kernels.h5');
    assert.deepEqual(top.hash, { algorithm: 'md5', hex: '2cb95161c43110f7111970584f804107' });
    const notop = resnet50WeightsFile('notop');
    assert.equal(notop.url, `${KERAS_RESNET_BASE_URL}resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5`);
    assert.deepEqual(notop.hash, { algorithm: 'md5', hex: '4d473c1dd8becc155b73f8504c6f6626' });
  });

  test('offline: the error names the cache dir, the exact file name and the URL', async () => {
    const cacheDir = join(dir, 'offline-cache');
    const url = `${closedPortBase}${RESNET50_FILE_NAMES.top}`;
    await assert.rejects(ensureImageNetWeights({ cacheDir, baseUrl: closedPortBase }), (error: unknown) => {
      assert.ok(error instanceof DownloadError);
      assert.equal(error.kind, 'offline');
      assert.ok(error.message.includes(cacheDir), 'names the cache dir');
      assert.ok(error.message.includes(RESNET50_FILE_NAMES.top), 'names the file');
      assert.ok(error.message.includes(url), 'names the URL');
      assert.match(error.message, /ECONNREFUSED/);
      return true;
    });
  });

  test('baseUrl and variant select the notop file name', async () => {
    const cacheDir = join(dir, 'notop-cache');
    const before = seen.length;
    await assert.rejects(ensureImageNetWeights({ cacheDir, baseUrl: `${base}mirror`, variant: 'notop' }), (error: unknown) => {
      assert.ok(error instanceof DownloadError);
      assert.equal(error.status, 404);
      assert.ok(error.message.includes(`${base}mirror/${RESNET50_FILE_NAMES.notop}`));
      return true;
    });
    assert.deepEqual(seen.slice(before).map((s) => s.path), [`/mirror/${RESNET50_FILE_NAMES.notop}`]);
  });
});
