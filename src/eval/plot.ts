/**
 * The evaluation plot: mean insertion and mean deletion curves of every method side by side,
 * with axes, ticks, a legend that carries each method's AUCs and PID, and a title. Drawn as an
 * SVG string and rasterised by sharp (librsvg), like the explanation figures.
 */
import sharp from 'sharp';
import { escapeXml, FONT_FAMILY, TEXT_COLOR } from '../image/figure-parts.js';

/** One method's line pair. */
export interface PlotSeries {
  name: string;
  insertionCurve: readonly number[];
  deletionCurve: readonly number[];
  insertion: number;
  deletion: number;
  pid: number;
  /** Images averaged. */
  n: number;
}

export interface CurvesPlotOptions {
  series: readonly PlotSeries[];
  title: string;
  /** Second line under the title (settings). */
  subtitle?: string;
}

const WIDTH = 1240;
const PANEL_WIDTH = 500;
const PANEL_HEIGHT = 340;
const LEFT = 80;
const GAP = 110;
const TOP = 96;
const ROW = 26;
const FONT = FONT_FAMILY;
const TEXT = TEXT_COLOR;
const GRID = '#e3e3e3';
/** matplotlib's tab10, the palette readers know; random is drawn grey and dashed. */
const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#bcbd22', '#17becf'];
const RANDOM_COLOR = '#7f7f7f';

/** Renders the plot as a PNG. */
export async function renderCurvesPlot(options: CurvesPlotOptions): Promise<Buffer> {
  return sharp(Buffer.from(curvesPlotSvg(options))).flatten({ background: '#ffffff' }).png().toBuffer();
}

/** The plot as SVG text (what {@link renderCurvesPlot} rasterises). */
export function curvesPlotSvg(options: CurvesPlotOptions): string {
  const series = options.series;
  const legendTop = TOP + PANEL_HEIGHT + 96;
  const height = legendTop + (series.length + 1) * ROW + 44;
  const yMax = niceMax(Math.max(1e-6, ...series.flatMap((s) => [...s.insertionCurve, ...s.deletionCurve])));
  const colors = colorsFor(series);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}">`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<g font-family="${FONT}" fill="${TEXT}">`,
    text(WIDTH / 2, 34, 22, options.title, 'middle', ' font-weight="bold"'),
    options.subtitle ? text(WIDTH / 2, 60, 14, options.subtitle, 'middle') : '',
    '</g>',
  ];
  const panels: [string, string, 'insertionCurve' | 'deletionCurve'][] = [
    ['Insertion: most relevant patches first (higher is better)', 'fraction of patches inserted into a black image', 'insertionCurve'],
    ['Deletion: most relevant patches first (lower is better)', 'fraction of patches blacked out', 'deletionCurve'],
  ];
  panels.forEach(([title, xLabel, key], p) => {
    const left = LEFT + p * (PANEL_WIDTH + GAP);
    parts.push(panel(left, title, xLabel, yMax, series.map((s, i) => ({ values: s[key], color: colors[i]!, dashed: s.name === 'random' }))));
  });
  // Legend: one row per method under the panels, its scores in aligned columns.
  // Bold DejaVu Sans at 15 px: about 10 px per character.
  const nameEnd = LEFT + 44 + Math.max(80, ...series.map((x) => x.name.length * 10));
  const columns = [0, 1, 2, 3].map((k) => nameEnd + 110 + 120 * k);
  parts.push(
    `<g font-family="${FONT}" fill="#555555">`,
    ...['insertion ↑', 'deletion ↓', 'PID ↑', 'images'].map((h, k) => text(columns[k]!, legendTop, 13, h, 'end')),
    '</g>',
  );
  series.forEach((s, i) => {
    const y = legendTop + (i + 1) * ROW;
    parts.push(
      `<line x1="${LEFT}" y1="${y - 5}" x2="${LEFT + 34}" y2="${y - 5}" stroke="${colors[i]}" stroke-width="3"${s.name === 'random' ? ' stroke-dasharray="6 4"' : ''}/>`,
      `<g font-family="${FONT}" fill="${TEXT}">`,
      text(LEFT + 44, y, 15, s.name, 'start', ' font-weight="bold"'),
      ...[fmt(s.insertion), fmt(s.deletion), fmt(s.pid), String(s.n)].map((v, k) => text(columns[k]!, y, 15, v, 'end')),
      '</g>',
    );
  });
  parts.push(
    `<g font-family="${FONT}" fill="#555555">`,
    text(LEFT, height - 18, 13, 'Curves: mean over images of the softmax probability of the measured class. Scores: area under each curve (x from 0 to 1), PID = insertion − deletion.', 'start'),
    '</g>',
    '</svg>',
  );
  return parts.join('');
}

