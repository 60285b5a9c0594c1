/** `RESNET_LRP_WEIGHTS_URL` redirects the ImageNet download (a mirror), for the library and the CLI alike. */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { LrpModel } from '../../src/lrp-model.js';
import { ensureImageNetWeights } from '../../src/weights/download.js';
import { RESNET50_FILE_NAMES, WEIGHTS_URL_ENV } from '../../src/weights/imagenet.js';

test('the mirror URL from the environment is where the file is requested', async () => {
  const requested: string[] = [];
  const server = createServer((req, res) => {
    requested.push(req.url ?? '');
    res.writeHead(404).end();
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const mirror = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mirror/`;
  const cacheDir = await mkdtemp(join(tmpdir(), 'lrp-env-'));
  try {
    await assert.rejects(ensureImageNetWeights({ cacheDir, env: { [WEIGHTS_URL_ENV]: mirror } }), new RegExp(`${mirror}${RESNET50_FILE_NAMES.top}.*404`));
    assert.deepEqual(requested, [`/mirror/${RESNET50_FILE_NAMES.top}`]);
    // The library's default weights go the same way (process.env), and leave nothing behind.
    process.env[WEIGHTS_URL_ENV] = mirror;
    await assert.rejects(LrpModel.load({ cacheDir }), /404/);
    assert.equal(requested.length, 2);
    assert.deepEqual(await readdir(cacheDir), []);
  } finally {
    delete process.env[WEIGHTS_URL_ENV];
    server.close();
    await rm(cacheDir, { recursive: true, force: true });
  }
});
