/**
 * Explanation figures: input, attribution heatmap and overlay side by side, with a title, panel
 * captions and a colour bar of the symmetric scale — the picture a user looks at to judge an
 * explanation. Pixels are composed in JS (so they can be checked exactly against
 * {@link figureLayout}); text is an SVG overlay rendered by sharp (librsvg + fontconfig).
 */
import sharp, { type OverlayOptions } from 'sharp';
import { writeFileAtomic } from '../util/atomic-write.js';
import {
  BACKGROUND, checkDimension, figurePieces, heatmapPixels, upscaleNearest, type FigureOptions, type HeatmapOptions,
} from './figure-parts.js';

export {
  blendOverlay, DEFAULT_CAPTIONS, escapeXml, FIGURE_MARGIN, FIGURE_ZOOM, figureLayout, figureZoom, formatScaleValue, MIN_PANEL_SIDE, OVERLAY_ALPHA, PANEL_GAP,
  type FigureLayout, type FigureOptions, type HeatmapOptions, type HeatmapStyle, type Rect, type RgbImage,
} from './figure-parts.js';

/**
 * Renders the three-panel figure (input | heatmap | overlay) with title, captions and colour
 * bar as a PNG.
 *
 * @throws Error if the image and attribution sizes disagree or an option is invalid.
 */
export async function renderFigure(options: FigureOptions): Promise<Buffer> {
  const { layout, blocks, svg } = figurePieces(options);
  const composites: OverlayOptions[] = [
    ...blocks.map(({ rgb, rect }): OverlayOptions => ({
      input: Buffer.from(rgb),
      raw: { width: rect.width, height: rect.height, channels: 3 },
      left: rect.left,
      top: rect.top,
    })),
    { input: Buffer.from(svg), left: 0, top: 0 },
  ];
  return sharp({ create: { width: layout.width, height: layout.height, channels: 3, background: BACKGROUND } })
    .composite(composites)
    // The canvas is opaque; compositing the SVG only adds an alpha channel we do not need.
    .removeAlpha()
    .png()
    .toBuffer();
}

/** Renders only the heatmap (no panels or text) as a PNG of (width·zoom) × (height·zoom). */
export async function renderHeatmap(options: HeatmapOptions): Promise<Buffer> {
  const { width, height } = options;
  const zoom = options.zoom ?? 1;
  checkDimension('width', width);
  checkDimension('height', height);
  checkDimension('zoom', zoom);
  const heat = heatmapPixels(options.attribution, width, height, options);
  return sharp(Buffer.from(upscaleNearest(heat.rgb, width, height, zoom)), {
    raw: { width: width * zoom, height: height * zoom, channels: 3 },
  })
    .png()
    .toBuffer();
}

/** Renders {@link renderFigure} and writes it atomically: on any error no file (or partial file) is left. */
export async function writeFigure(path: string, options: FigureOptions): Promise<void> {
  await writeFileAtomic(path, await renderFigure(options));
}

/** Renders {@link renderHeatmap} and writes it atomically. */
export async function writeHeatmap(path: string, options: HeatmapOptions): Promise<void> {
  await writeFileAtomic(path, await renderHeatmap(options));
}
