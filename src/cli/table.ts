/**
 * The summary table `explain` prints at the end: one row per input with its class, confidence,
 * conservation (Σ input relevance / start relevance) and outputs (or why it failed).
 */
import { basename } from 'node:path';
import { printable } from './printable.js';

/** The outcome for one input (also what `--json` prints). */
export interface InputResult {
  /** The input path as given. */
  input: string;
  /** Base of its output names. */
  name: string;
  status: 'ok' | 'skipped' | 'failed';
  /** Why it failed. */
  error?: string;
  predictedClass?: number;
  className?: string;
  confidence?: number;
  targetClass?: number;
  targetName?: string;
  /** Σ input relevance / start relevance. */
  conservation?: number;
  conservationError?: number;
  /** Files written (ok) or found (skipped). */
  outputs: string[];
}

/** Lays out rows under headers, columns padded to their widest cell (last column unpadded). */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const render = (cells: readonly string[]): string =>
    cells.map((cell, c) => (c === cells.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ').trimEnd();
  return [render(headers), render(widths.map((w) => '-'.repeat(w))), ...rows.map(render)].join('\n');
}

/** The summary: the table, then one line of totals. */
export function formatSummary(results: readonly InputResult[], outDir: string): string {
  // File names are shown with control characters escaped (they would garble the terminal).
  const rows = results.map((r) => [
    printable(r.input),
    r.className === undefined ? '' : `${r.predictedClass} ${shorten(r.className, 28)}`,
    r.confidence === undefined ? '' : `${(100 * r.confidence).toFixed(1)} %`,
    r.conservation === undefined ? '' : r.conservation.toFixed(4),
    r.status === 'failed' ? `FAILED: ${printable(r.error ?? 'unknown error')}`
    : r.status === 'skipped' ? `skipped, exist: ${r.outputs.map((p) => printable(basename(p))).join(' ')}`
    : [r.outputs.map((p) => printable(basename(p))).join(' '), r.targetClass !== r.predictedClass ? `(explains ${r.targetClass} ${shorten(r.targetName ?? '', 20)})` : '']
        .filter(Boolean)
        .join(' '),
  ]);
  const count = (s: InputResult['status']): number => results.filter((r) => r.status === s).length;
  const totals = [`${count('ok')} explained`, count('skipped') ? `${count('skipped')} skipped` : '', count('failed') ? `${count('failed')} failed` : '']
    .filter(Boolean)
    .join(', ');
  const table = formatTable(['file', 'class', 'confidence', 'conservation', 'outputs'], rows);
  return `${table}\n\n${totals}; outputs in ${printable(outDir)}\n`;
}

function shorten(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}
