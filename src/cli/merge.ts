/**
 * `resnet-lrp merge`: combines the output folders of sharded `evaluate` runs into one
 * results.jsonl and one report — the same report a single run over all images writes, since
 * the report depends only on the records, taken in image order.
 */
import { join, resolve } from 'node:path';
import { readRecords, readRunInfo, RESULTS_FILE, settingsDifferences, sortRecords, uniqueRecords, writeRunInfo, type EvaluationRecord, type RunInfo } from '../eval/records.js';
import { summarize, writeReport } from '../eval/report.js';
import { classNames } from '../model/labels.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { formatReportTable, isEvaluateOutput } from './evaluate.js';
import { prepareOutputFolder } from './output-folder.js';
import { MERGE_COMMAND, parseMergeArgs } from './evaluate-options.js';
import { formatHelp, UsageError, type CliIO } from './usage.js';

export async function mergeCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const request = parseMergeArgs(argv);
  if (request.help) {
    io.stdout.write(formatHelp(MERGE_COMMAND));
    return 0;
  }
  const settings = request.settings;
  const out = resolve(settings.outDir);
  if (settings.inputs.some((dir) => resolve(dir) === out)) throw new UsageError(`--out ${settings.outDir} is one of the run folders; choose a new folder`, MERGE_COMMAND.name);

  await prepareOutputFolder(settings.outDir, isEvaluateOutput);

  let first: RunInfo | undefined;
  const methods: string[] = [];
  const shards = new Set<number>();
  const records: EvaluationRecord[] = [];
  const sources: string[] = [];
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
      records.push(r);
      sources.push(dir);
    }
  }
  const count = first!.shard?.count;
  if (count !== undefined && shards.size < count && !settings.quiet) {
    const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !shards.has(i));
    io.stderr.write(`warning: shards ${missing.map((i) => `${i}/${count}`).join(', ')} are missing: the report covers part of the images\n`);
  }
  const info: RunInfo = { format: 'resnet-lrp-evaluate/1', settings: first!.settings, methods, shard: null };
  // Duplicates within a folder and across folders count once, as in evaluate's own report.
  const sorted = sortRecords(uniqueRecords(records, (i) => sources[i]!), methods);
  await writeFileAtomic(join(settings.outDir, RESULTS_FILE), sorted.map((r) => `${JSON.stringify(r)}\n`).join(''));
  await writeRunInfo(settings.outDir, info);
  const report = summarize(info, sorted, classNames(info.settings.classes));
  const written = await writeReport(settings.outDir, report);
  if (settings.json) io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else if (!settings.quiet) io.stdout.write(formatReportTable(report, written));
  return 0;
}
