/**
 * Colormaps for attribution maps. Relevance is signed, so the default maps are diverging and
 * used with a symmetric scale centred on zero: 0 → the middle (white-ish) colour, +max → red,
 * −max → blue, where max = max |value|. Equal magnitudes of opposite sign thus get equally
 * strong colours, which a min–max scale would not guarantee.
 */

/** Diverging colormaps (for signed maps). */
export type DivergingColormapName = 'bwr' | 'RdBu_r';
/** Sequential colormaps (for positive-only maps; 0 → first colour). */
export type SequentialColormapName = 'Reds' | 'hot';
export type ColormapName = DivergingColormapName | SequentialColormapName;

/** An RGB colour, channels 0..255. */
export type Rgb = readonly [number, number, number];

interface Colormap {
  readonly kind: 'diverging' | 'sequential';
  /** Anchor colours evenly spaced over t ∈ [0, 1], linearly interpolated in between. */
  readonly anchors: readonly Rgb[];
}

function hex(code: string): Rgb {
  return [parseInt(code.slice(0, 2), 16), parseInt(code.slice(2, 4), 16), parseInt(code.slice(4, 6), 16)];
}

const COLORMAPS: Readonly<Record<ColormapName, Colormap>> = {
  // zennit's `bwr` ('00f,80:fff,f00'): blue → white → red. zennit puts white at palette index
  // 0x80 (t ≈ 0.502); here it sits at exactly 0.5 so that a relevance of 0 is pure white.
  bwr: { kind: 'diverging', anchors: [hex('0000ff'), hex('ffffff'), hex('ff0000')] },
  // matplotlib's RdBu (its 11-point ColorBrewer anchor table in _cm.py), reversed so that
  // positive is red; the centre is light grey #f7f7f7.
  RdBu_r: {
    kind: 'diverging',
    anchors: ['67001f', 'b2182b', 'd6604d', 'f4a582', 'fddbc7', 'f7f7f7', 'd1e5f0', '92c5de', '4393c3', '2166ac', '053061']
      .reverse()
      .map(hex),
  },
  // matplotlib's Reds (ColorBrewer, 9 points): near-white → dark red.
  Reds: {
    kind: 'sequential',
    anchors: ['fff5f0', 'fee0d2', 'fcbba1', 'fc9272', 'fb6a4a', 'ef3b2c', 'cb181d', 'a50f15', '67000d'].map(hex),
  },
  // zennit's `hot` ('000,f00,ff0,fff'): black → red → yellow → white.
  hot: { kind: 'sequential', anchors: [hex('000000'), hex('ff0000'), hex('ffff00'), hex('ffffff')] },
};

/** All colormap names, diverging first. */
export const COLORMAP_NAMES: readonly ColormapName[] = Object.freeze(Object.keys(COLORMAPS) as ColormapName[]);

/** Default colormap for signed maps. */
export const DEFAULT_COLORMAP: DivergingColormapName = 'bwr';
/** Default colormap when `positiveOnly` is requested without a colormap. */
export const DEFAULT_POSITIVE_COLORMAP: SequentialColormapName = 'Reds';

function lookup(name: ColormapName): Colormap {
  const colormap = (COLORMAPS as Record<string, Colormap | undefined>)[name];
  if (colormap === undefined) {
    throw new Error(`unknown colormap ${JSON.stringify(name)}; expected one of ${COLORMAP_NAMES.join(', ')}`);
  }
  return colormap;
}

/** Whether `name` is a diverging (signed, zero-centred) colormap. */
export function isDiverging(name: ColormapName): boolean {
  return lookup(name).kind === 'diverging';
}

/** The colour at position t ∈ [0, 1] of a colormap (t is clamped; NaN → 0.5 for diverging, 0 otherwise). */
export function colormapColor(name: ColormapName, t: number): Rgb {
  const { anchors, kind } = lookup(name);
  const out: [number, number, number] = [0, 0, 0];
  sample(anchors, Number.isNaN(t) ? (kind === 'diverging' ? 0.5 : 0) : t, out, 0);
  return out;
}

