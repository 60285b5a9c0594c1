/**
 * `resnet-lrp serve`: the page and its worker with the cross-origin isolation headers, the
 * configured model named in config.json and served, nothing outside the page's folder, usage errors.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { main } from '../../src/cli/main.js';
import { hostNames, isAllowedHost, startServer } from '../../src/cli/serve.js';
import { FIXTURE_WEIGHTS, REPO_ROOT } from '../support/fixture.js';
import { runCli } from '../support/process.js';

/** A GET with the path sent exactly as given (fetch would normalise `..`), and any headers. */
function rawGet(url: string, path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(url), { path, method: 'GET', headers }, (res) => {
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

/** A GET with the Host header given. */
const getWithHost = (url: string, host: string): Promise<number> => rawGet(url, new URL(url).pathname, { Host: host });

test('serve answers only for the names it listens on: another Host (DNS rebinding) gets 421 (issue 14, item 11)', async () => {
  const server = await startServer({ port: 0, root: join(REPO_ROOT, 'dist', 'web'), model: { path: FIXTURE_WEIGHTS, label: 'w8.h5' } });
  try {
    const port = new URL(server.url).port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, 'LOCALHOST', `[::1]:${port}`]) assert.equal(await getWithHost(server.url, host), 200, host);
    for (const host of [`evil.example:${port}`, 'attacker.test', `127.0.0.1.evil.example:${port}`]) assert.equal(await getWithHost(`${server.url}model/resnet50-w8.h5`, host), 421, host);
  } finally {
    await server.close();
  }
  // Listening on every interface: IP addresses and this machine's name, still no foreign name.
  const everywhere = hostNames('0.0.0.0');
  assert.ok(isAllowedHost('192.168.1.20:8080', everywhere));
  assert.ok(isAllowedHost(`${hostname()}:8080`, everywhere));
  assert.ok(!isAllowedHost('evil.example:8080', everywhere));
  assert.ok(!isAllowedHost('192.168.1.20:8080', hostNames('127.0.0.1')));
});

test('serve --weights of a file that is no model is refused; the banner escapes control characters (issue 14, item 11)', async () => {
  let stderr = '';
  const io = { stdout: { write: () => true }, stderr: { write: (s: string) => ((stderr += s), true) }, env: {} };
  assert.equal(await main(['serve', '--weights', '/etc/passwd'], io), 2);
  assert.match(stderr, /^resnet-lrp serve: --weights \/etc\/passwd is not a model file \(neither HDF5 nor ONNX\): serve shares only model files/);

  const tmp = await mkdtemp(join(tmpdir(), 'resnet-lrp-serve-'));
  try {
    const weights = join(tmp, 'w\u001b[2J\u0007.h5');
    await copyFile(FIXTURE_WEIGHTS, weights);
    let banner = '';
    const run = await runCli(['serve', '--port', '0', '--weights', weights], {
      home: tmp,
      timeoutMs: 20_000,
      onStart: (child) => child.stdout!.on('data', (d: Buffer) => {
        banner += d.toString();
        // Only the banner matters here: stopped at once, however the server would handle signals.
        if (banner.includes('Ctrl-C stops')) child.kill('SIGKILL');
      }),
    });
    assert.match(run.stdout, /model w\\x1b\[2J\\x07\.h5\. Ctrl-C stops/);
    assert.doesNotMatch(run.stdout, /[\u0000-\u0009\u000b-\u001f]/);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});
