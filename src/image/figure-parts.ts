/**
 * The figure without a renderer: layout, panel pixels, colour bar and the SVG of its text —
 * everything but the final compositing, which is sharp's in Node ({@link renderFigure}) and a
 * canvas in the browser. Browser-safe: no Node imports.
 */
import { colorize, colorScale, colormapColor, isDiverging, resolveColormap, type ColormapName } from './colormap.js';
import { quantizeHeat } from './quantize.js';

/** An RGB image: interleaved height × width × 3 bytes (e.g. a {@link LoadedImage}). */
export interface RgbImage {
  readonly rgb: Uint8Array;
  readonly width: number;
  readonly height: number;
}

/** How the attribution map is turned into colours (shared by figures and single heatmaps). */
export interface HeatmapStyle {
  /** Quantize to this many levels first ({@link quantizeHeat}); `false` (default) keeps the raw map. */
  quantize?: number | false;
  /** Show only positive relevance (negatives clipped). Default false, or true for a sequential colormap. */
  positiveOnly?: boolean;
  /** Default `bwr` (or `Reds` when `positiveOnly`). */
  colormap?: ColormapName;
  /** Value at the ends of the colour scale; default max |value| of the (quantized) map. */
  vmax?: number;
}

/** Options of {@link renderFigure}. */
export interface FigureOptions extends HeatmapStyle {
  image: RgbImage;
  /** Attribution map, height × width, row-major (e.g. relevance summed over channels). */
  attribution: Float32Array;
  /** Title line, e.g. `tabby, tabby cat (281) — 87.3 %`. Plain text; XML is escaped. */
  title: string;
  /**
   * Integer upscaling of every panel (nearest neighbour, so each model pixel stays visible and
   * the map is never smoothed). Default {@link figureZoom}: 2 for 224 × 224, 8 for 32 × 32.
   */
  zoom?: number;
  /** Weight of the heatmap in the overlay panel. Default {@link OVERLAY_ALPHA}. */
  overlayAlpha?: number;
  /** Captions of the three panels. */
  captions?: readonly [string, string, string];
}

/** Options of {@link renderHeatmap}. */
export interface HeatmapOptions extends HeatmapStyle {
  attribution: Float32Array;
  width: number;
  height: number;
  /** Integer upscaling (nearest neighbour). Default 1. */
  zoom?: number;
}

