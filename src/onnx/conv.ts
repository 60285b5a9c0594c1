/**
 * Convolution and transposed convolution in the graph's precision. In float32 these are
 * onnxruntime's own Conv / ConvTranspose. onnxruntime's CPU provider has no float64 kernels
 * for either, so in float64 a conv is written as patch extraction (strided Slices) and a
 * MatMul, and a transposed conv as zero-insertion, padding and a conv with the flipped kernel.
 */
import { windowOutputSize } from '../graph/graph.js';
import type { OnnxGraphBuilder } from './graph-builder.js';

/** Geometry of a 2-D convolution; `pads` in ONNX order `[top, left, bottom, right]`. */
export interface ConvGeometry {
  readonly kernel: readonly number[];
  readonly strides: readonly number[];
  readonly pads: readonly number[];
  readonly dilations?: readonly number[];
  /** Groups (ONNX `group`): 1, the channel count for a depthwise conv, or anything between. */
  readonly groups?: number;
}

function dilationsOf(geo: ConvGeometry): [number, number] {
  return [geo.dilations?.[0] ?? 1, geo.dilations?.[1] ?? 1];
}

function groupAttributes(geo: ConvGeometry): Record<string, number | readonly number[]> {
  const [dh, dw] = dilationsOf(geo);
  return { ...(geo.groups && geo.groups > 1 ? { group: geo.groups } : {}), ...(dh !== 1 || dw !== 1 ? { dilations: [dh, dw] } : {}) };
}

/**
 * `Conv(x, kernel)` for `x` of shape (N, C, H, W) given as `inShape` = [C, H, W] and a kernel
 * (M, C/group, kh, kw); returns (N, M, H', W').
 */
export function conv(g: OnnxGraphBuilder, x: string, kernel: string, geo: ConvGeometry, inShape: readonly number[], out: string, bias?: string): string {
  if (g.precision === 'float32') {
    const inputs = bias ? [x, kernel, bias] : [x, kernel];
    return g.op('Conv', inputs, out, { kernel_shape: geo.kernel, strides: geo.strides, pads: geo.pads, ...groupAttributes(geo) });
  }
  const y = convByMatMul(g, x, kernel, geo, inShape, out);
  return bias ? g.op('Add', [y, g.op('Unsqueeze', [bias, g.ints([1, 2])], `${bias}:chw`)], `${out}:biased`) : y;
}

/**
 * `ConvTranspose(s, kernel)`: the adjoint of {@link conv} with the same kernel and geometry,
 * producing the conv's input shape `inShape` = [C, H, W] from `s` of shape (N, M, H', W').
 */
export function convTranspose(g: OnnxGraphBuilder, s: string, kernel: string, geo: ConvGeometry, inShape: readonly number[], outShape: readonly number[], out: string): string {
  const [kh, kw] = geo.kernel as [number, number];
  const [sh, sw] = geo.strides as [number, number];
  const [pt, pl, pb, pr] = geo.pads as [number, number, number, number];
  const [dh, dw] = dilationsOf(geo);
  const [, hIn, wIn] = inShape as [number, number, number];
  const [m, hOut, wOut] = outShape as [number, number, number];
  const spanH = (kh - 1) * dh + 1;
  const spanW = (kw - 1) * dw + 1;
  // Rows/columns of the input that no window reaches (the conv floor-divided them away), or
  // (negative) padding a ceil_mode window reaches beyond the end.
  const extraH = hIn - ((hOut - 1) * sh + spanH - pt - pb);
  const extraW = wIn - ((wOut - 1) * sw + spanW - pl - pr);
  const groups = geo.groups ?? 1;
  if (extraH < 0 || extraW < 0 || extraH >= Math.max(sh, dh) || extraW >= Math.max(sw, dw)) {
    // Outside what ConvTranspose's output_padding expresses: transpose without padding, then cut.
    return cropTransposed(g, s, kernel, geo, inShape, outShape, out);
  }
  if (g.precision === 'float32') {
    if (sh === sw && sh > 1 && kh >= sh && kw >= sw && groups === 1 && dh === 1 && dw === 1) return convTransposeByPhases(g, s, kernel, geo, inShape, outShape, out);
    return g.op('ConvTranspose', [s, kernel], out, {
      kernel_shape: geo.kernel, strides: geo.strides, pads: geo.pads, output_padding: [extraH, extraW], ...groupAttributes(geo),
    });
  }
  // Insert stride−1 zeros between the values, pad by span−1−p (plus the unreached rows), and
  // correlate with the flipped, transposed kernel.
  let d = s;
  if (sh > 1 || sw > 1) {
    d = g.op('Reshape', [s, g.ints([0, m, hOut, 1, wOut, 1])], `${out}/split_axes`);
    d = g.op('Pad', [d, g.ints([0, 0, 0, 0, 0, 0, 0, 0, 0, sh - 1, 0, sw - 1])], `${out}/zeros`);
    d = g.op('Reshape', [d, g.ints([0, m, hOut * sh, wOut * sw])], `${out}/dilated`);
  }
  const dilatedH = hOut * sh;
  const dilatedW = wOut * sw;
  // Trailing zeros after the last value: (stride − 1) of them; the padding below accounts for them.
  const padBottom = spanH - 1 - pb + extraH - (sh - 1);
  const padRight = spanW - 1 - pr + extraW - (sw - 1);
  const flipped = flipTranspose(g, kernel, kh, kw, groups, inShape[0]!, m);
  return conv(g, d, flipped, { kernel: geo.kernel, strides: [1, 1], pads: [spanH - 1 - pt, spanW - 1 - pl, padBottom, padRight], dilations: [dh, dw], groups }, [m, dilatedH, dilatedW], out);
}

