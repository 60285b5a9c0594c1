/**
 * The conservation trace chart as a PNG (Node: the SVG of {@link traceChartSvg} rendered by sharp).
 */
import sharp from 'sharp';
import { traceChartSvg, type TraceChartOptions } from './trace-chart.js';

/** Renders the trace chart to PNG bytes. */
export async function renderTraceChart(options: TraceChartOptions): Promise<Buffer> {
  return sharp(Buffer.from(traceChartSvg(options))).flatten({ background: '#ffffff' }).png().toBuffer();
}
