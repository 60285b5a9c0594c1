import { readFileSync } from 'node:fs';
import { importOnnx } from '../dist/src/import/onnx.js';
import { compileExplainer } from '../dist/src/lrp/compiler.js';
import { compileForwardModel } from '../dist/src/onnx/classifier.js';
import { resolveLrpOptions } from '../dist/src/lrp/presets.js';
import { ort } from '../dist/src/runtime/session.js';
const { graph, weights } = importOnnx(readFileSync(process.argv[2]));
const rules = process.argv[3] ? JSON.parse(process.argv[3]) : {};
const lrp = await ort.InferenceSession.create(compileExplainer(graph, weights, resolveLrpOptions(rules), 'float32').model);
const fwd = await ort.InferenceSession.create(compileForwardModel(graph, weights, 'float32'));
const x = new ort.Tensor('float32', new Float32Array(3 * 224 * 224).map((_, i) => Math.sin(i)), [1, 3, 224, 224]);
const t = new ort.Tensor('int64', BigInt64Array.of(-1n), [1]);
const time = async (f) => { const s = performance.now(); await f(); return performance.now() - s; };
const a = [], b = [];
for (let block = 0; block < 4; block++) { await fwd.run({ input: x }); for (let i = 0; i < 3; i++) a.push(await time(() => fwd.run({ input: x }))); await lrp.run({ input: x, target: t }); for (let i = 0; i < 3; i++) b.push(await time(() => lrp.run({ input: x, target: t }))); }
const med = (v) => v.sort((p, q) => p - q)[Math.floor(v.length / 2)];
console.log(process.argv[2], JSON.stringify(rules), 'fwd', med(a).toFixed(1), 'lrp', med(b).toFixed(1), 'ratio', (med(b) / med(a)).toFixed(2));
