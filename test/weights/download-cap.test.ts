/**
 * A download never reads past the file's known size: a mirror that streams endless data (or
 * announces too much) is cut off there, and the partial file is deleted.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { DownloadError, downloadFile, partialPathFor } from '../../src/weights/download.js';

const LIMIT = 256 * 1024;
let sentEndless = 0;
const server = http.createServer((req, res) => {
  if (req.url === '/endless.bin') {
    // No Content-Length, and never ends: 64 KB chunks as fast as the client takes them.
    res.writeHead(200);
    const chunk = Buffer.alloc(64 * 1024, 7);
    const pump = (): void => {
      while (!res.destroyed && sentEndless < 100 * LIMIT) {
        sentEndless += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
    };
    res.on('close', () => undefined);
    pump();
    return;
  }
  res.writeHead(200, { 'content-length': 10 * LIMIT });
  res.end(Buffer.alloc(10 * LIMIT));
});
let base = '';
let dir = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'resnet-lrp-cap-'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

test('an endless body is cut off at maxBytes, and the partial file deleted', async () => {
  const dest = join(dir, 'endless.bin');
  let received = 0;
  const error = await downloadFile(`${base}endless.bin`, dest, { maxBytes: LIMIT, onProgress: (p) => (received = p.received) }).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(error instanceof DownloadError, String(error));
  assert.equal(error.kind, 'protocol');
  assert.match(error.message, /stopped: the file has 262144 bytes but the server sent more/);
  assert.ok(received <= LIMIT, `${received} bytes kept`);
  // The server was stopped long before its own end (100 × the limit).
  assert.ok(sentEndless < 20 * LIMIT, `server sent ${sentEndless} bytes`);
  assert.equal(existsSync(partialPathFor(dest)), false);
  assert.equal(existsSync(dest), false);
});

test('a Content-Length above maxBytes is refused before the body is read', async () => {
  const dest = join(dir, 'big.bin');
  await assert.rejects(downloadFile(`${base}big.bin`, dest, { maxBytes: LIMIT }), {
    name: 'DownloadError',
    message: /the file has 262144 bytes but the server announces 2621440 bytes/,
  });
  assert.equal(existsSync(partialPathFor(dest)), false);
});
