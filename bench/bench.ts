/**
 * `npm run bench`: forward + LRP against the plain forward pass of the same runtime, on a
 * full-size Keras ResNet50 with seeded random weights, and on full-size torchvision ResNet50
 * and ResNet18 read from ONNX files written here (torch-style, BN folded) from seeded random
 * weights; and the `load` breakdown of those three read from files (bench/load.ts). One JSON
 * line per case on stdout; `BENCH_CASES=4,5` runs only those cases.
 *
 * Each case runs in its own child process so that its peak RSS is its own. Times are medians
 * over alternating blocks of runs (forward ×k, LRP ×k, forward ×k, …), so that load from other
 * processes on this shared machine hits both alike; the ratio is what to compare. The first
 * run of every block is dropped: onnxruntime's worker threads keep spinning for a moment
 * after a run, and the other session's spinning threads would otherwise slow it down (runs
 * strictly interleaved one by one measured the forward pass 2× too slow).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { compileExplainer } from '../src/lrp/compiler.js';
import { resolveLrpOptions, type PresetName } from '../src/lrp/presets.js';
import { inputShape, type ModelGraph, type ModelWeights } from '../src/graph/graph.js';
import { TORCHVISION_INPUT } from '../src/model/input.js';
import { importOnnx } from '../src/import/onnx.js';
import { buildResNet, kerasResNet50, kerasResNetSpec, TORCH_BN_EPSILON } from '../src/model/resnet.js';
import { torchvisionOnnx } from '../test/support/torch-onnx.js';
import { compileForwardModel, IO } from '../src/onnx/classifier.js';
import type { Precision } from '../src/onnx/graph-builder.js';
import { CLASSES_EXPLAINER } from '../src/runtime/explainer.js';
import { createSession, ort } from '../src/runtime/session.js';
import { randomModel, randomWeights } from '../src/weights/random.js';
import { evaluateImage } from '../src/eval/evaluate-image.js';
import { InsertionDeletionEvaluator, DEFAULT_EVAL_BATCH } from '../src/eval/insertion-deletion.js';
import { createMethod } from '../src/eval/methods.js';
import { contextFromModel } from '../src/eval/model-context.js';
import { classifierFromModel } from '../src/eval/model-classifier.js';
import { loadImage } from '../src/image/load.js';
import { LrpModel } from '../src/lrp-model.js';
import { runBrowserCase, type BrowserCase } from './browser.js';
import { runLoadCase, type LoadModel } from './load.js';
import { median, round } from './stats.js';

interface Case {
  /**
   * `keras-resnet50` (built in memory), a torchvision ResNet written as an ONNX file here, or
   * `file:<name>`: `bench/models/<name>.onnx`, full-size models exported by
   * `scripts/export-bench-models.py` (skipped when the file is not there).
   */
  model: 'keras-resnet50' | 'onnx-resnet50' | 'onnx-resnet18' | `file:${string}`;
  batch: number;
  preset: PresetName;
  precision: Precision;
  /** Alternating blocks per session, and measured runs per block (after one unmeasured). */
  blocks: number;
  runsPerBlock: number;
  /**
   * K > 1: also the top-K classes of the image from one forward pass (one run with K targets),
   * against K single-class runs, in the same alternating blocks.
   */
  topK?: number;
}

/**
 * `resnet-lrp evaluate` per image and method: patch insertion/deletion at the defaults (202
 * forward passes per image and method) through the same loop as the CLI, on two sample photos.
 */
interface EvaluateCase {
  evaluate: true;
  methods: string[];
  images: string[];
  batch: number;
}

/** Where load time goes, for a model read from a file (bench/load.ts). */
interface LoadCase {
  load: LoadModel;
}

const CASES: (Case | EvaluateCase | BrowserCase | LoadCase)[] = [
  { model: 'keras-resnet50', batch: 1, preset: 'default', precision: 'float32', blocks: 4, runsPerBlock: 4 },
  { model: 'keras-resnet50', batch: 1, preset: 'default', precision: 'float32', blocks: 5, runsPerBlock: 2, topK: 5 },
  { model: 'keras-resnet50', batch: 4, preset: 'default', precision: 'float32', blocks: 3, runsPerBlock: 2 },
  { model: 'keras-resnet50', batch: 8, preset: 'default', precision: 'float32', blocks: 3, runsPerBlock: 2 },
  { model: 'keras-resnet50', batch: 1, preset: 'gamma', precision: 'float32', blocks: 3, runsPerBlock: 3 },
  { model: 'keras-resnet50', batch: 1, preset: 'default', precision: 'float64', blocks: 2, runsPerBlock: 2 },
  { model: 'onnx-resnet50', batch: 1, preset: 'default', precision: 'float32', blocks: 4, runsPerBlock: 4 },
  { model: 'onnx-resnet18', batch: 1, preset: 'default', precision: 'float32', blocks: 4, runsPerBlock: 4 },
  ...['vgg16', 'mobilenet_v2', 'efficientnet_b0', 'densenet121', 'resnext50'].map((name) =>
    ({ model: `file:${name}`, batch: 1, preset: 'default', precision: 'float32', blocks: 3, runsPerBlock: 3 }) as const),
  { evaluate: true, methods: ['lrp', 'gradient', 'gradxinput', 'ig', 'gbp', 'gradcam', 'random'], images: ['chelsea.png', 'coffee.png'], batch: DEFAULT_EVAL_BATCH },
  { browser: true, blocks: 3, runsPerBlock: 3 },
  { load: 'keras-resnet50' },
  { load: 'onnx-resnet50' },
  { load: 'onnx-resnet18' },
];