/**
 * The transposed conv over the whole padded input (no pads, no output padding), cut to the
 * input: positions in the padding are dropped, rows no window reaches get zeros.
 */
function cropTransposed(g: OnnxGraphBuilder, s: string, kernel: string, geo: ConvGeometry, inShape: readonly number[], outShape: readonly number[], out: string): string {
  const [kh, kw] = geo.kernel as [number, number];
  const [sh, sw] = geo.strides as [number, number];
  const [pt, pl] = geo.pads as [number, number];
  const [dh, dw] = dilationsOf(geo);
  const [c, hIn, wIn] = inShape as [number, number, number];
  const [, hOut, wOut] = outShape as [number, number, number];
  const fullH = (hOut - 1) * sh + (kh - 1) * dh + 1;
  const fullW = (wOut - 1) * sw + (kw - 1) * dw + 1;
  const full = convTranspose(g, s, kernel, { ...geo, pads: [0, 0, 0, 0] }, [c, fullH, fullW], outShape, `${out}/full`);
  // Input row y is full row y + pt; rows past the full map get nothing.
  const padH = Math.max(0, pt + hIn - fullH);
  const padW = Math.max(0, pl + wIn - fullW);
  const extended = padH > 0 || padW > 0 ? g.op('Pad', [full, g.ints([0, 0, 0, 0, 0, 0, padH, padW])], `${out}/extended`) : full;
  return g.op('Slice', [extended, g.ints([pt, pl]), g.ints([pt + hIn, pl + wIn]), g.ints([2, 3])], out);
}

/**
 * A strided transposed conv as one stride-1 conv and a pixel shuffle: output row y = s·Y + p − pad
 * only meets kernel rows ≡ p (mod s), so each of the s² phases (p, q) is a correlation of the
 * input with a ⌈k/s⌉ × ⌈k/s⌉ sub-kernel; stacked as output channels, DepthToSpace interleaves
 * them. onnxruntime runs this conv in its blocked layout, several times faster than its
 * ConvTranspose (the stem's adjoint: 7×7/2, 64 → 3 channels per term). The sub-kernels are ops
 * on the initializer, folded when the session is created.
 */
function convTransposeByPhases(g: OnnxGraphBuilder, x: string, kernel: string, geo: ConvGeometry, inShape: readonly number[], outShape: readonly number[], out: string): string {
  const [kh, kw] = geo.kernel as [number, number];
  const [stride] = geo.strides as [number, number];
  const [pt, pl] = geo.pads as [number, number];
  const [, hIn, wIn] = inShape as [number, number, number];
  const [m, hOut, wOut] = outShape as [number, number, number];
  const th = Math.ceil(kh / stride);
  const tw = Math.ceil(kw / stride);
  // (M, C, kh, kw) → zero-padded to (M, C, s·th, s·tw) → (M, C, th, s, tw, s): row ky = s·t + p.
  const padded = g.op('Pad', [kernel, g.ints([0, 0, 0, 0, 0, 0, stride * th - kh, stride * tw - kw])], `${out}/kernel_padded`);
  const split = g.op('Reshape', [padded, g.ints([0, 0, th, stride, tw, stride])], `${out}/kernel_phases`);
  // Tap a of the correlation reads input row Y − (th − 1) + a, i.e. t = th − 1 − a: reverse t.
  const flipped = g.op('Slice', [split, g.ints([-1, -1]), g.ints([-th - 1, -tw - 1]), g.ints([2, 4]), g.ints([-1, -1])], `${out}/kernel_flipped`);
  // Output channel c·s² + p·s + q (DepthToSpace's CRD order), input channel m.
  const phases = g.op('Reshape', [g.op('Transpose', [flipped], `${out}/kernel_crd`, { perm: [1, 3, 5, 0, 2, 4] }), g.ints([-1, m, th, tw])], `${out}/kernel_stacked`);
  // Phase rows Y cover y + pad ∈ [0, s·Y_n); the input needs th − 1 rows of zeros before it.
  const rows = Math.ceil((hIn + pt) / stride);
  const cols = Math.ceil((wIn + pl) / stride);
  const padBottom = Math.max(0, rows - hOut);
  const padRight = Math.max(0, cols - wOut);
  const conv = g.op('Conv', [x, phases], `${out}/phases`, { kernel_shape: [th, tw], strides: [1, 1], pads: [th - 1, tw - 1, padBottom, padRight] });
  const shuffled = g.op('DepthToSpace', [conv], `${out}/shuffled`, { blocksize: stride, mode: 'CRD' });
  const fullH = stride * (hOut + padBottom);
  const fullW = stride * (wOut + padRight);
  if (pt === 0 && pl === 0 && fullH === hIn && fullW === wIn) return g.op('Identity', [shuffled], out);
  return g.op('Slice', [shuffled, g.ints([pt, pl]), g.ints([pt + hIn, pl + wIn]), g.ints([2, 3])], out);
}

