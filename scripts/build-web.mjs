// Builds the browser bundle and the static page into dist/web/ (served by `resnet-lrp serve`,
// or by any web host that sends the COOP/COEP headers for threads): the library entry
// (resnet-lrp-web.js), the explainer worker the page computes in (resnet-lrp-worker.js, a module
// worker: it finds onnxruntime-web's files next to itself), the page (app.js, index.html,
// style.css), onnxruntime-web's WebAssembly files, the bundled models (reference and CIFAR-10) and the sample images.
import { build } from 'esbuild';
import { cp, mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'web');
await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });

await build({
  entryPoints: {
    'resnet-lrp-web': join(root, 'src/web/index.ts'),
    'resnet-lrp-worker': join(root, 'src/web/worker.ts'),
    app: join(root, 'src/web/app.ts'),
  },
  outdir: out,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  // onnxruntime-web loads its .wasm/.mjs from ort.env.wasm.wasmPaths instead of inlining them.
  conditions: ['onnxruntime-web-use-extern-wasm'],
  // h5wasm's Emscripten loader names Node built-ins on a code path the browser never takes.
  external: ['module', 'fs', 'path', 'url', 'worker_threads', 'crypto'],
  tsconfig: join(root, 'tsconfig.web.json'),
  sourcemap: true,
  minify: true,
  logLevel: 'warning',
});

const ort = join(root, 'node_modules', 'onnxruntime-web', 'dist');
for (const file of ['ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm']) await cp(join(ort, file), join(out, file));
// No model named: the page starts with the bundled reference model (serve --weights replaces this file).
await writeFile(join(out, 'config.json'), '{}\n');
for (const file of ['index.html', 'style.css']) await cp(join(root, 'src', 'web', file), join(out, file));
for (const file of ['resnet50-w8.h5', 'cifar10-resnet20.onnx']) await cp(join(root, 'assets', 'models', file), join(out, 'assets', 'models', file));
// The images only (the CIFAR-10 class names are bundled into the script).
await cp(join(root, 'assets', 'samples'), join(out, 'assets', 'samples'), { recursive: true, filter: (src) => !/\.(md|csv)$/.test(src) });
