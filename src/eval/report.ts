/**
 * The evaluation report, computed from the records alone (so a merge of shards gives the same
 * report as one run): per method mean ± standard error and n of insertion, deletion and PID,
 * a bootstrap 95 % interval of the mean PID, the paired PID differences between the first
 * method and each other one, the mean conservation and tie statistics, mean curves, the
 * per-class breakdown, timing; written as `report.json`, `report.md`, `per-class.csv` and the
 * plot `curves.png`.
 */
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic-write.js';
import { renderCurvesPlot } from './plot.js';
import { mulberry32 } from './random-method.js';
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
  /** Percentile bootstrap 95 % interval of the mean PID ({@link bootstrapCi}); null for n < 2. */
  pidCi95: [number, number] | null;
  /**
   * Σ input relevance / start relevance, over the images that have it (1 for a conservative
   * LRP); null for a method without input relevance (Grad-CAM, random) or for old records.
   */
  conservation: MeanSe | null;
  /** Patches tying with the step thresholds, mean per step and image (null for old records). */
  tied: number | null;
  /**
   * Share of the patches the paper's tie rule takes ahead of each step's nominal count, mean
   * over steps and images: how far its curves run ahead of their x-axis (null for old records).
   */
  paperLead: number | null;
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

/** The PID of method `a` minus that of method `b`, paired by image. */
export interface PairedDifference {
  a: string;
  b: string;
  /** Images both methods were evaluated on. */
  n: number;
  mean: number;
  /** Bootstrap 95 % interval of the mean difference (images resampled as pairs); null for n < 2. */
  ci95: [number, number] | null;
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
  /** The first method against each other one (e.g. `lrp` − `lrp-symmetric`: what the paper's split changes). */
  differences: PairedDifference[];
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
        pidCi95: bootstrapCi(rs.map((r) => r.pid)),
        conservation: meanOrNull(rs.map((r) => r.conservation)),
        tied: meanOrNull(rs.map((r) => r.tied))?.mean ?? null,
        paperLead: meanOrNull(rs.map((r) => r.paperLead))?.mean ?? null,
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
    differences: summaries.slice(1).map((other) => pairedDifference(byMethod.get(summaries[0]!.method)!, byMethod.get(other.method)!)),
    perClass,
    timing: Object.fromEntries(summaries.map((s) => [s.method, meanSe(byMethod.get(s.method)!.map((r) => r.seconds)).mean])),
  };
}

/** Resamples of {@link bootstrapCi}. */
export const BOOTSTRAP_RESAMPLES = 2000;

/**
 * Percentile bootstrap 95 % interval of the mean: the 2.5 % and 97.5 % quantiles (linear
 * interpolation) of the means of `resamples` samples of n values drawn with replacement. The
 * draws come from a fixed seed, so the same values (in the same order) give the same interval —
 * a merge of shards reports what one run reports. Null for fewer than 2 values.
 */
export function bootstrapCi(values: readonly number[], resamples: number = BOOTSTRAP_RESAMPLES, seed = 0): [number, number] | null {
  const n = values.length;
  if (n < 2) return null;
  const next = mulberry32(seed);
  const means = new Float64Array(resamples);
  for (let b = 0; b < resamples; b++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += values[next() % n]!;
    means[b] = sum / n;
  }
  means.sort();
  const quantile = (q: number): number => {
    const x = q * (resamples - 1);
    const lo = Math.floor(x);
    const hi = Math.min(lo + 1, resamples - 1);
    return means[lo]! + (x - lo) * (means[hi]! - means[lo]!);
  };
  return [quantile(0.025), quantile(0.975)];
}

/** PID of `a` minus PID of `b` over the images both have (records in report order). */
function pairedDifference(a: readonly EvaluationRecord[], b: readonly EvaluationRecord[]): PairedDifference {
  const other = new Map(b.map((r) => [r.index, r.pid]));
  const differences = a.filter((r) => other.has(r.index)).map((r) => r.pid - other.get(r.index)!);
  return { a: a[0]!.method, b: b[0]!.method, n: differences.length, mean: meanSe(differences).mean, ci95: bootstrapCi(differences) };
}

