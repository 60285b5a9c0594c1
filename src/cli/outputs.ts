/**
 * The files `explain` writes per image: their names and contents. Every file goes through
 * writeFileAtomic, so an interrupted run never leaves a half-written output (and `--resume`
 * can trust that an existing file is complete).
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { ColormapName } from '../image/colormap.js';
import { renderFigure, renderHeatmap } from '../image/figure.js';
import { renderTraceChart } from '../image/trace-chart-png.js';
import type { LoadedImage } from '../image/load.js';
import { encodeNpy } from '../image/npy.js';
import type { ClassScore } from '../model/labels.js';
import { writeFileAtomic } from '../util/atomic-write.js';

/** The output formats, in the order they are written and listed. */
export const OUTPUT_FORMATS = ['png', 'heatmap', 'npy', 'json', 'trace'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

const SUFFIX: Readonly<Record<OutputFormat, string>> = {
  png: '.lrp.png',
  heatmap: '.heatmap.png',
  npy: '.attribution.npy',
  json: '.lrp.json',
  trace: '.trace.png',
};

/** True for a file name this command writes (`cat.lrp.png`, …): never taken as an input. */
export function isOutputName(name: string): boolean {
  const lower = name.toLowerCase();
  return Object.values(SUFFIX).some((suffix) => lower.endsWith(suffix) && lower.length > suffix.length);
}

/** Output paths of one input, by format (only the requested formats). */
export function outputPaths(outDir: string, name: string, formats: readonly OutputFormat[]): Partial<Record<OutputFormat, string>> {
  return Object.fromEntries(formats.map((f) => [f, join(outDir, `${name}${SUFFIX[f]}`)]));
}

/** True when every one of `paths` exists (what `--resume` skips on). */
export async function allExist(paths: readonly string[]): Promise<boolean> {
  const found = await Promise.all(paths.map((p) => access(p).then(() => true, () => false)));
  return found.every(Boolean);
}

/** Everything known about one explained image, as written to `<name>.lrp.json`. */
export interface Explanation {
  source: string;
  weights: string;
  /** False for random weights: the numbers say nothing about the image. */
  meaningful: boolean;
  rules: string;
  precision: string;
  fit: string;
  prediction: { classIndex: number; className: string; confidence: number };
  top5: ClassScore[];
  target: { classIndex: number; className: string; startRelevance: number };
  /** Σ input relevance / start relevance: 1 when LRP conserves (the paper's split), less where relevance is lost. */
  conservation: number;
  /** |Σ input relevance − start relevance| / |start relevance|. */
  conservationError: number;
  attribution: { shape: [number, number]; sum: number; min: number; max: number; data?: number[][] };
}

/** How maps are drawn (the figure/heatmap options of the command line). */
export interface DrawStyle {
  quantize: number | false;
  positiveOnly: boolean;
  colormap?: ColormapName;
}

/** What {@link writeOutputs} needs about one image. */
export interface ImageOutputs {
  paths: Partial<Record<OutputFormat, string>>;
  image: LoadedImage;
  /** Raw (unquantized) attribution map, H × W. */
  attribution: Float32Array;
  explanation: Explanation;
  /** Figure title. */
  title: string;
  style: DrawStyle;
  /** Put the map into the JSON file too. */
  includeMap: boolean;
  /** Relevance sum per traced block, from the start to the input (for the `trace` chart). */
  trace?: readonly { name: string; sum: number }[];
}

/** Renders and writes the requested files of one image (in parallel; each atomically). */
export async function writeOutputs(o: ImageOutputs): Promise<string[]> {
  const { width, height } = o.image;
  const style = {
    quantize: o.style.quantize,
    positiveOnly: o.style.positiveOnly,
    ...(o.style.colormap ? { colormap: o.style.colormap } : {}),
  };
  const content: Record<OutputFormat, () => Promise<Uint8Array | string>> = {
    png: () => renderFigure({ ...style, image: o.image, attribution: o.attribution, title: o.title }),
    heatmap: () => renderHeatmap({ ...style, attribution: o.attribution, width, height }),
    npy: async () => encodeNpy(o.attribution, [height, width]),
    json: async () => `${JSON.stringify(withMap(o.explanation, o.includeMap ? toRows(o.attribution, width) : undefined), null, 2)}\n`,
    trace: () => {
      if (!o.trace) throw new Error('no relevance trace was computed');
      return renderTraceChart({ trace: o.trace, title: `${o.title}: relevance sum per block` });
    },
  };
  const entries = OUTPUT_FORMATS.filter((f) => o.paths[f] !== undefined).map((f) => [f, o.paths[f]!] as const);
  await Promise.all(entries.map(async ([format, path]) => writeFileAtomic(path, await content[format]())));
  return entries.map(([, path]) => path);
}

/** Sum, min and max of a map (for the JSON summary). */
export function mapStats(map: Float32Array): { sum: number; min: number; max: number } {
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const v of map) {
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { sum, min, max };
}

function withMap(explanation: Explanation, rows: number[][] | undefined): Explanation {
  return rows ? { ...explanation, attribution: { ...explanation.attribution, data: rows } } : explanation;
}

function toRows(map: Float32Array, width: number): number[][] {
  const rows: number[][] = [];
  for (let y = 0; y * width < map.length; y++) rows.push(Array.from(map.subarray(y * width, (y + 1) * width)));
  return rows;
}
