/**
 * `resnet-lrp serve`: the page and its worker with the cross-origin isolation headers, the
 * configured model named in config.json and served, nothing outside the page's folder, usage errors.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { main } from '../../src/cli/main.js';
import { startServer } from '../../src/cli/serve.js';
import { FIXTURE_WEIGHTS, REPO_ROOT } from '../support/fixture.js';

/** A GET with the path sent exactly as given (fetch would normalise `..`). */
function rawGet(url: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(url), { path, method: 'GET' }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on('error', reject);
    req.end();
  });
}

test('serve: isolation headers, config.json, the model file, nothing outside dist/web', async () => {
  const server = await startServer({ port: 0, root: join(REPO_ROOT, 'dist', 'web'), model: { path: FIXTURE_WEIGHTS, label: 'w8.h5' } });
  try {
    const page = await fetch(server.url);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('cross-origin-opener-policy'), 'same-origin');
    assert.equal(page.headers.get('cross-origin-embedder-policy'), 'require-corp');
    assert.match(page.headers.get('content-type')!, /^text\/html/);
    assert.match(await page.text(), /<script type="module" src="app.js">/);
    // The page's explainer worker: a module script, isolated like the page (its threads need it).
    const worker = await fetch(`${server.url}resnet-lrp-worker.js`);
    assert.equal(worker.status, 200);
    assert.match(worker.headers.get('content-type')!, /^text\/javascript/);
    assert.equal(worker.headers.get('cross-origin-embedder-policy'), 'require-corp');
    assert.equal(worker.headers.get('cross-origin-opener-policy'), 'same-origin');
    assert.equal(await worker.text(), await readFile(join(REPO_ROOT, 'dist', 'web', 'resnet-lrp-worker.js'), 'utf8'));
    const wasm = await fetch(`${server.url}ort-wasm-simd-threaded.wasm`, { method: 'HEAD' });
    assert.equal(wasm.headers.get('content-type'), 'application/wasm');
    const config = (await (await fetch(`${server.url}config.json`)).json()) as { model: { url: string; label: string } };
    assert.equal(config.model.label, 'w8.h5');
    const model = new Uint8Array(await (await fetch(new URL(config.model.url, server.url))).arrayBuffer());
    assert.deepEqual(model, new Uint8Array(await readFile(FIXTURE_WEIGHTS)));
    assert.equal(await rawGet(server.url, '/..%2fpackage.json'), 403);
    assert.equal((await fetch(`${server.url}nothing-here.js`)).status, 404);
  } finally {
    await server.close();
  }
});

test('serve: usage errors exit with 2 and name the option', async () => {
  let stderr = '';
  const io = { stdout: { write: () => true }, stderr: { write: (s: string) => ((stderr += s), true) }, env: {} };
  assert.equal(await main(['serve', '--port', 'eighty'], io), 2);
  assert.match(stderr, /--port must be an integer from 0 to 65535, got "eighty"/);
  assert.equal(await main(['serve', '--weights', 'random'], io), 2);
  assert.match(stderr, /--weights random cannot be served/);
});
