#!/usr/bin/env node
// The CIFAR-10 table (docs/evaluation.md, "The CIFAR-10 table"): runs `resnet-lrp evaluate` on
// the bundled trained ResNet20 and the bundled CIFAR-10 test images for every method, three
// times — raw maps, 8-level quantized maps under the paper's tie rule, and the same quantized
// maps with ties broken at random — and prints one table of PID and conservation per method.
// Fetches nothing: model, images and labels are in assets/. Needs `npm run build` first.
//
//   node scripts/cifar-table.mjs [--out dir] [--limit N] [--methods a,b] [--weights f] [--images dir]
//                                [--labels f] [--class-names f] [--patch p] [--step s] [--levels L]
//                                [--batch B] [--seed N]
//
// Each run writes its report (report.md, report.json, per-class.csv, curves.png) into a folder
// of its own under --out (raw/, quantized-paper/, quantized-random/); the table goes to stdout
// and to <out>/table.md. An interrupted run continues where it stopped when run again (--resume).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'src', 'cli', 'main.js');

const { values: o } = parseArgs({
  options: {
    out: { type: 'string', default: 'cifar-table-out' },
    weights: { type: 'string', default: join(root, 'assets', 'models', 'cifar10-resnet20.onnx') },
    images: { type: 'string', default: join(root, 'assets', 'samples', 'cifar10') },
    labels: { type: 'string', default: join(root, 'assets', 'samples', 'cifar10', 'labels.csv') },
    // Names for the per-class tables ('' for none).
    'class-names': { type: 'string', default: join(root, 'assets', 'models', 'cifar10-resnet20.labels.json') },
    // The issue's setting: every pixel a patch, 20 patches per step (52 steps on 32×32).
    methods: { type: 'string', default: 'lrp,lrp-symmetric,gradient,gradxinput,ig,gbp,gradcam,random' },
    patch: { type: 'string', default: '1' },
    step: { type: 'string', default: '20' },
    levels: { type: 'string', default: '8' },
    limit: { type: 'string' },
    batch: { type: 'string', default: '64' },
    seed: { type: 'string', default: '0' },
  },
  strict: true,
});

if (!existsSync(cli)) {
  console.error(`${relative(process.cwd(), cli)} is missing: run \`npm run build\` first`);
  process.exit(2);
}

/** The three runs of the table: folder, extra evaluate options, column heading. */
const RUNS = [
  { dir: 'raw', args: [], heading: 'PID raw' },
  { dir: 'quantized-paper', args: ['--quantize', o.levels, '--ties', 'paper'], heading: `PID ${o.levels} levels, paper's ties` },
  { dir: 'quantized-random', args: ['--quantize', o.levels, '--ties', 'random'], heading: `PID ${o.levels} levels, random ties` },
];

/** Runs the CLI with its progress on this terminal; rejects on a non-zero exit. */
function evaluate(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, 'evaluate', ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`evaluate ${args.join(' ')} exited with ${signal ?? code}`))));
  });
}

await mkdir(o.out, { recursive: true });
const reports = [];
for (const run of RUNS) {
  const dir = join(o.out, run.dir);
  console.error(`\n== ${run.dir}: ${[...run.args].join(' ') || 'raw maps'}`);
  await evaluate([
    o.images, '--weights', o.weights, '--labels', o.labels, ...(o['class-names'] ? ['--class-names', o['class-names']] : []),
    '--fit', 'resize', '--methods', o.methods,
    '--patch', o.patch, '--step', o.step, '--batch', o.batch, '--seed', o.seed, ...(o.limit ? ['--limit', o.limit] : []),
    ...run.args, '--resume', '--quiet', '--out', dir,
  ]);
  reports.push(JSON.parse(await readFile(join(dir, 'report.json'), 'utf8')));
}

