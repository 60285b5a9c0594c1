/**
 * `resnet-lrp merge`: combines the output folders of sharded `evaluate` runs into one
 * results.jsonl and one report — the same report a single run over all images writes, since
 * the report depends only on the records, taken in image order.
 */
import { join, resolve } from 'node:path';
import { readRecords, readRunInfo, RESULTS_FILE, settingsDifferences, sortRecords, writeRunInfo, type EvaluationRecord, type RunInfo } from '../eval/records.js';
import { summarize, writeReport } from '../eval/report.js';
import { classNames } from '../model/labels.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { formatReportTable } from './evaluate.js';
import { MERGE_COMMAND, parseMergeArgs } from './evaluate-options.js';
import { formatHelp, UsageError, type CliIO } from './usage.js';

/** The metric values of a record (what must agree when two folders hold the same image and method). */
function values(r: EvaluationRecord): string {
  const { seconds: _, ...rest } = r;
  return JSON.stringify(rest);
}

export async function mergeCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const request = parseMergeArgs(argv);
  if (request.help) {
    io.stdout.write(formatHelp(MERGE_COMMAND));
    return 0;
  }
  const settings = request.settings;
  const out = resolve(settings.outDir);
  if (settings.inputs.some((dir) => resolve(dir) === out)) throw new UsageError(`--out ${settings.outDir} is one of the run folders; choose a new folder`, MERGE_COMMAND.name);

  let first: RunInfo | undefined;
  const methods: string[] = [];
  const shards = new Set<number>();
  const records = new Map<string, EvaluationRecord>();
  for (const dir of settings.inputs) {
    const info = await readRunInfo(dir);
    if (!info) throw new UsageError(`${dir} is not an evaluate output folder (no run.json)`, MERGE_COMMAND.name);
    if (first) {
      const differences = settingsDifferences(first.settings, info.settings);
      if (differences.length > 0) throw new Error(`${dir}: settings differ from ${settings.inputs[0]} (${differences.join('; ')})`);
      if ((first.shard?.count ?? 1) !== (info.shard?.count ?? 1)) throw new Error(`${dir}: shard count ${info.shard?.count ?? 1} ≠ ${first.shard?.count ?? 1} of ${settings.inputs[0]}`);
    }
    first ??= info;
    for (const m of info.methods) if (!methods.includes(m)) methods.push(m);
    if (info.shard) shards.add(info.shard.index);
    for (const r of await readRecords(dir)) {
      const k = `${r.index}\t${r.method}`;
      const seen = records.get(k);
      if (seen && values(seen) !== values(r)) throw new Error(`${dir}: ${r.image} with ${r.method} differs from another folder's result for it`);
      if (!seen) records.set(k, r);
    }
  }
  const count = first!.shard?.count;
  if (count !== undefined && shards.size < count && !settings.quiet) {
    const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !shards.has(i));
    io.stderr.write(`warning: shards ${missing.map((i) => `${i}/${count}`).join(', ')} are missing: the report covers part of the images\n`);
  }
  const info: RunInfo = { format: 'resnet-lrp-evaluate/1', settings: first!.settings, methods, shard: null };
  const sorted = sortRecords([...records.values()], methods);
  await writeFileAtomic(join(settings.outDir, RESULTS_FILE), sorted.map((r) => `${JSON.stringify(r)}\n`).join(''));
  await writeRunInfo(settings.outDir, info);
  const report = summarize(info, sorted, classNames(info.settings.classes));
  const written = await writeReport(settings.outDir, report);
  if (settings.json) io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else if (!settings.quiet) io.stdout.write(formatReportTable(report, written));
  return 0;
}
