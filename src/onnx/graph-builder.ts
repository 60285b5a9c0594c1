/**
 * A small typed builder for ONNX graphs over the `onnx-proto` message classes. It knows
 * nothing about neural networks or LRP: it names tensors, adds nodes and initializers, and
 * serializes a model that onnxruntime can load.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
/** Attribute values: integers, integer lists, strings, or `{ float }` for float attributes. */
export type AttributeValue = number | readonly number[] | string | { float: number };

/** ONNX opset this project emits (ONNX 1.12; every op used here is stable at this version). */
export const OPSET = 17;
const IR_VERSION = 8;

/** Element types used in our graphs. */
export type ElementType = 'float32' | 'float64' | 'int64' | 'uint8';
const ELEMENT_TYPE: Record<ElementType, number> = {
  uint8: onnx.TensorProto.DataType.UINT8,
  float32: onnx.TensorProto.DataType.FLOAT,
  float64: onnx.TensorProto.DataType.DOUBLE,
  int64: onnx.TensorProto.DataType.INT64,
};

/** Floating-point type of the computation inside a graph (inputs and outputs are always float32). */
export type Precision = 'float32' | 'float64';

/** A dimension of a graph input/output: a fixed size or a symbolic name (e.g. `N`). */
export type Dim = number | string;

export class OnnxGraphBuilder {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly used = new Set<string>();
  /** Per base name, the first suffix {@link uniqueName} has not tried yet. */
  private readonly nextSuffix = new Map<string, number>();
  private readonly scalarCache = new Map<string, string>();

  /**
   * @param precision the element type of every float initializer and scalar this builder
   *   creates; the graph's inputs and outputs stay float32 (see {@link castIn}/{@link castOut}).
   */
  constructor(private readonly graphName: string, readonly precision: Precision = 'float32') {}

  private readonly reserved = new Set<string>();

  /**
   * Keeps names for {@link input} and {@link castOut}: no other tensor gets them, so a model's
   * own tensor called `logits` or `target` cannot collide with the graph's inputs and outputs.
   */
  reserve(names: readonly string[]): void {
    for (const name of names) {
      this.used.add(name);
      this.reserved.add(name);
    }
  }

  /** Takes `name` exactly: a reserved name once, or one never used. */
  private claim(name: string): string {
    if (this.used.has(name) && !this.reserved.delete(name)) throw new Error(`graph ${this.graphName}: the name ${name} is already taken`);
    this.used.add(name);
    return name;
  }

  /** Returns `base`, or `base_2`, `base_3`, … if taken: tensor names must be unique. */
  uniqueName(base: string): string {
    let name = base;
    // Suffixes below `next` were all taken when last tried, and names are never freed: starting
    // there gives the same name as counting from 2, without a quadratic count for a base used
    // once per layer.
    let i = this.nextSuffix.get(base) ?? 2;
    if (this.used.has(name)) {
      do name = `${base}_${i++}`;
      while (this.used.has(name));
      this.nextSuffix.set(base, i);
    }
    this.used.add(name);
    return name;
  }

  /** Declares a graph input. */
  input(name: string, type: ElementType, dims: readonly Dim[]): string {
    this.claim(name);
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  /** Declares `tensor` as a graph output (under its own name). */
  output(tensor: string, type: ElementType, dims: readonly Dim[]): void {
    this.outputs.push(valueInfo(tensor, type, dims));
  }

  /**
   * Adds a float initializer in the graph's precision. float32 data is referenced, not
   * copied, until {@link toBytes}.
   */
  floatTensor(name: string, data: Float32Array, dims: readonly number[]): string {
    const typed = this.precision === 'float64' ? Float64Array.from(data) : data;
    return this.tensor(name, this.precision, new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength), dims);
  }

  /** Adds a float32 initializer whatever the graph's precision (for ops on float32 graph inputs). */
  float32Tensor(name: string, data: Float32Array, dims: readonly number[]): string {
    return this.tensor(name, 'float32', new Uint8Array(data.buffer, data.byteOffset, data.byteLength), dims);
  }

  /** Casts a float32 graph input to the graph's precision. */
  castIn(tensor: string): string {
    return this.precision === 'float32' ? tensor : this.op('Cast', [tensor], `${tensor}:${this.precision}`, { to: ELEMENT_TYPE[this.precision] });
  }

  /** Produces graph output `name` (float32) from `tensor` and declares it. */
  castOut(tensor: string, name: string, dims: readonly Dim[]): string {
    const out = this.precision === 'float32'
      ? this.opNamed('Identity', [tensor], name)
      : this.opNamed('Cast', [tensor], name, { to: ELEMENT_TYPE.float32 });
    this.output(out, 'float32', dims);
    return out;
  }

