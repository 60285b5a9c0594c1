/**
 * Evaluates ONNX nodes whose inputs are all constants: the shape arithmetic exporters write
 * around a Reshape or a Pad (`x.view(x.size(0), -1)`, `F.pad(x, (0, 0, 0, 0, p, p))`) and
 * plain constant subgraphs. The unknown batch size is NaN, so it flows through Gather, Concat
 * and arithmetic and marks "the batch" wherever it lands. Only small tensors are folded.
 *
 * Browser-safe.
 */
import { attribute, intAttribute, intsAttribute, readTensor, type INode, type TensorValues } from './onnx-proto.js';

/** A constant: dims and values (NaN: the batch size, unknown until run time). */
export type Constant = TensorValues;

/** Ops this module evaluates. */
export const FOLDABLE = new Set([
  'Shape', 'Gather', 'Unsqueeze', 'Squeeze', 'Concat', 'Cast', 'Slice', 'Reshape', 'Transpose', 'ConstantOfShape',
  'Add', 'Sub', 'Mul', 'Div', 'Neg', 'Equal', 'Where', 'Range', 'Expand', 'Identity', 'Floor', 'Ceil', 'Max', 'Min', 'Not', 'Flatten', 'Sqrt',
]);

/** Integer element types of ONNX's `to` attribute (Cast): INT8…UINT64, BOOL. */
const INTEGER_TYPES = new Set([2, 3, 4, 5, 6, 7, 12, 13]);
const BOOL_TYPE = 9;

/** Largest constant folded (elements): shape arithmetic is tiny; a larger fold is a weight op we do not evaluate. */
const MAX_FOLD = 1 << 22;

function size(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

function make(dims: number[], values: number[] | Float32Array, kind: Constant['kind']): Constant {
  if (size(dims) > MAX_FOLD) throw new Error(`would fold a constant of ${size(dims)} elements`);
  return { dims, values, kind };
}

function strides(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) s[i] = s[i + 1]! * dims[i + 1]!;
  return s;
}

function normAxis(axis: number, rank: number, node: INode): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw new Error(`axis ${axis} is outside a rank-${rank} tensor (${node.opType})`);
  return a;
}

/** Broadcast elementwise op over any number of inputs (numpy rules). */
function broadcastAll(args: readonly Constant[], f: (...v: number[]) => number, kind: Constant['kind']): Constant {
  const rank = Math.max(...args.map((a) => a.dims.length));
  const padded = args.map((a) => [...new Array<number>(rank - a.dims.length).fill(1), ...a.dims]);
  const dims = Array.from({ length: rank }, (_, k) => {
    const sizes = new Set(padded.map((d) => d[k]!).filter((d) => d !== 1));
    if (sizes.size > 1) throw new Error(`cannot broadcast ${args.map((a) => `[${a.dims}]`).join(' with ')}`);
    return sizes.size === 0 ? 1 : [...sizes][0]!;
  });
  const argStrides = padded.map(strides);
  const so = strides(dims);
  const n = size(dims);
  const out = kind === 'float' ? new Float32Array(n) : new Array<number>(n);
  const values = new Array<number>(args.length);
  for (let i = 0; i < n; i++) {
    args.forEach((a, j) => {
      let index = 0;
      for (let k = 0; k < rank; k++) if (padded[j]![k] !== 1) index += (Math.floor(i / so[k]!) % dims[k]!) * argStrides[j]![k]!;
      values[j] = a.values[index]!;
    });
    out[i] = f(...values);
  }
  return make(dims, out, kind);
}

function broadcast(a: Constant, b: Constant, f: (x: number, y: number) => number, kind: Constant['kind']): Constant {
  return broadcastAll([a, b], f, kind);
}

function resultKind(a: Constant, b: Constant): Constant['kind'] {
  return a.kind === 'float' || b.kind === 'float' ? 'float' : 'int';
}

function ints(c: Constant | undefined, what: string): number[] {
  if (!c) throw new Error(`${what} is missing`);
  return Array.from(c.values);
}

/**
 * The outputs of `node` given constant inputs (`undefined` for an omitted optional input).
 *
 * @throws Error describing what cannot be evaluated (the caller names the node).
 */
