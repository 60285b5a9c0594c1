/**
 * The conservation trace as a chart: the relevance sum after each traced layer or block, from
 * the start (the explained logit) down to the input. With perfect conservation the line is
 * flat; where relevance is lost or created it steps. An SVG string (browser-safe): the page
 * shows it as is, the CLI renders it to PNG.
 */
import { escapeXml, formatScaleValue } from './figure-parts.js';

export interface TraceChartOptions {
  trace: readonly { name: string; sum: number }[];
  /** Title line, e.g. the image and the explained class. */
  title?: string;
  width?: number;
  height?: number;
}

const MARGIN = { left: 72, right: 72, top: 40, bottom: 96 };

/** Renders the trace as an SVG line chart (x: trace step, start left; y: relevance sum). */
export function traceChartSvg(options: TraceChartOptions): string {
  const { trace } = options;
  if (trace.length === 0) throw new Error('traceChartSvg: the trace is empty (compute it with debug: true)');
  const width = options.width ?? Math.max(480, 24 * trace.length + MARGIN.left + MARGIN.right);
  const height = options.height ?? 360;
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const sums = trace.map((t) => (Number.isFinite(t.sum) ? t.sum : 0));
  let lo = Math.min(0, ...sums);
  let hi = Math.max(0, ...sums);
  if (hi - lo === 0) hi = lo + 1;
  const pad = (hi - lo) * 0.08;
  lo -= lo < 0 ? pad : 0;
  hi += pad;
  const x = (i: number): number => MARGIN.left + (trace.length === 1 ? plotW / 2 : (i * plotW) / (trace.length - 1));
  const y = (v: number): number => MARGIN.top + ((hi - v) * plotH) / (hi - lo);
  const r = (v: number): string => v.toFixed(1);
  const points = sums.map((s, i) => `${r(x(i))},${r(y(s))}`).join(' ');
  const ticks = [lo, 0, hi].filter((v, i, all) => all.indexOf(v) === i);
  const axisY = ticks
    .map((v) => `<line x1="${MARGIN.left}" x2="${width - MARGIN.right}" y1="${r(y(v))}" y2="${r(y(v))}" stroke="${v === 0 ? '#888' : '#ddd'}" stroke-width="1"/>` +
      `<text x="${MARGIN.left - 6}" y="${r(y(v) + 4)}" text-anchor="end" font-size="11">${escapeXml(formatScaleValue(v))}</text>`)
    .join('');
  // Every name would overlap on a deep network: label about a dozen steps, always the ends.
  const every = Math.max(1, Math.ceil(trace.length / 12));
  const labels = trace
    .map((t, i) => (i % every === 0 || i === trace.length - 1
      ? `<text transform="translate(${r(x(i))},${height - MARGIN.bottom + 12}) rotate(45)" font-size="10">${escapeXml(t.name)}</text>`
      : ''))
    .join('');
  const dots = sums.map((s, i) => `<circle cx="${r(x(i))}" cy="${r(y(s))}" r="2.5"><title>${escapeXml(`${trace[i]!.name}: ${trace[i]!.sum}`)}</title></circle>`).join('');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="relevance sum per block, from the start to the input">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<g font-family="DejaVu Sans, Verdana, sans-serif" fill="#222222">`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(options.title ?? 'conservation trace: relevance sum per block')}</text>`,
    axisY,
    labels,
    `<text x="14" y="${MARGIN.top + plotH / 2}" transform="rotate(-90 14 ${MARGIN.top + plotH / 2})" text-anchor="middle" font-size="11">relevance sum</text>`,
    '</g>',
    `<polyline points="${points}" fill="none" stroke="#c0392b" stroke-width="2"/>`,
    `<g fill="#c0392b">${dots}</g>`,
    '</svg>',
  ].join('');
}