/**
 * The kernel of the adjoint as a stride-1 correlation: in/out channels swapped within each
 * group, both spatial axes reversed. `(M, C/G, kh, kw)` → `(C, M/G, kh, kw)`.
 */
export function flipTranspose(g: OnnxGraphBuilder, kernel: string, kh: number, kw: number, groups = 1, inChannels = 0, outChannels = 0): string {
  let t: string;
  if (groups === 1) t = g.op('Transpose', [kernel], `${kernel}:T`, { perm: [1, 0, 2, 3] });
  else if (inChannels === groups && outChannels === groups) t = kernel; // depthwise: one channel per group each way
  else {
    const grouped = g.op('Reshape', [kernel, g.ints([groups, outChannels / groups, inChannels / groups, kh, kw])], `${kernel}:groups`);
    const swapped = g.op('Transpose', [grouped], `${kernel}:groupsT`, { perm: [0, 2, 1, 3, 4] });
    t = g.op('Reshape', [swapped, g.ints([inChannels, outChannels / groups, kh, kw])], `${kernel}:T`);
  }
  if (kh === 1 && kw === 1) return t;
  return g.op('Slice', [t, g.ints([-1, -1]), g.ints([-kh - 1, -kw - 1]), g.ints([2, 3]), g.ints([-1, -1])], `${kernel}:Tflip`);
}

/** float64 conv: gather the kh·kw shifted, strided views of x and contract with the kernel. */
function convByMatMul(g: OnnxGraphBuilder, x: string, kernel: string, geo: ConvGeometry, inShape: readonly number[], out: string): string {
  const [c, h, w] = inShape as [number, number, number];
  const [kh, kw] = geo.kernel as [number, number];
  const [sh, sw] = geo.strides as [number, number];
  const [pt, pl, pb, pr] = geo.pads as [number, number, number, number];
  const [dh, dw] = dilationsOf(geo);
  const groups = geo.groups ?? 1;
  const hOut = windowOutputSize(h, kh, sh, pt, pb, dh);
  const wOut = windowOutputSize(w, kw, sw, pl, pr, dw);
  const padded = pt + pb + pl + pr > 0 ? g.op('Pad', [x, g.ints([0, 0, pt, pl, 0, 0, pb, pr])], `${out}/padded`) : x;
  const views: string[] = [];
  for (let ky = 0; ky < kh; ky++) {
    for (let kx = 0; kx < kw; kx++) {
      const [y0, x0] = [ky * dh, kx * dw];
      const view = g.op('Slice', [padded, g.ints([y0, x0]), g.ints([y0 + (hOut - 1) * sh + 1, x0 + (wOut - 1) * sw + 1]), g.ints([2, 3]), g.ints([sh, sw])], `${out}/view`);
      views.push(views.length === 0 && kh * kw === 1 ? view : g.op('Unsqueeze', [view, g.ints([2])], `${out}/view5`));
    }
  }
  const stacked = views.length === 1 ? views[0]! : g.op('Concat', views, `${out}/patches5`, { axis: 2 });
  if (groups === 1) {
    const patches = g.op('Reshape', [stacked, g.ints([0, c * kh * kw, hOut * wOut])], `${out}/patches`);
    const matrix = g.op('Reshape', [kernel, g.ints([0, -1])], `${kernel}:matrix`);
    const y = g.op('MatMul', [matrix, patches], `${out}/flat`);
    return g.op('Reshape', [y, g.ints([0, -1, hOut, wOut])], out);
  }
  // Per group: (N, G, C/G·kh·kw, H'·W') contracted with the kernel as (G, M/G, C/G·kh·kw).
  const patches = g.op('Reshape', [stacked, g.ints([0, groups, (c / groups) * kh * kw, hOut * wOut])], `${out}/patches`);
  const matrix = g.op('Reshape', [kernel, g.ints([groups, -1, (c / groups) * kh * kw])], `${kernel}:matrix`);
  const y = g.op('MatMul', [matrix, patches], `${out}/flat`);
  return g.op('Reshape', [y, g.ints([0, -1, hOut, wOut])], out);
}