/** `[lo, hi]` with 3 decimals, or — . */
export function formatCi(ci: [number, number] | null): string {
  return ci === null ? '—' : `[${ci[0].toFixed(3)}, ${ci[1].toFixed(3)}]`;
}

/** Mean ± s.e. of the values that are numbers; null when none is. */
function meanOrNull(values: readonly (number | null | undefined)[]): MeanSe | null {
  const numbers = values.filter((v): v is number => typeof v === 'number');
  return numbers.length === 0 ? null : meanSe(numbers);
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
  return `patch ${s.patch}×${s.patch}, step ${s.step} patches (${Math.ceil(patches / s.step)} steps), ${s.quantize === false ? 'raw maps' : `maps quantized to ${s.quantize} levels`}, ${s.ties === 'random' ? `random ties (seed ${s.seed})` : `${s.ties} ties`}`;
}

/** The tie rule in words. */
export function describeTies(s: Pick<RunSettings, 'ties' | 'seed'>): string {
  switch (s.ties) {
    case 'paper':
      return "the paper's rule (every patch tying with a step's threshold enters at once)";
    case 'stable':
      return 'broken by patch index (exactly step patches per step)';
    case 'random':
      return `broken by a random permutation (seed ${s.seed}; exactly step patches per step)`;
  }
}

/** Σ input relevance / start relevance, or — for a method without input relevance. */
export function formatConservation(m: Pick<MethodSummary, 'conservation'>): string {
  return m.conservation === null ? '—' : m.conservation.mean.toFixed(4);
}

/** Mean patches tied at the thresholds per step, and the paper rule's lead as a share of all patches. */
export function formatTies(m: Pick<MethodSummary, 'tied' | 'paperLead'>): string {
  return m.tied === null || m.paperLead === null ? '—' : `${m.tied.toFixed(1)} (${(100 * m.paperLead).toFixed(1)} %)`;
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
    `Ties: ${describeTies(s)}.`,
    '',
    'Insertion: area under the probability curve while the most relevant patches are inserted into a black image (higher is better).',
    'Deletion: the same while they are blacked out of the image (lower is better). PID = insertion − deletion (higher is better).',
    `Values: mean ± standard error over images; PID also with a bootstrap 95 % interval (${BOOTSTRAP_RESAMPLES} resamples of the images).`,
    'Conservation: Σ input relevance / start relevance (the target\'s logit for the gradient methods), mean over images;',
    '1 for a conservative LRP; — for methods without input relevance.',
    ...(s.quantize === false
      ? []
      : ['Ties: patches tied with the step thresholds (mean per step), and in brackets the share of all patches the paper\'s rule takes ahead of its step.']),
    '',
    `| method | n | insertion ↑ | deletion ↓ | PID ↑ | PID 95 % CI | conservation |${s.quantize === false ? '' : ' ties |'} s / image |`,
    `| --- | ---: | ---: | ---: | ---: | ---: | ---: |${s.quantize === false ? '' : ' ---: |'} ---: |`,
    ...report.methods.map((m) => {
      const name = m === best && report.methods.length > 1 ? `**${m.method}**` : m.method;
      const ties = s.quantize === false ? '' : ` ${formatTies(m)} |`;
      return `| ${name} | ${m.n} | ${withSe(m.insertion)} | ${withSe(m.deletion)} | ${withSe(m.pid)} | ${formatCi(m.pidCi95)} | ${formatConservation(m)} |${ties} ${report.timing[m.method]!.toFixed(2)} |`;
    }),
    ...(report.differences.length === 0
      ? []
      : [
          '',
          'Paired PID differences (per image, the first method minus another; bootstrap 95 % interval):',
          '',
          '| difference | n | mean | 95 % CI |',
          '| --- | ---: | ---: | ---: |',
          ...report.differences.map((d) => `| ${d.a} − ${d.b} | ${d.n} | ${f3(d.mean)} | ${formatCi(d.ci95)} |`),
        ]),
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
