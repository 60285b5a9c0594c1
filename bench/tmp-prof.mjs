import { readFileSync, readdirSync, unlinkSync } from 'node:fs';
import { importOnnx } from '../dist/src/import/onnx.js';
import { compileExplainer } from '../dist/src/lrp/compiler.js';
import { resolveLrpOptions } from '../dist/src/lrp/presets.js';
import { ort } from '../dist/src/runtime/session.js';
const path = process.argv[2];
const { graph, weights } = importOnnx(readFileSync(path));
const c = compileExplainer(graph, weights, resolveLrpOptions({}), 'float32');
const s = await ort.InferenceSession.create(c.model, { enableProfiling: true, profileFilePrefix: '/tmp/ortprof' });
const x = new ort.Tensor('float32', new Float32Array(3 * 224 * 224).map((_, i) => Math.sin(i)), [1, 3, 224, 224]);
const t = new ort.Tensor('int64', BigInt64Array.of(-1n), [1]);
for (let i = 0; i < 4; i++) await s.run({ input: x, target: t });
await s.release();
const file = readdirSync('/tmp').filter((f) => f.startsWith('ortprof')).map((f) => '/tmp/' + f).sort().pop();
const events = JSON.parse(readFileSync(file, 'utf8')).filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
const byOp = new Map();
const byNode = new Map();
for (const e of events) {
  const op = e.args.op_name; byOp.set(op, (byOp.get(op) ?? 0) + e.dur);
  byNode.set(e.name, (byNode.get(e.name) ?? 0) + e.dur);
}
const total = [...byOp.values()].reduce((a, b) => a + b, 0);
console.log('total ms per run', (total / 4 / 1000).toFixed(1));
for (const [op, d] of [...byOp].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(op, (d / 4 / 1000).toFixed(1));
for (const [n, d] of [...byNode].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log('  ', n, (d / 4 / 1000).toFixed(1));
unlinkSync(file);
