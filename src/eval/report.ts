/**
 * The evaluation report, computed from the records alone (so a merge of shards gives the same
 * report as one run): per method mean ± standard error and n of insertion, deletion and PID,
 * mean curves, the per-class breakdown, timing; written as `report.json`, `report.md`,
 * `per-class.csv` and the plot `curves.png`.
 */
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic-write.js';
import { renderCurvesPlot } from './plot.js';
import { sortRecords, uniqueRecords, type EvaluationRecord, type RunInfo, type RunSettings } from './records.js';

/** Mean and standard error of the mean (sample s.d. / √n; null for n < 2). */
export interface MeanSe {
  mean: number;
  se: number | null;
}

export interface MethodSummary {
  method: string;
  /** Images evaluated. */
  n: number;
  insertion: MeanSe;
  deletion: MeanSe;
  pid: MeanSe;
  /** Pointwise means over the images. */
  insertionCurve: number[];
  deletionCurve: number[];
}

export interface ClassSummary {
  /** The measured class (label, or prediction for unlabeled images). */
  classIndex: number;
  className: string;
  /** Images of this class. */
  n: number;
  /** Mean PID per method. */
  pid: Record<string, number>;
}

export interface EvaluationReport {
  format: 'resnet-lrp-evaluate-report/1';
  settings: RunSettings;
  /** Images with at least one record. */
  images: number;
  /** Images with a ground-truth label, and the share of those the model classified correctly. */
  labeled: number;
  accuracy: number | null;
  methods: MethodSummary[];
  perClass: ClassSummary[];
  /** Mean wall seconds per image and method (the only part that differs between runs). */
  timing: Record<string, number>;
}

export const REPORT_FILES = { json: 'report.json', markdown: 'report.md', perClass: 'per-class.csv', plot: 'curves.png' } as const;

/** Mean ± standard error of values (summed in the given order, so equal inputs give equal bits). */
export function meanSe(values: readonly number[]): MeanSe {
  const n = values.length;
  if (n === 0) return { mean: NaN, se: null };
  let sum = 0;
  for (const v of values) sum += v;
  const mean = sum / n;
  if (n < 2) return { mean, se: null };
  let squares = 0;
  for (const v of values) squares += (v - mean) ** 2;
  return { mean, se: Math.sqrt(squares / (n - 1) / n) };
}

/**
 * Summarises records (any order) for the run's methods; duplicates count once ({@link uniqueRecords}).
 *
 * @throws Error when two records of one image and method differ.
 */
export function summarize(info: RunInfo, records: readonly EvaluationRecord[], classNames: readonly string[]): EvaluationReport {
  const methods = [...info.methods, ...new Set(records.map((r) => r.method).filter((m) => !info.methods.includes(m)))];
  const sorted = sortRecords(uniqueRecords(records), methods);
  const byMethod = new Map(methods.map((m) => [m, sorted.filter((r) => r.method === m)]));
  const summaries: MethodSummary[] = methods
    .filter((m) => byMethod.get(m)!.length > 0)
    .map((method) => {
      const rs = byMethod.get(method)!;
      return {
        method,
        n: rs.length,
        insertion: meanSe(rs.map((r) => r.insertion)),
        deletion: meanSe(rs.map((r) => r.deletion)),
        pid: meanSe(rs.map((r) => r.pid)),
        insertionCurve: meanCurve(rs.map((r) => r.insertionCurve)),
        deletionCurve: meanCurve(rs.map((r) => r.deletionCurve)),
      };
    });
  // One entry per image (its first record carries label, prediction and target).
  const images = new Map<number, EvaluationRecord>();
  for (const r of sorted) if (!images.has(r.index)) images.set(r.index, r);
  const labeled = [...images.values()].filter((r) => r.label !== null);
  const classes = [...new Set([...images.values()].map((r) => r.target))].sort((a, b) => a - b);
  const perClass: ClassSummary[] = classes.map((classIndex) => {
    const rs = sorted.filter((r) => r.target === classIndex);
    return {
      classIndex,
      className: classNames[classIndex] ?? `class ${classIndex}`,
      n: new Set(rs.map((r) => r.index)).size,
      pid: Object.fromEntries(summaries.map((s) => [s.method, meanSe(rs.filter((r) => r.method === s.method).map((r) => r.pid)).mean])),
    };
  });
  return {
    format: 'resnet-lrp-evaluate-report/1',
    settings: info.settings,
    images: images.size,
    labeled: labeled.length,
    accuracy: labeled.length > 0 ? labeled.filter((r) => r.predicted === r.label).length / labeled.length : null,
    methods: summaries,
    perClass,
    timing: Object.fromEntries(summaries.map((s) => [s.method, meanSe(byMethod.get(s.method)!.map((r) => r.seconds)).mean])),
  };
}