export function foldNode(node: INode, inputs: readonly (Constant | undefined)[], opset: number): Constant[] {
  const op = node.opType ?? '';
  const x = inputs[0];
  const need = (c: Constant | undefined): Constant => {
    if (!c) throw new Error('an input is missing');
    return c;
  };
  switch (op) {
    case 'Identity':
      return [need(x)];
    case 'Shape': {
      const dims = need(x).dims;
      const start = intAttribute(node, 'start', 0);
      const end = attribute(node, 'end') ? intAttribute(node, 'end', dims.length) : dims.length;
      const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + dims.length : v, 0), dims.length);
      const picked = dims.slice(clamp(start), clamp(end));
      return [make([picked.length], picked, 'int')];
    }
    case 'Gather': {
      const data = need(x);
      const indices = need(inputs[1]);
      const axis = normAxis(intAttribute(node, 'axis', 0), data.dims.length, node);
      const outer = size(data.dims.slice(0, axis));
      const inner = size(data.dims.slice(axis + 1));
      const n = data.dims[axis]!;
      const idx = Array.from(indices.values, (i) => (i < 0 ? i + n : i));
      if (idx.some((i) => !(i >= 0 && i < n))) throw new Error(`index out of range for axis of size ${n}`);
      const out: number[] = [];
      for (let o = 0; o < outer; o++) for (const i of idx) for (let k = 0; k < inner; k++) out.push(data.values[(o * n + i) * inner + k]!);
      const dims = [...data.dims.slice(0, axis), ...indices.dims, ...data.dims.slice(axis + 1)];
      return [make(dims, data.kind === 'float' ? Float32Array.from(out) : out, data.kind)];
    }
    case 'Unsqueeze': {
      const data = need(x);
      const axes = opset >= 13 ? ints(inputs[1], 'axes') : intsAttribute(node, 'axes') ?? [];
      const rank = data.dims.length + axes.length;
      const norm = axes.map((a) => normAxis(a, rank, node)).sort((a, b) => a - b);
      const dims = [...data.dims];
      for (const a of norm) dims.splice(a, 0, 1);
      return [make(dims, data.values, data.kind)];
    }
    case 'Squeeze': {
      const data = need(x);
      const given = opset >= 13 ? (inputs[1] ? ints(inputs[1], 'axes') : undefined) : intsAttribute(node, 'axes');
      const axes = given ? given.map((a) => normAxis(a, data.dims.length, node)) : data.dims.flatMap((d, i) => (d === 1 ? [i] : []));
      return [make(data.dims.filter((_, i) => !axes.includes(i)), data.values, data.kind)];
    }
    case 'Flatten': {
      const data = need(x);
      const axis = intAttribute(node, 'axis', 1);
      const a = axis < 0 ? axis + data.dims.length : axis;
      return [make([size(data.dims.slice(0, a)), size(data.dims.slice(a))], data.values, data.kind)];
    }
    case 'Concat': {
      const parts = inputs.filter((c): c is Constant => c !== undefined);
      const rank = parts[0]!.dims.length;
      const axis = normAxis(intAttribute(node, 'axis', 0), rank, node);
      const outer = size(parts[0]!.dims.slice(0, axis));
      const out: number[] = [];
      for (let o = 0; o < outer; o++) {
        for (const p of parts) {
          const chunk = size(p.dims.slice(axis));
          for (let k = 0; k < chunk; k++) out.push(p.values[o * chunk + k]!);
        }
      }
      const dims = [...parts[0]!.dims];
      dims[axis] = parts.reduce((s, p) => s + p.dims[axis]!, 0);
      const kind = parts.some((p) => p.kind === 'float') ? 'float' : parts[0]!.kind;
      return [make(dims, kind === 'float' ? Float32Array.from(out) : out, kind)];
    }
    case 'Cast': {
      const data = need(x);
      const to = intAttribute(node, 'to', 1);
      if (to === BOOL_TYPE) return [make(data.dims, Array.from(data.values, (v) => (v !== 0 ? 1 : 0)), 'bool')];
      if (INTEGER_TYPES.has(to)) return [make(data.dims, Array.from(data.values, (v) => (Number.isNaN(v) ? v : Math.trunc(v))), 'int')];
      return [make(data.dims, Float32Array.from(data.values), 'float')];
    }
    case 'Slice': {
      const data = need(x);
      const rank = data.dims.length;
      const starts = opset >= 10 ? ints(inputs[1], 'starts') : intsAttribute(node, 'starts') ?? [];
      const ends = opset >= 10 ? ints(inputs[2], 'ends') : intsAttribute(node, 'ends') ?? [];
      const axes = (opset >= 10 ? (inputs[3] ? ints(inputs[3], 'axes') : undefined) : intsAttribute(node, 'axes')) ?? starts.map((_, i) => i);
      const steps = opset >= 10 && inputs[4] ? ints(inputs[4], 'steps') : starts.map(() => 1);
      const ranges = data.dims.map((d) => ({ start: 0, step: 1, count: d }));
      axes.forEach((axis, k) => {
        const a = normAxis(axis, rank, node);
        ranges[a] = sliceRange(data.dims[a]!, starts[k]!, ends[k]!, steps[k]!);
      });
      const inStrides = strides(data.dims);
      const dims = ranges.map((r) => r.count);
      const n = size(dims);
      const so = strides(dims);
      const out = data.kind === 'float' ? new Float32Array(n) : new Array<number>(n);
      for (let i = 0; i < n; i++) {
        let src = 0;
        for (let k = 0; k < rank; k++) src += (ranges[k]!.start + (Math.floor(i / so[k]!) % dims[k]!) * ranges[k]!.step) * inStrides[k]!;
        out[i] = data.values[src]!;
      }
      return [make(dims, out, data.kind)];
    }
    case 'Reshape': {
      const data = need(x);
      const target = ints(inputs[1], 'shape');
      const allowZero = intAttribute(node, 'allowzero', 0) === 1;
      const dims = target.map((d, i) => (d === 0 && !allowZero ? data.dims[i]! : d));
      const known = dims.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
      const total = size(data.dims);
      const resolved = dims.map((d) => (d === -1 ? total / known : d));
      if (size(resolved) !== total || resolved.some((d) => !Number.isInteger(d) || d < 0)) throw new Error(`cannot reshape [${data.dims}] to [${target}]`);
      return [make(resolved, data.values, data.kind)];
    }
    case 'Transpose': {
      const data = need(x);
      const rank = data.dims.length;
      const perm = intsAttribute(node, 'perm') ?? data.dims.map((_, i) => rank - 1 - i);
      const dims = perm.map((p) => data.dims[p]!);
      const si = strides(data.dims);
      const so = strides(dims);
      const n = size(dims);
      const out = data.kind === 'float' ? new Float32Array(n) : new Array<number>(n);
      for (let i = 0; i < n; i++) {
        let src = 0;
        for (let k = 0; k < rank; k++) src += (Math.floor(i / so[k]!) % dims[k]!) * si[perm[k]!]!;
        out[i] = data.values[src]!;
      }
      return [make(dims, out, data.kind)];
    }
    case 'ConstantOfShape': {
      const dims = ints(x, 'shape');
      if (dims.some((d) => !Number.isInteger(d) || d < 0)) throw new Error(`shape [${dims}] is not a list of sizes`);
      const valueTensor = attribute(node, 'value')?.t;
      const value = valueTensor ? readTensor(valueTensor) : { values: [0], kind: 'float' as const, dims: [1] };
      const n = size(dims);
      return [make(dims, value.kind === 'float' ? new Float32Array(n).fill(value.values[0]!) : new Array<number>(n).fill(value.values[0]!), value.kind)];
    }
    case 'Expand': {
      const data = need(x);
      const shape = ints(inputs[1], 'shape');
      return [broadcast(data, make(shape, new Array<number>(size(shape)).fill(0), 'int'), (v) => v, data.kind)];
    }
    case 'Add':
      return [broadcast(need(x), need(inputs[1]), (a, b) => a + b, resultKind(need(x), need(inputs[1])))];
    case 'Sub':
      return [broadcast(need(x), need(inputs[1]), (a, b) => a - b, resultKind(need(x), need(inputs[1])))];
    case 'Mul':
      return [broadcast(need(x), need(inputs[1]), (a, b) => a * b, resultKind(need(x), need(inputs[1])))];
    case 'Div': {
      const kind = resultKind(need(x), need(inputs[1]));
      return [broadcast(need(x), need(inputs[1]), (a, b) => (kind === 'int' ? Math.trunc(a / b) : a / b), kind)];
    }
    case 'Max':
      return [inputs.map(need).reduce((a, b) => broadcast(a, b, Math.max, resultKind(a, b)))];
    case 'Min':
      return [inputs.map(need).reduce((a, b) => broadcast(a, b, Math.min, resultKind(a, b)))];
    case 'Equal':
      return [broadcast(need(x), need(inputs[1]), (a, b) => (a === b ? 1 : 0), 'bool')];
    case 'Where': {
      const [a, b] = [need(inputs[1]), need(inputs[2])];
      return [broadcastAll([need(x), a, b], (c, v, w) => (c ? v! : w!), resultKind(a, b))];
    }
    case 'Neg':
      return [broadcastAll([need(x)], (v) => -v!, need(x).kind === 'float' ? 'float' : 'int')];
    case 'Not':
      return [make(need(x).dims, Array.from(need(x).values, (v) => (v ? 0 : 1)), 'bool')];
    case 'Floor':
    case 'Ceil':
    case 'Sqrt': {
      const f = op === 'Floor' ? Math.floor : op === 'Ceil' ? Math.ceil : Math.sqrt;
      return [make(need(x).dims, Float32Array.from(need(x).values, f), 'float')];
    }
    case 'Range': {
      const [start, limit, delta] = [need(x).values[0]!, need(inputs[1]).values[0]!, need(inputs[2]).values[0]!];
      const n = Math.max(Math.ceil((limit - start) / delta), 0);
      if (!Number.isFinite(n)) throw new Error('the range is not finite');
      const values = Array.from({ length: n }, (_, i) => start + i * delta);
      const kind = need(x).kind === 'float' ? 'float' : 'int';
      return [make([n], kind === 'float' ? Float32Array.from(values) : values, kind)];
    }
    default:
      throw new Error(`${op} is not evaluated on constants`);
  }
}

/** A Slice's range along one axis of size `n` (ONNX clamping rules). */
export function sliceRange(n: number, start: number, end: number, step: number): { start: number; step: number; count: number } {
  if (!Number.isInteger(step) || step === 0) throw new Error(`slice step ${step} must be a non-zero integer`);
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  let s = start < 0 ? start + n : start;
  let e = end < 0 ? end + n : end;
  if (step > 0) {
    s = clamp(s, 0, n);
    e = clamp(e, 0, n);
  } else {
    s = clamp(s, -1, n - 1);
    e = clamp(e, -1, n - 1);
  }
  const count = Math.max(0, Math.ceil((e - s) / step));
  return { start: s, step, count };
}