/** A torchvision ResNet written as a torch-style ONNX file and read back: what users load. */
function onnxModel(depth: 18 | 50): { graph: ModelGraph; weights: ModelWeights; fileBytes: number } {
  const spec = { ...kerasResNetSpec(50), strideOn: 'middle', convBias: false, bnEpsilon: TORCH_BN_EPSILON, input: TORCHVISION_INPUT } as const;
  const built = buildResNet(depth === 18 ? { ...spec, name: 'resnet18', stageBlocks: [2, 2, 2, 2], block: 'basic' } : spec);
  const bytes = torchvisionOnnx(built, randomWeights(built, 0));
  const { graph, weights } = importOnnx(bytes);
  return { graph, weights, fileBytes: bytes.byteLength };
}

async function runEvaluateCase(c: EvaluateCase): Promise<Record<string, unknown>> {
  // Time inside onnxruntime: every session run, whatever module calls it.
  let ortMs = 0;
  const proto = (ort.InferenceSession as unknown as { prototype: ort.InferenceSession }).prototype;
  const run = proto.run;
  proto.run = async function (this: ort.InferenceSession, ...args: Parameters<typeof run>) {
    const start = performance.now();
    try {
      return await run.apply(this, args);
    } finally {
      ortMs += performance.now() - start;
    }
  } as typeof run;

  const t0 = performance.now();
  const model = await LrpModel.load({ weights: null });
  const classifier = classifierFromModel(model);
  const methods = await Promise.all(c.methods.map((name) => createMethod(name, contextFromModel(model))));
  const evaluator = await InsertionDeletionEvaluator.create(classifier, { batchSize: c.batch });
  const samples = fileURLToPath(new URL('../../assets/samples/', import.meta.url));
  const inputs = await Promise.all(c.images.map(async (f) => (await loadImage(join(samples, f))).input));
  // Warm-up: the first runs of a session allocate its buffers (each gradient method has its own session).
  await classifier.probabilities(new Float32Array(c.batch * inputs[0]!.length), c.batch);
  for (const method of methods) await method.attribute([inputs[0]!], [0]);
  const tLoad = performance.now();

  const perMethod = new Map(c.methods.map((m) => [m, { seconds: 0, mapMs: 0 }]));
  ortMs = 0;
  const start = performance.now();
  for (const input of inputs) {
    await evaluateImage(evaluator, methods, input, undefined, async (outcome) => {
      const m = perMethod.get(outcome.method)!;
      m.seconds += outcome.seconds;
      m.mapMs += outcome.mapMs;
    });
  }
  const totalMs = performance.now() - start;
  const forwardPerImage = evaluator.stats.classifierMs / evaluator.stats.forwardImages;
  await evaluator.dispose();
  for (const m of methods) await m.dispose();
  await model.dispose();
  proto.run = run;
  return {
    case: `evaluate resnet50 ${c.methods.join(',')} patch=1 step=500 batch=${c.batch}`,
    images: inputs.length,
    forward_passes_per_image_method: 2 * evaluator.steps,
    load_compile_ms: round(tLoad - t0),
    seconds_per_image_method: Object.fromEntries([...perMethod].map(([m, v]) => [m, Math.round((v.seconds / inputs.length) * 100) / 100])),
    map_ms_per_image: Object.fromEntries([...perMethod].map(([m, v]) => [m, round(v.mapMs / inputs.length)])),
    forward_ms_per_perturbed_image: round(forwardPerImage),
    perturbation_ms_per_image_method: round(evaluator.stats.perturbationMs / (inputs.length * methods.length)),
    outside_onnxruntime_share: Math.round((1 - ortMs / totalMs) * 1000) / 1000,
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
    threads: 'default',
  };
}