function meanCurve(curves: readonly (readonly number[])[]): number[] {
  const length = Math.min(...curves.map((c) => c.length));
  return Array.from({ length }, (_, i) => {
    let sum = 0;
    for (const c of curves) sum += c[i]!;
    return sum / curves.length;
  });
}

/** A line of settings for titles and summaries. */
export function describeSettings(s: RunSettings): string {
  const patches = (s.size / s.patch) ** 2;
  return `patch ${s.patch}×${s.patch}, step ${s.step} patches (${Math.ceil(patches / s.step)} steps), ${s.quantize === false ? 'raw maps' : `maps quantized to ${s.quantize} levels`}`;
}

const f3 = (x: number): string => (Number.isFinite(x) ? x.toFixed(3) : '—');
const withSe = (m: MeanSe): string => `${f3(m.mean)} ± ${m.se === null ? '—' : f3(m.se)}`;

/** The Markdown summary. */
export function formatMarkdown(report: EvaluationReport, options: { maxClasses?: number } = {}): string {
  const s = report.settings;
  const best = report.methods.reduce<MethodSummary | undefined>((b, m) => (b === undefined || m.pid.mean > b.pid.mean ? m : b), undefined);
  const lines = [
    '# Patch insertion / deletion',
    '',
    `Model: ${s.model} (${s.precision}; images fitted by ${s.fit}). ${report.images} images` +
      (report.labeled > 0 ? `, ${report.labeled} labelled (top-1 accuracy ${(100 * report.accuracy!).toFixed(1)} %)` : ', none labelled') +
      (report.images < s.total ? ` — ${s.total} in the whole selection` : '') + '.',
    `Metric: ${describeSettings(s)}; the measured class is the label where given, else the predicted class.`,
    '',
    'Insertion: area under the probability curve while the most relevant patches are inserted into a black image (higher is better).',
    'Deletion: the same while they are blacked out of the image (lower is better). PID = insertion − deletion (higher is better).',
    'Values: mean ± standard error over images.',
    '',
    '| method | n | insertion ↑ | deletion ↓ | PID ↑ | s / image |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...report.methods.map((m) => {
      const name = m === best && report.methods.length > 1 ? `**${m.method}**` : m.method;
      return `| ${name} | ${m.n} | ${withSe(m.insertion)} | ${withSe(m.deletion)} | ${withSe(m.pid)} | ${report.timing[m.method]!.toFixed(2)} |`;
    }),
    '',
    `![Mean insertion and deletion curves per method](${REPORT_FILES.plot})`,
    '',
    '## Per class (mean PID)',
    '',
  ];
  const max = options.maxClasses ?? 50;
  const shown = report.perClass.slice(0, max);
  lines.push(
    `| class | n | ${report.methods.map((m) => m.method).join(' | ')} |`,
    `| --- | ---: | ${report.methods.map(() => '---:').join(' | ')} |`,
    ...shown.map((c) => `| ${c.classIndex} ${c.className.replace(/\|/g, '/')} | ${c.n} | ${report.methods.map((m) => f3(c.pid[m.method]!)).join(' | ')} |`),
  );
  if (report.perClass.length > shown.length) lines.push('', `${report.perClass.length - shown.length} more classes in ${REPORT_FILES.perClass}.`);
  lines.push('');
  return lines.join('\n');
}

/** The per-class breakdown as CSV: class, name, n, then mean PID per method. */
export function formatPerClassCsv(report: EvaluationReport): string {
  const quote = (s: string): string => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const header = ['class', 'name', 'n', ...report.methods.map((m) => `pid_${m.method}`)];
  const rows = report.perClass.map((c) => [String(c.classIndex), quote(c.className), String(c.n), ...report.methods.map((m) => String(c.pid[m.method]))]);
  return [header, ...rows].map((r) => r.join(',')).join('\n') + '\n';
}

/** Writes report.json, report.md, per-class.csv and curves.png into `dir`; returns their paths. */
export async function writeReport(dir: string, report: EvaluationReport): Promise<string[]> {
  const s = report.settings;
  const png = await renderCurvesPlot({
    title: `Patch insertion / deletion — ${report.images} images`,
    subtitle: `${s.model}; ${describeSettings(s)}`,
    series: report.methods.map((m) => ({
      name: m.method,
      n: m.n,
      insertionCurve: m.insertionCurve,
      deletionCurve: m.deletionCurve,
      insertion: m.insertion.mean,
      deletion: m.deletion.mean,
      pid: m.pid.mean,
    })),
  });
  const files: [string, string | Uint8Array][] = [
    [REPORT_FILES.json, `${JSON.stringify(report, null, 2)}\n`],
    [REPORT_FILES.markdown, formatMarkdown(report)],
    [REPORT_FILES.perClass, formatPerClassCsv(report)],
    [REPORT_FILES.plot, png],
  ];
  await Promise.all(files.map(([name, data]) => writeFileAtomic(join(dir, name), data)));
  return files.map(([name]) => join(dir, name));
}
