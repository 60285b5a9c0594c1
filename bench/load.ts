/**
 * The `load` breakdown: where the time from "load this file" to "ready to explain" goes, for
 * full-size models read from files (seeded random weights written first to a Keras `.h5` and
 * a torchvision-style `.onnx`, then loaded as users load them).
 *
 * The `load <model>` cases of `npm run bench`; `node dist/bench/load.js` runs them alone
 * (`LOAD_CASES=keras-resnet50` only that model). Every timing is a fresh process: nothing
 * compiled by the JIT or read into memory by a timing before it.
 *
 * Per case, one child times the stages one by one (read, bind, compile with serialisation
 * split out, the explainer's session, the forward-only session); then `LrpModel.load` is
 * timed end to end in fresh children: with the compile cache off, on an empty cache (cold:
 * compiles and writes the entry) and on the filled cache (warm).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { compileExplainer } from '../src/lrp/compiler.js';
import { resolveLrpOptions } from '../src/lrp/presets.js';
import type { ModelGraph, ModelWeights } from '../src/graph/graph.js';
import type { LayerGraph } from '../src/model/layers.js';
import { layersToGraph } from '../src/import/keras.js';
import { TORCHVISION_INPUT } from '../src/model/input.js';
import { importOnnx } from '../src/import/onnx.js';
import { buildResNet, kerasResNet50, kerasResNetSpec, TORCH_BN_EPSILON } from '../src/model/resnet.js';
import { compileForwardModel } from '../src/onnx/classifier.js';
import { OnnxGraphBuilder } from '../src/onnx/graph-builder.js';
import { LrpModel } from '../src/lrp-model.js';
import { createSession } from '../src/runtime/session.js';
import { readRegularFile } from '../src/image/read-file.js';
import { bindWeights, inferKerasResNet } from '../src/weights/bind.js';
import { readKerasH5 } from '../src/weights/keras-h5.js';
import { randomWeights } from '../src/weights/random.js';
import { kerasLayers, writeKerasH5 } from '../test/weights/h5-helpers.js';
import { torchvisionOnnx } from '../test/support/torch-onnx.js';
import { round } from './stats.js';

/** The models of the breakdown. */
export const LOAD_MODELS = ['keras-resnet50', 'onnx-resnet50', 'onnx-resnet18'] as const;
export type LoadModel = (typeof LOAD_MODELS)[number];

function torchvisionGraph(depth: 18 | 50): LayerGraph {
  const spec = { ...kerasResNetSpec(50), strideOn: 'middle', convBias: false, bnEpsilon: TORCH_BN_EPSILON, input: TORCHVISION_INPUT } as const;
  return buildResNet(depth === 18 ? { ...spec, name: 'resnet18', stageBlocks: [2, 2, 2, 2], block: 'basic' } : spec);
}

/** Writes the model's seeded random weights as the file users would load; returns its path. */
export async function writeModelFile(model: LoadModel, dir: string): Promise<string> {
  if (model === 'keras-resnet50') {
    const graph = kerasResNet50();
    const path = join(dir, 'resnet50.h5');
    await writeKerasH5(path, kerasLayers(graph, randomWeights(graph, 0)));
    return path;
  }
  const graph = torchvisionGraph(model === 'onnx-resnet18' ? 18 : 50);
  const path = join(dir, `${model}.onnx`);
  writeFileSync(path, torchvisionOnnx(graph, randomWeights(graph, 0)));
  return path;
}

/** Times `toBytes` (protobuf serialisation) wherever the compiler calls it. */
function timeSerialisation(): { ms: number } {
  const total = { ms: 0 };
  const proto = OnnxGraphBuilder.prototype;
  const toBytes = proto.toBytes;
  proto.toBytes = function (this: OnnxGraphBuilder) {
    const start = performance.now();
    try {
      return toBytes.call(this);
    } finally {
      total.ms += performance.now() - start;
    }
  };
  return total;
}

/** The stages one by one, in this (fresh) process. */
async function stages(path: string): Promise<Record<string, number>> {
  const serialise = timeSerialisation();
  const t0 = performance.now();
  let graph: ModelGraph;
  let weights: ModelWeights;
  let tRead: number;
  if (path.endsWith('.onnx')) {
    const bytes = await readRegularFile(path, 2 ** 31 - 1);
    tRead = performance.now();
    ({ graph, weights } = importOnnx(bytes, { source: path }));
  } else {
    const file = await readKerasH5(path);
    tRead = performance.now();
    const arch = inferKerasResNet(file);
    const layers = buildResNet(kerasResNetSpec(arch.depth, { baseWidth: arch.baseWidth }));
    ({ graph, weights } = layersToGraph(layers, bindWeights(layers, file)));
  }
  const tBind = performance.now();
  const compiled = compileExplainer(graph, weights, resolveLrpOptions({}), 'float32');
  const tCompile = performance.now();
  const compileSerialise = serialise.ms;
  const session = await createSession(compiled.model);
  const tSession = performance.now();
  const forwardModel = compileForwardModel(graph, weights, 'float32');
  const tForwardCompile = performance.now();
  const forward = await createSession(forwardModel);
  const tForward = performance.now();
  await session.release();
  await forward.release();
  return {
    read_ms: round(tRead - t0),
    bind_ms: round(tBind - tRead),
    compile_ms: round(tCompile - tBind - compileSerialise),
    serialise_ms: round(compileSerialise),
    session_ms: round(tSession - tCompile),
    forward_compile_ms: round(tForwardCompile - tSession),
    forward_session_ms: round(tForward - tForwardCompile),
    explainer_ready_ms: round(tSession - t0),
    model_bytes: compiled.model.byteLength,
  };
}

/** `LrpModel.load` end to end in this (fresh) process. */
async function endToEnd(path: string, cache: boolean): Promise<Record<string, number>> {
  const t0 = performance.now();
  const model = await LrpModel.load({ weights: path, compileCache: cache });
  const ms = performance.now() - t0;
  await model.dispose();
  return { load_ms: round(ms) };
}

const self = fileURLToPath(import.meta.url);

/**
 * One model's breakdown: writes its file, then times the stages and `LrpModel.load` without
 * the cache, on an empty cache (cold) and on the filled one (warm), each in a fresh process.
 */
export async function runLoadCase(model: LoadModel): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'resnet-lrp-load-bench-'));
  try {
    const file = await writeModelFile(model, dir);
    const child = (mode: string): Record<string, number> =>
      JSON.parse(execFileSync(process.execPath, [self, mode, file], {
        encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, RESNET_LRP_CACHE: join(dir, 'cache') },
      })) as Record<string, number>;
    const breakdown = child('stages');
    const noCache = child('load-no-cache');
    const cold = child('load');
    const warm = child('load');
    return {
      case: `load ${model}`,
      file_mb: Math.round(statSync(file).size / 2 ** 20),
      ...breakdown,
      load_no_cache_ms: noCache.load_ms,
      load_cold_cache_ms: cold.load_ms,
      load_warm_cache_ms: warm.load_ms,
      threads: 'default',
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const [mode, path] = process.argv.slice(2);
if (mode === 'stages') {
  console.log(JSON.stringify(await stages(path!)));
} else if (mode === 'load' || mode === 'load-no-cache') {
  console.log(JSON.stringify(await endToEnd(path!, mode === 'load')));
} else if (process.argv[1] === self) {
  const selected = (process.env.LOAD_CASES ?? '').split(',').filter(Boolean);
  for (const model of LOAD_MODELS.filter((m) => selected.length === 0 || selected.includes(m))) {
    console.log(JSON.stringify(await runLoadCase(model)));
  }
}
