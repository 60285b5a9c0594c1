/**
 * `node dist/bench/profile.js [preset] [batch] [runs] [classes]`: onnxruntime's profiler on the
 * full-size Keras ResNet50 explainer (seeded random weights). Prints kernel time per run by
 * group (forward convs, z convs, adjoints, elementwise by op type, layout conversions) and the
 * op types of the optimized graph, so that Reorder nodes and leftovers are visible. Kernel
 * times are what one session's own work costs; they are less sensitive to other processes on
 * a shared machine than wall time.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import onnxProto from 'onnx-proto';
import { compileExplainer } from '../src/lrp/compiler.js';
import { resolveLrpOptions, type PresetName } from '../src/lrp/presets.js';
import { kerasResNet50 } from '../src/model/resnet.js';
import { IO } from '../src/onnx/classifier.js';
import { ort, sessionOptions } from '../src/runtime/session.js';
import { randomModel } from '../src/weights/random.js';
import { median } from './stats.js';

const [preset = 'default', batchArg = '1', runsArg = '10', classesArg = '1'] = process.argv.slice(2);
const batch = Number(batchArg);
const runs = Number(runsArg);
const k = Number(classesArg);

const { graph, weights } = randomModel(kerasResNet50(), 0);
const compiled = compileExplainer(graph, weights, resolveLrpOptions({ preset: preset as PresetName }), 'float32', { targetsPerImage: k > 1 ? 'many' : 'one', trace: k === 1, sharedQuotients: k > 1 });
const prefix = join(tmpdir(), `resnet-lrp-profile-${process.pid}`);
const optimized = `${prefix}.optimized.onnx`;
const session = await ort.InferenceSession.create(compiled.model, {
  ...sessionOptions(process.env.OPT_LEVEL ? { graphOptimization: process.env.OPT_LEVEL as 'all' } : {}),
  enableProfiling: true,
  profileFilePrefix: prefix,
  optimizedModelFilePath: optimized,
});

const input = new Float32Array(batch * 224 * 224 * 3);
let state = 1;
for (let i = 0; i < input.length; i++) {
  state = (state * 1103515245 + 12345) >>> 0;
  input[i] = (state / 2 ** 32) * 255 - 120;
}
const targets = BigInt64Array.from({ length: batch * k }, (_, i) => (k === 1 ? -1n : BigInt(i % k)));
const feeds = {
  [IO.input]: new ort.Tensor('float32', input, [batch, 224, 224, 3]),
  [IO.target]: new ort.Tensor('int64', targets, [batch * k]),
};
// Warm-up runs allocate buffers; they are profiled too and dropped below by run index.
const warmup = 2;
for (let i = 0; i < warmup + runs; i++) await session.run(feeds);
const file = (session as unknown as { endProfiling(): string }).endProfiling?.();
await session.release();

interface Event { cat: string; name: string; dur: number; args?: { op_name?: string } }
const profileFile = typeof file === 'string' && file ? file : findProfile(prefix);
const events = JSON.parse(readFileSync(profileFile, 'utf8')) as Event[];
const runEvents = events.filter((e) => e.cat === 'Session' && e.name === 'model_run');
const nodes = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
// Kernel events of a run come before its model_run event: split by cumulative run count.
const perRun = nodes.length / runEvents.length;
const measured = nodes.slice(Math.round(perRun * warmup));

// Per node, the median over the measured runs: on a shared machine single kernel times jump
// by 10 ms when the thread is preempted, and medians drop those spikes.
const byNode = new Map<string, { op: string; durations: number[] }>();
for (const e of measured) {
  const name = e.name.replace(/_kernel_time$/, '');
  const entry = byNode.get(name) ?? { op: e.args?.op_name ?? '?', durations: [] };
  entry.durations.push(e.dur);
  byNode.set(name, entry);
}
const groups = new Map<string, number>();
const add = (key: string, us: number) => groups.set(key, (groups.get(key) ?? 0) + us);
for (const [name, { op, durations }] of byNode) {
  let group: string;
  if (op === 'Conv' || op === 'FusedConv' || op === 'ConvTranspose' || op === 'MatMul' || op === 'Gemm' || op === 'FusedMatMul') {
    group = /\/adjoint/.test(name) ? `adjoint ${op}` : /\/z(_nchwc)?$/.test(name) ? `z ${op}` : `forward ${op}`;
  } else {
    group = `other ${op}`;
  }
  add(group, median(durations) * durations.length / runs);
}
const total = [...groups.values()].reduce((a, b) => a + b, 0);
const runWall = runEvents.slice(warmup).map((e) => e.dur / 1000).sort((a, b) => a - b);
console.log(`preset=${preset} batch=${batch} classes=${k} runs=${runs}: kernel time (sum of per-node medians) ${(total / 1000).toFixed(1)} ms/run, ` +
  `model_run median ${runWall[Math.floor(runWall.length / 2)]!.toFixed(1)} ms`);
for (const [key, us] of [...groups].sort((a, b) => b[1] - a[1])) console.log(`  ${(us / 1000).toFixed(2).padStart(8)} ms  ${key}`);

// The slowest nodes (TOP=n), to see which layers a group's time comes from.
const top = Number(process.env.TOP ?? 0);
if (top > 0) {
  const slowest = [...byNode].map(([name, { op, durations }]) => [name, op, median(durations)] as const).sort((a, b) => b[2] - a[2]).slice(0, top);
  for (const [name, op, us] of slowest) console.log(`  ${(us / 1000).toFixed(2).padStart(8)} ms  ${op} ${name}`);
}

// Op types of the optimized graph (Reorder nodes are the NCHWc layout conversions).
const counts = countOpTypes(readFileSync(optimized));
console.log('optimized graph:', Object.entries(counts).sort((a, b) => b[1] - a[1]).map(([o, c]) => `${o}×${c}`).join(' '));
rmSync(optimized, { force: true });
if (!process.env.KEEP_PROFILE) rmSync(profileFile, { force: true }); else console.log(profileFile);

/** onnxruntime-node's endProfiling returns nothing: the file is `<prefix>_<date>.json`. */
function findProfile(p: string): string {
  const base = basename(p);
  const found = readdirSync(dirname(p)).find((f) => f.startsWith(`${base}_`) && f.endsWith('.json'));
  if (!found) throw new Error(`no profile file for prefix ${p}`);
  return join(dirname(p), found);
}

function countOpTypes(bytes: Uint8Array): Record<string, number> {
  const counts: Record<string, number> = {};
  const model = onnxProto.onnx.ModelProto.decode(bytes);
  for (const n of model.graph?.node ?? []) counts[n.opType ?? '?'] = (counts[n.opType ?? '?'] ?? 0) + 1;
  return counts;
}