function panel(left: number, title: string, xLabel: string, yMax: number, lines: { values: readonly number[]; color: string; dashed: boolean }[]): string {
  const top = TOP;
  const bottom = top + PANEL_HEIGHT;
  const right = left + PANEL_WIDTH;
  const xOf = (t: number): number => left + t * PANEL_WIDTH;
  const yOf = (v: number): number => bottom - (v / yMax) * PANEL_HEIGHT;
  const out: string[] = [];
  const yTicks = ticks(yMax);
  for (const v of yTicks) out.push(`<line x1="${left}" y1="${yOf(v)}" x2="${right}" y2="${yOf(v)}" stroke="${GRID}" stroke-width="1"/>`);
  for (let k = 0; k <= 5; k++) out.push(`<line x1="${xOf(k / 5)}" y1="${top}" x2="${xOf(k / 5)}" y2="${bottom}" stroke="${GRID}" stroke-width="1"/>`);
  for (const line of lines) {
    const n = line.values.length;
    const points = line.values.map((v, i) => `${xOf(n > 1 ? i / (n - 1) : 0).toFixed(2)},${yOf(v).toFixed(2)}`).join(' ');
    out.push(`<polyline points="${points}" fill="none" stroke="${line.color}" stroke-width="2.2" stroke-linejoin="round"${line.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
  }
  out.push(`<rect x="${left}" y="${top}" width="${PANEL_WIDTH}" height="${PANEL_HEIGHT}" fill="none" stroke="#444444" stroke-width="1"/>`);
  out.push(`<g font-family="${FONT}" fill="${TEXT}">`);
  out.push(text(left + PANEL_WIDTH / 2, top - 12, 16, title, 'middle', ' font-weight="bold"'));
  for (const v of yTicks) out.push(text(left - 8, yOf(v) + 4, 13, fmtTick(v), 'end'));
  for (let k = 0; k <= 5; k++) out.push(text(xOf(k / 5), bottom + 20, 13, String(k / 5), 'middle'));
  out.push(text(left + PANEL_WIDTH / 2, bottom + 44, 14, xLabel, 'middle'));
  const cy = top + PANEL_HEIGHT / 2;
  out.push(`<text x="${left - 56}" y="${cy}" font-size="14" text-anchor="middle" transform="rotate(-90 ${left - 56} ${cy})">probability of the class</text>`);
  out.push('</g>');
  return out.join('');
}

function colorsFor(series: readonly PlotSeries[]): string[] {
  let next = 0;
  return series.map((s) => (s.name === 'random' ? RANDOM_COLOR : PALETTE[next++ % PALETTE.length]!));
}

/** The smallest of 1, 2, 2.5, 5 × 10^k at or above `value`, and at most 1 (a probability). */
export function niceMax(value: number): number {
  const power = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * power >= value * 1.0001) return Math.min(1, m * power);
  return Math.min(1, 10 * power);
}

/** Five intervals from 0 to max. */
function ticks(max: number): number[] {
  return Array.from({ length: 6 }, (_, k) => (max * k) / 5);
}

function fmtTick(v: number): string {
  return v === 0 ? '0' : Number(v.toPrecision(3)).toString();
}

function fmt(v: number): string {
  return v.toFixed(3);
}

function text(x: number, y: number, size: number, content: string, anchor: 'start' | 'middle' | 'end', extra = ''): string {
  return `<text x="${x}" y="${y}" font-size="${size}" text-anchor="${anchor}"${extra}>${escapeXml(content)}</text>`;
}