/** A rectangle in figure pixels. */
export interface Rect {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

/** Where everything sits in a figure; {@link renderFigure} draws exactly this. */
export interface FigureLayout {
  readonly width: number;
  readonly height: number;
  readonly zoom: number;
  readonly panels: { readonly original: Rect; readonly heatmap: Rect; readonly overlay: Rect };
  readonly colorbar: Rect;
  /** Baselines of the text rows. */
  readonly titleBaseline: number;
  readonly captionBaseline: number;
  readonly tickLabelBaseline: number;
}

/** Smallest panel upscaling of {@link renderFigure}. */
export const FIGURE_ZOOM = 2;
/** Default panels are upscaled until their longer side reaches this many pixels. */
export const MIN_PANEL_SIDE = 256;

/**
 * The default zoom of a figure of a width × height image: {@link FIGURE_ZOOM}, or the smallest
 * integer that makes the longer side at least {@link MIN_PANEL_SIDE} (a 32 × 32 CIFAR image: 8,
 * panels of 256 × 256 whose title and captions fit).
 */
export function figureZoom(width: number, height: number): number {
  return Math.max(FIGURE_ZOOM, Math.ceil(MIN_PANEL_SIDE / Math.max(width, height)));
}
/** Heatmap weight in the overlay: pixel = round((1 − α)·image + α·heatmap). */
export const OVERLAY_ALPHA = 0.5;
/** Outer margin, gap between panels and heights of the text rows, in pixels. */
export const FIGURE_MARGIN = 20;
export const PANEL_GAP = 16;
const TITLE_HEIGHT = 36;
const TITLE_FONT_SIZE = 20;
const CAPTION_HEIGHT = 26;
const CAPTION_FONT_SIZE = 15;
const COLORBAR_GAP = 12;
const COLORBAR_HEIGHT = 14;
const TICK_LENGTH = 4;
const TICK_FONT_SIZE = 13;
/** Font and text colour of every figure and plot (librsvg picks the first installed family). */
export const FONT_FAMILY = 'DejaVu Sans, Verdana, sans-serif';
export const TEXT_COLOR = '#222222';
export const BACKGROUND = '#ffffff';

/** Default panel captions. */
export const DEFAULT_CAPTIONS: readonly [string, string, string] = ['input', 'relevance (LRP)', 'overlay'];

/** Computes the layout of a figure for an image of width × height pixels (zoom: default {@link figureZoom}). */
export function figureLayout(width: number, height: number, zoom?: number): FigureLayout {
  checkDimension('width', width);
  checkDimension('height', height);
  zoom ??= figureZoom(width, height);
  checkDimension('zoom', zoom);
  const panelWidth = width * zoom;
  const panelHeight = height * zoom;
  const panelTop = FIGURE_MARGIN + TITLE_HEIGHT + CAPTION_HEIGHT;
  const panel = (i: number): Rect => ({
    left: FIGURE_MARGIN + i * (panelWidth + PANEL_GAP),
    top: panelTop,
    width: panelWidth,
    height: panelHeight,
  });
  const heatmap = panel(1);
  // The colour bar sits under the heatmap panel, 80 % of its width, centred.
  const barWidth = Math.max(1, Math.round(panelWidth * 0.8));
  const colorbar: Rect = {
    left: heatmap.left + Math.floor((panelWidth - barWidth) / 2),
    top: panelTop + panelHeight + COLORBAR_GAP,
    width: barWidth,
    height: COLORBAR_HEIGHT,
  };
  const tickLabelBaseline = colorbar.top + COLORBAR_HEIGHT + TICK_LENGTH + TICK_FONT_SIZE + 2;
  return {
    width: 2 * FIGURE_MARGIN + 3 * panelWidth + 2 * PANEL_GAP,
    height: tickLabelBaseline + 4 + FIGURE_MARGIN,
    zoom,
    panels: { original: panel(0), heatmap, overlay: panel(2) },
    colorbar,
    titleBaseline: FIGURE_MARGIN + TITLE_FONT_SIZE + 4,
    captionBaseline: panelTop - 8,
    tickLabelBaseline,
  };
}

/**
 * Blends a heatmap over an image: round((1 − alpha)·image + alpha·heat) per channel.
 */
export function blendOverlay(image: Uint8Array, heat: Uint8Array, alpha: number = OVERLAY_ALPHA): Uint8Array {
  if (image.length !== heat.length) throw new Error(`blendOverlay: image has ${image.length} bytes, heatmap ${heat.length}`);
  if (!(alpha >= 0 && alpha <= 1)) throw new Error(`blendOverlay: alpha must be in [0, 1], got ${String(alpha)}`);
  const out = new Uint8Array(image.length);
  for (let i = 0; i < image.length; i++) out[i] = Math.round((1 - alpha) * image[i]! + alpha * heat[i]!);
  return out;
}

/** Characters XML 1.0 does not allow even escaped: C0 controls but tab and line breaks, U+FFFE/U+FFFF, lone surrogates. */
const NOT_XML = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * Escapes text for use inside SVG/XML character data and attribute values. Characters XML
 * cannot hold at all (a vertical tab in a class name made every figure fail to render) are
 * shown as escapes (`\x0b`), lone surrogates as U+FFFD.
 */
export function escapeXml(text: string): string {
  return text
    .replace(NOT_XML, (c) => (c.length === 1 && c.charCodeAt(0) < 0x20 ? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}` : '\ufffd'))
    .replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** Formats the colour-scale maximum compactly (3 significant digits). */
export function formatScaleValue(value: number): string {
  if (value === 0) return '0';
  const magnitude = Math.abs(value);
  if (magnitude >= 1e-3 && magnitude < 1e4) return String(Number(value.toPrecision(3)));
  return value.toExponential(2).replace(/e([+-])(\d)$/, 'e$10$2');
}

export interface HeatPixels {
  rgb: Uint8Array;
  colormap: ColormapName;
  positiveOnly: boolean;
  /** Value at the ends of the colour scale. */
  vmax: number;
  levels: number | false;
}

export function heatmapPixels(attribution: Float32Array, width: number, height: number, style: HeatmapStyle): HeatPixels {
  if (attribution.length !== width * height) {
    throw new Error(`attribution has ${attribution.length} values, expected ${width}×${height} = ${width * height}`);
  }
  const levels = style.quantize ?? false;
  const map = levels === false ? attribution : quantizeHeat(attribution, levels);
  const { colormap, positiveOnly } = resolveColormap(style);
  const vmax = style.vmax ?? colorScale(map, positiveOnly);
  return { rgb: colorize(map, { colormap, positiveOnly, scale: vmax }), colormap, positiveOnly, vmax, levels };
}

/** Integer nearest-neighbour upscaling of interleaved RGB. */
export function upscaleNearest(rgb: Uint8Array, width: number, height: number, zoom: number): Uint8Array {
  if (zoom === 1) return rgb;
  const outWidth = width * zoom;
  const out = new Uint8Array(outWidth * height * zoom * 3);
  for (let y = 0; y < height * zoom; y++) {
    const sy = Math.floor(y / zoom);
    for (let x = 0; x < outWidth; x++) {
      const s = (sy * width + Math.floor(x / zoom)) * 3;
      const d = (y * outWidth + x) * 3;
      out[d] = rgb[s]!;
      out[d + 1] = rgb[s + 1]!;
      out[d + 2] = rgb[s + 2]!;
    }
  }
  return out;
}

/** A horizontal gradient of the colour scale: −vmax … +vmax, or 0 … +vmax when positive-only. */
export function colorbarPixels(colormap: ColormapName, positiveOnly: boolean, width: number, height: number): Uint8Array {
  const start = positiveOnly && isDiverging(colormap) ? 0.5 : 0;
  const out = new Uint8Array(width * height * 3);
  for (let x = 0; x < width; x++) {
    const t = start + ((1 - start) * (x + 0.5)) / width;
    const [r, g, b] = colormapColor(colormap, t);
    for (let y = 0; y < height; y++) out.set([r, g, b], (y * width + x) * 3);
  }
  return out;
}

export function figureSvg(layout: FigureLayout, options: FigureOptions, heat: HeatPixels): string {
  const captions = options.captions ?? DEFAULT_CAPTIONS;
  const { original, heatmap, overlay } = layout.panels;
  const centre = (r: Rect): number => r.left + r.width / 2;
  const text = (x: number, y: number, size: number, content: string, extra = ''): string =>
    `<text x="${x}" y="${y}" font-size="${size}" text-anchor="middle"${extra}>${escapeXml(content)}</text>`;

  // Shrink the title rather than clip it (DejaVu Sans averages ~0.6 em per character).
  const available = layout.width - 2 * FIGURE_MARGIN;
  const titleSize = Math.max(9, Math.min(TITLE_FONT_SIZE, Math.floor(available / (0.62 * Math.max(1, options.title.length)))));

  const heatCaption = [captions[1], heat.levels === false ? '' : `${heat.levels} levels`, heat.positiveOnly ? 'positive only' : '']
    .filter((part) => part !== '')
    .join(', ');
  const bar = layout.colorbar;
  const barRight = bar.left + bar.width;
  const barBottom = bar.top + bar.height;
  const max = formatScaleValue(heat.vmax);
  // Ticks at the ends and at zero (the middle, or the left end when positive-only).
  const ticks: [number, string][] = heat.positiveOnly
    ? [[bar.left, '0'], [barRight, `+${max}`]]
    : [[bar.left, `\u2212${max}`], [bar.left + bar.width / 2, '0'], [barRight, `+${max}`]];
  const tickMarks = ticks
    // Centred on a pixel column (x.5) so the 1 px line stays crisp.
    .map(([x]) => Math.min(Math.floor(x), barRight - 1) + 0.5)
    .map((x) => `<line x1="${x}" y1="${barBottom}" x2="${x}" y2="${barBottom + TICK_LENGTH}" stroke="${TEXT_COLOR}" stroke-width="1"/>`)
    .join('');
  const tickLabels = ticks.map(([x, label]) => text(x, layout.tickLabelBaseline, TICK_FONT_SIZE, label)).join('');

  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${layout.width}" height="${layout.height}">`,
    `<g font-family="${FONT_FAMILY}" fill="${TEXT_COLOR}">`,
    text(layout.width / 2, layout.titleBaseline, titleSize, options.title, ' font-weight="bold"'),
    text(centre(original), layout.captionBaseline, CAPTION_FONT_SIZE, captions[0]),
    text(centre(heatmap), layout.captionBaseline, CAPTION_FONT_SIZE, heatCaption),
    text(centre(overlay), layout.captionBaseline, CAPTION_FONT_SIZE, captions[2]),
    tickLabels,
    '</g>',
    // Hairline frames just outside the panels and the bar (panel pixels stay untouched), so
    // white (zero-relevance) areas stay distinguishable from the white background.
    [original, heatmap, overlay, bar].map(frame).join(''),
    tickMarks,
    '</svg>',
  ].join('');
}

function frame(r: Rect): string {
  return `<rect x="${r.left - 0.5}" y="${r.top - 0.5}" width="${r.width + 1}" height="${r.height + 1}" fill="none" stroke="#999999" stroke-width="1"/>`;
}

export function checkDimension(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got ${String(value)}`);
}

/** A figure taken apart: its layout, the pixels of each rectangle, and the SVG of its text and frames. */
export interface FigurePieces {
  layout: FigureLayout;
  /** Interleaved RGB pixels (3 bytes per pixel) and where they go. */
  blocks: { rgb: Uint8Array; rect: Rect }[];
  svg: string;
  heat: HeatPixels;
}

/**
 * Everything {@link renderFigure} composes: three panels, the colour bar and the text SVG,
 * drawn over a {@link BACKGROUND} canvas of `layout.width × layout.height`.
 *
 * @throws Error if the image and attribution sizes disagree or an option is invalid.
 */
export function figurePieces(options: FigureOptions): FigurePieces {
  const { image, attribution } = options;
  const { width, height } = image;
  const layout = figureLayout(width, height, options.zoom);
  if (image.rgb.length !== width * height * 3) {
    throw new Error(`renderFigure: image.rgb has ${image.rgb.length} bytes, expected ${width}×${height}×3 = ${width * height * 3}`);
  }
  const heat = heatmapPixels(attribution, width, height, options);
  const overlay = blendOverlay(image.rgb, heat.rgb, options.overlayAlpha ?? OVERLAY_ALPHA);
  const zoom = layout.zoom;
  const { original, heatmap, overlay: overlayRect } = layout.panels;
  const bar = layout.colorbar;
  return {
    layout,
    blocks: [
      { rgb: upscaleNearest(image.rgb, width, height, zoom), rect: original },
      { rgb: upscaleNearest(heat.rgb, width, height, zoom), rect: heatmap },
      { rgb: upscaleNearest(overlay, width, height, zoom), rect: overlayRect },
      { rgb: colorbarPixels(heat.colormap, heat.positiveOnly, bar.width, bar.height), rect: bar },
    ],
    svg: figureSvg(layout, options, heat),
    heat,
  };
}
