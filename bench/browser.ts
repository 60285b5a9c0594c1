/**
 * Bench case: one explanation (forward + LRP, batch 1) of a full-size ResNet50 in headless
 * Chromium (onnxruntime-web: WebAssembly with SIMD, threads when cross-origin isolated) beside
 * onnxruntime-node on the same compiled graph and input, in the same process and run; and the
 * plain forward pass in both, which shows how much of the gap is the kernels' own.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startServer } from '../src/cli/serve.js';
import { compileExplainer } from '../src/lrp/compiler.js';
import { resolveLrpOptions } from '../src/lrp/presets.js';
import { kerasResNet50 } from '../src/model/resnet.js';
import { compileForwardModel, IO } from '../src/onnx/classifier.js';
import { createSession, ort } from '../src/runtime/session.js';
import { randomModel } from '../src/weights/random.js';
import type { Page } from 'playwright-core';
import { launchChromium } from '../test/support/browser.js';
import { median, round } from './stats.js';

export interface BrowserCase {
  browser: true;
  /** Alternating blocks of forward and forward + LRP runs, in each runtime. */
  blocks: number;
  runsPerBlock: number;
}

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
  const { graph, weights } = randomModel(kerasResNet50(), 0);
  const models = {
    forward: compileForwardModel(graph, weights, 'float32'),
    lrp: compileExplainer(graph, weights, resolveLrpOptions({ preset: 'default' }), 'float32').model,
  };
  const input = benchInput();

  // Node: onnxruntime-node, default threads, forward and forward + LRP in alternating blocks.
  const sessions = { forward: await createSession(models.forward), lrp: await createSession(models.lrp) };
  const x = new ort.Tensor('float32', input, [1, 224, 224, 3]);
  const feeds = { forward: { [IO.input]: x }, lrp: { [IO.input]: x, [IO.target]: new ort.Tensor('int64', BigInt64Array.of(-1n), [1]) } };
  const nodeMs = { forward: [] as number[], lrp: [] as number[] };
  for (let block = 0; block < c.blocks; block++) {
    for (const which of ['forward', 'lrp'] as const) {
      await sessions[which].run(feeds[which]);
      for (let i = 0; i < c.runsPerBlock; i++) {
        const t = performance.now();
        await sessions[which].run(feeds[which]);
        nodeMs[which].push(performance.now() - t);
      }
    }
  }
  await sessions.forward.release();
  await sessions.lrp.release();

  // Chromium: the same bytes, each served beside the page (one server per model), run through
  // the page's own bundle; one page per model, alternating blocks as in Node.
  const dir = await mkdtemp(join(tmpdir(), 'resnet-lrp-bench-'));
  const servers: Awaited<ReturnType<typeof startServer>>[] = [];
  const browser = await launchChromium();
  try {
    const pages = {} as Record<'forward' | 'lrp', Page>;
    let sessionMs = 0;
    let info = { threads: 0, isolated: false };
    for (const which of ['forward', 'lrp'] as const) {
      const file = join(dir, `${which}.onnx`);
      await writeFile(file, models[which]);
      const server = await startServer({ port: 0, model: { path: file, label: `${which}.onnx` } });
      servers.push(server);
      const page = await browser.newPage();
      await page.goto(`${server.url}config.json`);
      const created = (await page.evaluate(`(async () => {
        const lib = await import('/resnet-lrp-web.js');
        lib.configureRuntime();
        const bytes = new Uint8Array(await (await fetch('/model/${which}.onnx')).arrayBuffer());
        const t0 = performance.now();
        const session = await lib.ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
        const sessionMs = performance.now() - t0;
        const input = new Float32Array(${input.length});
        let state = 1;
        for (let i = 0; i < input.length; i++) { state = (state * 1103515245 + 12345) >>> 0; input[i] = (state / 2 ** 32) * 255 - 120; }
        const feeds = { ${JSON.stringify(IO.input)}: new lib.ort.Tensor('float32', input, [1, 224, 224, 3]) };
        if (session.inputNames.includes(${JSON.stringify(IO.target)})) feeds[${JSON.stringify(IO.target)}] = new lib.ort.Tensor('int64', BigInt64Array.of(-1n), [1]);
        globalThis.benchBlock = async (n) => {
          await session.run(feeds);
          const times = [];
          for (let i = 0; i < n; i++) { const t = performance.now(); await session.run(feeds); times.push(performance.now() - t); }
          return times;
        };
        return { sessionMs, threads: lib.ort.env.wasm.numThreads, isolated: crossOriginIsolated };
      })()`)) as { sessionMs: number; threads: number; isolated: boolean };
      if (which === 'lrp') sessionMs = created.sessionMs;
      info = created;
      pages[which] = page;
    }
    const webMs = { forward: [] as number[], lrp: [] as number[] };
    for (let block = 0; block < c.blocks; block++) {
      for (const which of ['forward', 'lrp'] as const) {
        webMs[which].push(...((await pages[which].evaluate(`globalThis.benchBlock(${c.runsPerBlock})`)) as number[]));
      }
    }
    const node = { forward: median(nodeMs.forward), lrp: median(nodeMs.lrp) };
    const web = { forward: median(webMs.forward), lrp: median(webMs.lrp) };
    const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
    return {
      case: 'chromium keras-resnet50 batch=1 preset=default float32',
      model_bytes: models.lrp.byteLength,
      node_forward_ms: round(node.forward),
      node_forward_lrp_ms: round(node.lrp),
      chromium_forward_ms: round(web.forward),
      chromium_forward_lrp_ms: round(web.lrp),
      // The goal: forward + LRP in Chromium against the same in Node.
      chromium_vs_node: ratio(web.lrp, node.lrp),
      // The kernels' own gap: the plain forward pass in Chromium against Node.
      chromium_vs_node_forward: ratio(web.forward, node.forward),
      node_lrp_ratio: ratio(node.lrp, node.forward),
      chromium_lrp_ratio: ratio(web.lrp, web.forward),
      chromium_session_ms: round(sessionMs),
      chromium_threads: info.threads,
      cross_origin_isolated: info.isolated,
      simd: true,
      runs: c.blocks * c.runsPerBlock,
    };
  } finally {
    await browser.close();
    for (const server of servers) await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}