function sample(anchors: readonly Rgb[], t: number, out: Uint8Array | number[], offset: number): void {
  const clamped = t <= 0 ? 0 : t >= 1 ? 1 : t;
  const position = clamped * (anchors.length - 1);
  const k = Math.min(Math.floor(position), anchors.length - 2);
  const f = position - k;
  const a = anchors[k]!;
  const b = anchors[k + 1]!;
  for (let c = 0; c < 3; c++) out[offset + c] = Math.round(a[c]! + (b[c]! - a[c]!) * f);
}

/** Options of {@link colorize}. */
export interface ColorizeOptions {
  /** Default {@link DEFAULT_COLORMAP}, or {@link DEFAULT_POSITIVE_COLORMAP} when `positiveOnly`. */
  colormap?: ColormapName;
  /**
   * Show only positive relevance: negative values are clipped to 0 and the scale runs 0 … max.
   * Implied by a sequential colormap; with a diverging one, its upper (white → red) half is used.
   */
  positiveOnly?: boolean;
  /**
   * The value mapped to the end of the scale (default: {@link colorScale} of the map). Values
   * beyond it saturate. Useful to render several maps on one common scale.
   */
  scale?: number;
}

/**
 * The scale {@link colorize} uses by default: max |value| over finite values (max of the
 * positive values when `positiveOnly`); 0 for an all-zero map.
 */
export function colorScale(map: ArrayLike<number>, positiveOnly = false): number {
  let scale = 0;
  for (let i = 0; i < map.length; i++) {
    const v = map[i]!;
    if (!Number.isFinite(v)) continue;
    const magnitude = positiveOnly ? v : Math.abs(v);
    if (magnitude > scale) scale = magnitude;
  }
  return scale;
}

/** Resolves the colormap / positive-only combination, rejecting a contradictory one. */
export function resolveColormap(options: Pick<ColorizeOptions, 'colormap' | 'positiveOnly'>): {
  colormap: ColormapName;
  positiveOnly: boolean;
} {
  const colormap = options.colormap ?? (options.positiveOnly ? DEFAULT_POSITIVE_COLORMAP : DEFAULT_COLORMAP);
  const diverging = isDiverging(colormap);
  if (!diverging && options.positiveOnly === false) {
    throw new Error(`colormap ${colormap} is sequential and can only show positive values; use bwr or RdBu_r for signed maps`);
  }
  return { colormap, positiveOnly: options.positiveOnly ?? !diverging };
}

/**
 * Maps each value of `map` to a colour, returning interleaved RGB (map.length × 3).
 *
 * Signed (default): t = 0.5 + value / (2·scale), so 0 → middle colour, +scale → last colour
 * (red), −scale → first colour (blue). Positive-only: t = max(value, 0) / scale on a sequential
 * map, or 0.5 + t/2 on a diverging one. An all-zero map (scale 0) and NaN values give the colour
 * of 0; ±Infinity saturate.
 */
export function colorize(map: ArrayLike<number>, options: ColorizeOptions = {}): Uint8Array {
  const { colormap, positiveOnly } = resolveColormap(options);
  const { anchors, kind } = lookup(colormap);
  const scale = options.scale ?? colorScale(map, positiveOnly);
  if (!(scale >= 0) || !Number.isFinite(scale)) {
    throw new Error(`colorize: scale must be a finite number ≥ 0, got ${String(scale)}`);
  }
  // Dividing by zero would give NaN for an all-zero map; any positive stand-in maps 0 to 0.
  const inverse = scale > 0 ? 1 / scale : 1;
  const out = new Uint8Array(map.length * 3);
  for (let i = 0; i < map.length; i++) {
    let v = map[i]!;
    if (Number.isNaN(v)) v = 0;
    let t: number;
    if (positiveOnly) {
      const u = v > 0 ? v * inverse : 0;
      t = kind === 'diverging' ? 0.5 + 0.5 * u : u;
    } else {
      t = 0.5 + 0.5 * v * inverse;
    }
    sample(anchors, t, out, i * 3);
  }
  return out;
}
