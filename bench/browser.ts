/**
 * Bench case: one explanation (forward + LRP, batch 1) of a full-size ResNet50 in headless
 * Chromium (onnxruntime-web: WebAssembly with SIMD, threads when cross-origin isolated) beside
 * onnxruntime-node on the same compiled graph and input, in the same process and run.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startServer } from '../src/cli/serve.js';
import { compileExplainer } from '../src/lrp/compiler.js';
import { resolveLrpOptions } from '../src/lrp/presets.js';
import { kerasResNet50 } from '../src/model/resnet.js';
import { IO } from '../src/onnx/classifier.js';
import { createSession, ort } from '../src/runtime/session.js';
import { randomWeights } from '../src/weights/random.js';
import { launchChromium } from '../test/support/browser.js';

export interface BrowserCase {
  browser: true;
  runs: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const round = (ms: number): number => Math.round(ms * 10) / 10;

/** The same pseudo-random caffe-range input as the Node cases (the page repeats the arithmetic). */
function benchInput(): Float32Array {
  const input = new Float32Array(224 * 224 * 3);
  let state = 1;
  for (let i = 0; i < input.length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    input[i] = (state / 2 ** 32) * 255 - 120;
  }
  return input;
}

export async function runBrowserCase(c: BrowserCase): Promise<Record<string, unknown>> {
  const graph = kerasResNet50();
  const compiled = compileExplainer(graph, randomWeights(graph, 0), resolveLrpOptions({ preset: 'default' }), 'float32');
  const input = benchInput();

  // Node: onnxruntime-node, default threads.
  const session = await createSession(compiled.model);
  const feeds = {
    [IO.input]: new ort.Tensor('float32', input, [1, 224, 224, 3]),
    [IO.target]: new ort.Tensor('int64', BigInt64Array.of(-1n), [1]),
  };
  await session.run(feeds);
  const nodeMs: number[] = [];
  for (let i = 0; i < c.runs; i++) {
    const t = performance.now();
    await session.run(feeds);
    nodeMs.push(performance.now() - t);
  }
  await session.release();

  // Chromium: the same bytes served beside the page, run through the page's own bundle.
  const dir = await mkdtemp(join(tmpdir(), 'resnet-lrp-bench-'));
  const file = join(dir, 'explainer.onnx');
  await writeFile(file, compiled.model);
  const server = await startServer({ port: 0, model: { path: file, label: 'explainer.onnx' } });
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(`${server.url}config.json`);
    const script = `(async () => {
      const lib = await import('/resnet-lrp-web.js');
      lib.configureRuntime();
      const bytes = new Uint8Array(await (await fetch('/model/explainer.onnx')).arrayBuffer());
      const t0 = performance.now();
      const session = await lib.ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
      const sessionMs = performance.now() - t0;
      const input = new Float32Array(${input.length});
      let state = 1;
      for (let i = 0; i < input.length; i++) { state = (state * 1103515245 + 12345) >>> 0; input[i] = (state / 2 ** 32) * 255 - 120; }
      const feeds = { ${JSON.stringify(IO.input)}: new lib.ort.Tensor('float32', input, [1, 224, 224, 3]), ${JSON.stringify(IO.target)}: new lib.ort.Tensor('int64', BigInt64Array.of(-1n), [1]) };
      await session.run(feeds);
      const times = [];
      for (let i = 0; i < ${c.runs}; i++) { const t = performance.now(); await session.run(feeds); times.push(performance.now() - t); }
      await session.release();
      return { sessionMs, times, threads: lib.ort.env.wasm.numThreads, isolated: crossOriginIsolated, cores: navigator.hardwareConcurrency };
    })()`;
    const web = (await page.evaluate(script)) as { sessionMs: number; times: number[]; threads: number; isolated: boolean; cores: number };
    const nodeMedian = median(nodeMs);
    const webMedian = median(web.times);
    return {
      case: 'chromium keras-resnet50 batch=1 preset=default float32',
      model_bytes: compiled.model.byteLength,
      node_forward_lrp_ms: round(nodeMedian),
      chromium_forward_lrp_ms: round(webMedian),
      chromium_vs_node: Math.round((webMedian / nodeMedian) * 100) / 100,
      chromium_session_ms: round(web.sessionMs),
      chromium_threads: web.threads,
      cross_origin_isolated: web.isolated,
      simd: true,
      runs: c.runs,
    };
  } finally {
    await browser.close();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}