  /** Like {@link op}, with the output named exactly `name` (a reserved name: a graph output). */
  opNamed(opType: string, inputs: readonly string[], name: string, attributes: Record<string, AttributeValue> = {}): string {
    this.nodes.push({
      opType,
      name: this.uniqueName(`${opType}:${name}`),
      input: [...inputs],
      output: [this.claim(name)],
      attribute: Object.entries(attributes).map(([key, value]) => attribute(key, value)),
    });
    return name;
  }

  /** Casts a bool/int tensor to the graph's float type. */
  toFloat(tensor: string, name: string): string {
    return this.op('Cast', [tensor], name, { to: ELEMENT_TYPE[this.precision] });
  }

  /** Adds an int64 initializer (shapes, axes, indices). */
  int64Tensor(name: string, values: readonly number[], dims: readonly number[] = [values.length]): string {
    const data = BigInt64Array.from(values, (v) => BigInt(v));
    return this.tensor(name, 'int64', new Uint8Array(data.buffer), dims);
  }

  /** A shared scalar float constant (one initializer per distinct value). */
  scalar(value: number): string {
    const key = `f:${value}`;
    let name = this.scalarCache.get(key);
    if (!name) {
      const data = this.precision === 'float64' ? Float64Array.of(value) : Float32Array.of(value);
      name = this.tensor(`const_${value}`, this.precision, new Uint8Array(data.buffer), []);
      this.scalarCache.set(key, name);
    }
    return name;
  }

  /** A shared int64 vector constant (axes, shapes, slice bounds). */
  ints(values: readonly number[]): string {
    const key = `i:${values.join(',')}`;
    let name = this.scalarCache.get(key);
    if (!name) {
      name = this.int64Tensor(`const_i64_${values.join('_').replace(/-/g, 'm')}`, values);
      this.scalarCache.set(key, name);
    }
    return name;
  }

  /** Adds a node and returns the name of its output; `output` is the base name of the result tensor. */
  op(opType: string, inputs: readonly string[], output: string, attributes: Record<string, AttributeValue> = {}): string {
    return this.opMulti(opType, inputs, [output], attributes)[0]!;
  }

  /** Like {@link op} for nodes with several outputs; returns their names in order. */
  opMulti<const O extends readonly string[]>(opType: string, inputs: readonly string[], outputs: O, attributes: Record<string, AttributeValue> = {}): { [K in keyof O]: string } {
    const names = outputs.map((o) => this.uniqueName(o));
    this.nodes.push({
      opType,
      name: this.uniqueName(`${opType}:${names[0]}`),
      input: [...inputs],
      output: names,
      attribute: Object.entries(attributes).map(([key, value]) => attribute(key, value)),
    });
    return names as { [K in keyof O]: string };
  }

  /** Serializes the model. */
  toBytes(): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      producerName: 'resnet-lrp',
      opsetImport: [{ domain: '', version: OPSET }],
      graph: {
        name: this.graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }

  private tensor(name: string, type: ElementType, rawData: Uint8Array, dims: readonly number[]): string {
    const unique = this.uniqueName(name);
    this.initializers.push({ name: unique, dataType: ELEMENT_TYPE[type], dims: [...dims], rawData });
    return unique;
  }
}

function valueInfo(name: string, type: ElementType, dims: readonly Dim[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEMENT_TYPE[type],
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

const { AttributeType } = onnx.AttributeProto;

/** Numbers are INT unless wrapped as `{ float }`; arrays are INTS. */
function attribute(name: string, value: AttributeValue): onnxProto.onnx.IAttributeProto {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new Error(`attribute ${name}: use { float: ${value} } for floats`);
    return { name, type: AttributeType.INT, i: value };
  }
  if (typeof value === 'string') return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value) };
  if ('float' in value) return { name, type: AttributeType.FLOAT, f: value.float };
  return { name, type: AttributeType.INTS, ints: [...value] };
}

/**
 * Adds `metadata_props` (and a doc string) to a serialized model without decoding it: a
 * protobuf message followed by another is their merge, and both fields are additive.
 */
export function withMetadata(model: Uint8Array, metadata: Readonly<Record<string, string>>, docString?: string): Uint8Array {
  const extra = onnx.ModelProto.encode({
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
    ...(docString ? { docString } : {}),
  }).finish();
  const out = new Uint8Array(model.length + extra.length);
  out.set(model, 0);
  out.set(extra, model.length);
  return out;
}