const f3 = (x) => (Number.isFinite(x) ? x.toFixed(3) : '—');
const ci = (interval) => (interval === null ? '' : ` [${f3(interval[0])}, ${f3(interval[1])}]`);
const pid = (m) => `${f3(m.pid.mean)}${ci(m.pidCi95)}`;
const [raw] = reports;
const lines = [
  `Model: ${relative(root, o.weights) || o.weights}; ${raw.images} images, ${raw.labeled} labelled, top-1 accuracy ` +
    `${raw.accuracy === null ? '—' : `${(100 * raw.accuracy).toFixed(1)} %`}; patch ${raw.settings.patch}, step ${raw.settings.step}. ` +
    'PID: mean over the images [bootstrap 95 % interval] (higher is better). Conservation: Σ input relevance / start relevance, ' +
    'mean over the images (1 for a conservative LRP; the target logit for the gradient methods; — without input relevance). ' +
    `Lead: the share of patches the paper's tie rule inserts ahead of each step on the ${o.levels}-level maps.`,
  '',
  `| method | n | conservation | ${RUNS.map((r) => r.heading).join(' | ')} | lead |`,
  `| --- | ---: | ---: | ${RUNS.map(() => '---:').join(' | ')} | ---: |`,
];
for (const m of raw.methods) {
  const per = reports.map((r) => r.methods.find((x) => x.method === m.method));
  const lead = per[1]?.paperLead;
  lines.push(
    `| ${m.method} | ${m.n} | ${m.conservation === null ? '—' : m.conservation.mean.toFixed(4)} | ` +
      `${per.map((x) => (x ? pid(x) : '—')).join(' | ')} | ${lead === null || lead === undefined ? '—' : `${(100 * lead).toFixed(1)} %`} |`,
  );
}
// Paired by image: what the paper's split changes (the first method minus each other one).
lines.push('', `| paired difference | n | ${RUNS.map((r) => r.heading).join(' | ')} |`, `| --- | ---: | ${RUNS.map(() => '---:').join(' | ')} |`);
for (const d of raw.differences) {
  const per = reports.map((r) => r.differences.find((x) => x.a === d.a && x.b === d.b));
  lines.push(`| ${d.a} − ${d.b} | ${d.n} | ${per.map((x) => (x ? `${f3(x.mean)}${ci(x.ci95)}` : '—')).join(' | ')} |`);
}
lines.push('', await crossCheck(join(o.out, RUNS[0].dir)));
const table = `${lines.join('\n')}\n\nCurves: ${RUNS.map((r) => join(o.out, r.dir, 'curves.png')).join(', ')}\n`;
// Written whole or not at all, as every output of the project.
await writeFile(join(o.out, 'table.md.tmp'), table);
await rename(join(o.out, 'table.md.tmp'), join(o.out, 'table.md'));
process.stdout.write(`\n${table}`);

/**
 * The model's predictions as the report has them (from the compiled graph) against plain
 * onnxruntime on the ONNX file itself, image by image, with the project's preprocessing.
 */
async function crossCheck(dir) {
  if (!o.weights.endsWith('.onnx')) return 'Predictions not cross-checked: not an ONNX file.';
  const { LrpModel } = await import(join(root, 'dist', 'src', 'index.js'));
  const ort = await import('onnxruntime-node');
  const predicted = new Map();
  for (const line of (await readFile(join(dir, 'results.jsonl'), 'utf8')).split('\n').filter(Boolean)) {
    const r = JSON.parse(line);
    predicted.set(r.image, { predicted: r.predicted, label: r.label });
  }
  const model = await LrpModel.load({ weights: o.weights });
  const session = await ort.InferenceSession.create(o.weights);
  try {
    let same = 0;
    let correct = 0;
    let labelled = 0;
    for (const [image, r] of predicted) {
      const { input } = await model.loadImage(image, { fit: 'resize' });
      const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', input, [1, ...model.info.inputShape]) });
      const logits = out[session.outputNames[0]].data;
      let best = 0;
      for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
      if (best === r.predicted) same++;
      if (r.label !== null) {
        labelled++;
        if (best === r.label) correct++;
      }
    }
    const accuracy = labelled === 0 ? '—' : `${((100 * correct) / labelled).toFixed(1)} %`;
    return `Cross-check: plain onnxruntime on ${relative(root, o.weights) || o.weights} predicts the report's class for ` +
      `${same} of ${predicted.size} images; its top-1 accuracy: ${accuracy}.`;
  } finally {
    await model.dispose();
    await session.release();
  }
}