async function runCase(c: Case | EvaluateCase | BrowserCase | LoadCase): Promise<Record<string, unknown>> {
  if ('load' in c) return runLoadCase(c.load);
  if ('evaluate' in c) return runEvaluateCase(c);
  if ('browser' in c) return runBrowserCase(c);
  const t0 = performance.now();
  let graph: ModelGraph;
  let weights: ModelWeights;
  if (c.model.startsWith('file:')) {
    const path = fileURLToPath(new URL(`../../bench/models/${c.model.slice(5)}.onnx`, import.meta.url));
    if (!existsSync(path)) return { case: c.model, skipped: `${path} is missing: run /usr/bin/python3 scripts/export-bench-models.py` };
    ({ graph, weights } = importOnnx(readFileSync(path), { source: path }));
  } else if (c.model === 'keras-resnet50') {
    ({ graph, weights } = randomModel(kerasResNet50(), 0));
  } else {
    ({ graph, weights } = onnxModel(c.model === 'onnx-resnet18' ? 18 : 50));
  }
  const tWeights = performance.now();
  const compiled = compileExplainer(graph, weights, resolveLrpOptions({ preset: c.preset }), c.precision);
  const tCompile = performance.now();
  const lrp = await createSession(compiled.model);
  const tSession = performance.now();
  const forward = await createSession(compileForwardModel(graph, weights, c.precision));

  const [channels, height, width] = inputShape(graph);
  const input = new Float32Array(c.batch * channels * height * width);
  const nchw = graph.inputDescription.layout === 'NCHW';
  let state = 1;
  for (let i = 0; i < input.length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    // Caffe inputs span about ±128, torchvision's normalised ones about ±2.5.
    input[i] = nchw ? (state / 2 ** 32) * 4.5 - 2.1 : (state / 2 ** 32) * 255 - 120;
  }
  const feeds = { [IO.input]: new ort.Tensor('float32', input, nchw ? [c.batch, channels, height, width] : [c.batch, height, width, channels]) };
  const target = { [IO.target]: new ort.Tensor('int64', new BigInt64Array(c.batch).fill(-1n), [c.batch]) };

  const time = async (run: () => Promise<unknown>) => {
    const start = performance.now();
    await run();
    return performance.now() - start;
  };
  const runForward = () => forward.run(feeds);
  const runLrp = () => lrp.run({ ...feeds, ...target });
  const k = c.topK ?? 1;
  // Top-K: targets −1…−K in one run, against K runs of one target each (−1…−K one by one).
  const topK = { [IO.target]: new ort.Tensor('int64', BigInt64Array.from({ length: k }, (_, i) => BigInt(-(i + 1))), [k]) };
  const singles = Array.from({ length: k }, (_, i) => ({ [IO.target]: new ort.Tensor('int64', BigInt64Array.of(BigInt(-(i + 1))), [1]) }));
  // Several targets per image run on the explainer compiled for them, as computeLrp does.
  const lrpMany = k > 1 ? await createSession(compileExplainer(graph, weights, resolveLrpOptions({ preset: c.preset }), c.precision, CLASSES_EXPLAINER).model) : undefined;
  const runTopK = () => lrpMany!.run({ ...feeds, ...topK });
  const runSingles = async () => {
    for (const single of singles) await lrp.run({ ...feeds, ...single });
  };
  const runs: [() => Promise<unknown>, number[]][] = [[runForward, []], [runLrp, []]];
  if (k > 1) runs.push([runTopK, []], [runSingles, []]);
  for (const [run] of runs) await run();
  for (let block = 0; block < c.blocks; block++) {
    for (const [run, times] of runs) {
      await run();
      for (let i = 0; i < c.runsPerBlock; i++) times.push(await time(run));
    }
  }
  const forwardMs = runs[0]![1];
  const fwd = median(forwardMs);
  const both = median(runs[1]![1]);
  const classes = k > 1 ? {
    top_k: k,
    top_k_one_run_ms: round(median(runs[2]![1])),
    top_k_single_runs_ms: round(median(runs[3]![1])),
    top_k_speedup: Math.round((median(runs[3]![1]) / median(runs[2]![1])) * 100) / 100,
  } : {};
  return {
    case: `${c.model} batch=${c.batch} preset=${c.preset} ${c.precision}${k > 1 ? ` top-${k}` : ''}`,
    model: c.model,
    batch: c.batch,
    preset: c.preset,
    precision: c.precision,
    // Keras: random weights; ONNX: random weights, writing the file and importing it.
    random_weights_ms: round(tWeights - t0),
    compile_ms: round(tCompile - tWeights),
    session_ms: round(tSession - tCompile),
    load_compile_ms: round(tSession - t0),
    model_bytes: compiled.model.byteLength,
    graph_nodes: graph.nodes.length,
    forward_ms: round(fwd),
    forward_lrp_ms: round(both),
    ratio: Math.round((both / fwd) * 100) / 100,
    images_per_s: Math.round((c.batch / both) * 1000 * 100) / 100,
    ...classes,
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
    runs: forwardMs.length,
    threads: 'default',
  };
}

const self = fileURLToPath(import.meta.url);
const only = process.argv[2];
if (only !== undefined) {
  // Child: run one case and print its line.
  console.log(JSON.stringify(await runCase(CASES[Number(only)]!)));
} else {
  const selected = (process.env.BENCH_CASES ?? '').split(',').filter(Boolean).map(Number);
  const indices = selected.length > 0 ? selected : CASES.map((_, i) => i);
  for (const i of indices) {
    process.stdout.write(execFileSync(process.execPath, [self, String(i)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }));
  }
}
