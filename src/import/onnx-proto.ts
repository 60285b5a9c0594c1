/**
 * Reading `onnx-proto` messages: tensors as numbers, attributes as plain values. Browser-safe.
 */
import onnxProto from 'onnx-proto';

export const { onnx } = onnxProto;
// Decoded messages always carry their repeated fields (empty by default): type them so.
export type IAttribute = onnxProto.onnx.IAttributeProto;
export type ITensor = onnxProto.onnx.ITensorProto;
export type INode = onnxProto.onnx.INodeProto & { input: string[]; output: string[]; attribute: IAttribute[] };
export type IValueInfo = onnxProto.onnx.IValueInfoProto;
export interface IGraph {
  name?: string | null;
  node: INode[];
  initializer: ITensor[];
  input: IValueInfo[];
  output: IValueInfo[];
}
type Long = { toNumber(): number };

/** A tensor's values as numbers, with its element kind. */
export interface TensorValues {
  readonly dims: number[];
  /** float32 data for float tensors, numbers for integer and bool tensors. */
  readonly values: Float32Array | number[];
  readonly kind: 'float' | 'int' | 'bool';
}

/** Largest element count read from a tensor (2^31 − 1: no typed array of a larger model fits anyway). */
const MAX_ELEMENTS = 2 ** 31 - 1;

/**
 * Reads a float/int/bool tensor (raw or typed fields).
 *
 * @throws Error (without the tensor's name: the caller adds it) for external data, unsupported
 *   element types and data that does not fit the dims.
 */
export function readTensor(t: ITensor): TensorValues {
  const dims = (t.dims ?? []).map(toNumber);
  if (dims.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new Error(`has invalid dims [${dims}]`);
  const count = dims.reduce((a, b) => a * b, 1);
  if (count > MAX_ELEMENTS) throw new Error(`has ${count} elements, more than any model this library can run`);
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL || (t.externalData?.length ?? 0) > 0) {
    throw new Error('its data is in an external file; save the model as one file (onnx.save(model, path, save_as_external_data=False))');
  }
  const raw = t.rawData && t.rawData.length > 0 ? t.rawData : undefined;
  const view = raw ? new DataView(raw.buffer, raw.byteOffset, raw.byteLength) : undefined;
  const type = t.dataType ?? 0;
  const { DataType } = onnx.TensorProto;
  const read = (out: Float32Array | number[], size: number, fromRaw: (offset: number) => number, typed: ArrayLike<number | Long> | null | undefined) => {
    if (view) {
      if (view.byteLength !== count * size) throw new Error(`has ${view.byteLength} bytes of data for dims [${dims}]`);
      for (let i = 0; i < count; i++) out[i] = fromRaw(i * size);
    } else {
      if (!typed || typed.length !== count) throw new Error(`has ${typed?.length ?? 0} values for dims [${dims}]`);
      for (let i = 0; i < count; i++) out[i] = toNumber(typed[i]!);
    }
    return out;
  };
  switch (type) {
    case DataType.FLOAT:
      return { dims, kind: 'float', values: read(new Float32Array(count), 4, (o) => view!.getFloat32(o, true), t.floatData) };
    case DataType.DOUBLE:
      return { dims, kind: 'float', values: read(new Float32Array(count), 8, (o) => view!.getFloat64(o, true), t.doubleData) };
    case DataType.INT64:
      return { dims, kind: 'int', values: read(new Array<number>(count), 8, (o) => Number(view!.getBigInt64(o, true)), t.int64Data) };
    case DataType.INT32:
      return { dims, kind: 'int', values: read(new Array<number>(count), 4, (o) => view!.getInt32(o, true), t.int32Data) };
    case DataType.BOOL:
      return { dims, kind: 'bool', values: read(new Array<number>(count), 1, (o) => view!.getUint8(o), t.int32Data) };
    default:
      throw new Error(`has element type ${dataTypeName(type)}; convert the model to float32`);
  }
}

export function attribute(node: INode, name: string): IAttribute | undefined {
  return node.attribute?.find((a) => a.name === name);
}

/** An INTS attribute's values, or undefined when absent. */
export function intsAttribute(node: INode, name: string): number[] | undefined {
  const a = attribute(node, name);
  return a ? (a.ints ?? []).map(toNumber) : undefined;
}

/** An INT attribute's value, or `fallback`. */
export function intAttribute(node: INode, name: string, fallback: number): number {
  const a = attribute(node, name);
  return a ? toNumber(a.i) : fallback;
}

/** A FLOAT attribute's value, or `fallback`. */
export function floatAttribute(node: INode, name: string, fallback: number): number {
  const a = attribute(node, name);
  return a ? Number(a.f ?? 0) : fallback;
}

/** A STRING attribute's value, or `fallback`. */
export function stringAttribute(node: INode, name: string, fallback: string): string {
  const a = attribute(node, name);
  return a?.s ? new TextDecoder().decode(a.s) : fallback;
}

export function toNumber(v: number | Long | string | null | undefined): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return Number(v);
  return v.toNumber();
}

export function dataTypeName(type: number): string {
  return onnx.TensorProto.DataType[type] ?? `type ${type}`;
}
