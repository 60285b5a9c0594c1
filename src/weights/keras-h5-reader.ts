/**
 * The platform-free part of the Keras HDF5 reader: header checks on bytes, and the Keras
 * layout read through an h5wasm library passed in (its Node build, which reads the host file
 * system, or its browser build, which reads its in-memory file system).
 */
import type h5wasm from 'h5wasm';
import type { Dataset, Group } from 'h5wasm';
import type { ParamTensor } from '../model/layers.js';

/** The weights of a Keras HDF5 file, grouped by layer. */
export interface KerasWeightFile {
  /** How messages name the file: the label if one was given, else the path. */
  readonly source: string;
  /** `weights` for `save_weights` files, `model` for whole-model files (tree under `model_weights/`). */
  readonly layout: 'weights' | 'model';
  /** All layer names in file order (the `layer_names` attribute), including layers without weights. */
  readonly layerNames: readonly string[];
  /**
   * Layers that have weights, keyed by layer name, then by short weight name as used in
   * `LayerParams` (`kernel`, `bias`, `gamma`, `beta`, `movingMean`, `movingVariance`).
   */
  readonly layers: ReadonlyMap<string, ReadonlyMap<string, ParamTensor>>;
  /** `keras_version` and `backend` root attributes, when present. */
  readonly kerasVersion?: string;
  readonly backend?: string;
}

/** The declared shapes of a Keras weight file, before any value is read. */
export interface KerasWeightShapes {
  readonly source: string;
  readonly layerNames: readonly string[];
  /** Layer → short weight name → declared shape. */
  readonly layers: ReadonlyMap<string, ReadonlyMap<string, { readonly shape: readonly number[] }>>;
}

/** Options of {@link readKerasH5}. */
export interface ReadKerasH5Options {
  /**
   * Called with the declared shapes before any values are read; throwing refuses the file. A
   * small file can declare datasets of gigabytes (compressed, or never written): checking
   * shapes against the model first means nothing is allocated for a file that does not fit.
   */
  readonly checkShapes?: (shapes: KerasWeightShapes) => void;
}

// ---------------------------------------------------------------------------------------
// HDF5 header checks

const SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
/** Superblock bytes needed to reach the end-of-file address for any version and offset size. */
const SUPERBLOCK_BYTES = 64;

/** Reads `length` bytes at `offset` (fewer at the end of the file). */
export type ByteReader = (offset: number, length: number) => Promise<Uint8Array> | Uint8Array;

/** Checks the HDF5 signature and that the file is as long as its superblock says. */
export async function checkHeader(read: ByteReader, size: number, name: string): Promise<void> {
  let location = -1;
  for (const offset of signatureOffsets(size)) {
    if (matchesSignature(await read(offset, SIGNATURE.length))) {
      location = offset;
      break;
    }
  }
  if (location < 0) throw notHdf5(name, size);
  checkSuperblock(await read(location, SUPERBLOCK_BYTES), location, size, name);
}

/** HDF5 looks for its superblock at 0, 512, 1024, 2048, … (after a user block). */
function* signatureOffsets(size: number): Generator<number> {
  for (let offset = 0; offset + SIGNATURE.length <= size; offset = offset === 0 ? 512 : offset * 2) yield offset;
}

function matchesSignature(bytes: Uint8Array): boolean {
  return bytes.length >= SIGNATURE.length && SIGNATURE.every((b, i) => bytes[i] === b);
}

function notHdf5(name: string, size: number): Error {
  return new Error(`${name}: not an HDF5 file (no HDF5 signature in its ${size} bytes)`);
}

/**
 * Reads the end-of-file address from the superblock at `location` and compares it with the
 * file size. Layouts (HDF5 file format spec, "Superblock"):
 * - v0/v1: offset sizes at byte 13, then base, free-space, EOF addresses from byte 24
 *   (v0) or 28 (v1, which adds two 16-bit fields);
 * - v2/v3: offset size at byte 9, then base, extension, EOF addresses from byte 12.
 */
function checkSuperblock(sb: Uint8Array, location: number, size: number, name: string): void {
  const truncatedHeader = () => new Error(`${name}: truncated: ${size} bytes, too short for the HDF5 superblock at byte ${location}`);
  if (sb.length < 10) throw truncatedHeader();
  const version = sb[8]!;
  let offsetSize: number;
  let addressStart: number;
  if (version === 0 || version === 1) {
    if (sb.length < 14) throw truncatedHeader();
    offsetSize = sb[13]!;
    addressStart = version === 0 ? 24 : 28;
  } else if (version === 2 || version === 3) {
    offsetSize = sb[9]!;
    addressStart = 12;
  } else {
    throw new Error(`${name}: unsupported HDF5 superblock version ${version}`);
  }
  if (![2, 4, 8].includes(offsetSize)) throw new Error(`${name}: corrupt HDF5 superblock (offset size ${offsetSize})`);
  // Base address, then one address (free-space / extension), then end-of-file.
  const eofAt = addressStart + 2 * offsetSize;
  if (sb.length < eofAt + offsetSize) throw truncatedHeader();
  const base = readAddress(sb, addressStart, offsetSize);
  const eof = readAddress(sb, eofAt, offsetSize);
  if (eof === undefined) return; // undefined address: nothing to compare with
  // The stored EOF is absolute for a superblock at its base address; HDF5 shifts it when
  // the superblock was moved (e.g. a user block prepended), so do the same.
  const expected = eof + (location - (base ?? location));
  if (size < expected) throw new Error(`${name}: truncated: ${size} bytes, header says ${expected}`);
}

/** Little-endian unsigned address; `undefined` for HDF5's "undefined address" (all ones). */
function readAddress(bytes: Uint8Array, at: number, width: number): number | undefined {
  let value = 0n;
  let allOnes = true;
  for (let i = width - 1; i >= 0; i--) {
    const b = bytes[at + i]!;
    if (b !== 0xff) allOnes = false;
    value = (value << 8n) | BigInt(b);
  }
  return allOnes ? undefined : Number(value);
}

// ---------------------------------------------------------------------------------------
// h5wasm access

/** The h5wasm library: its Node build or its browser (ESM) build, which share one API. */
export type H5Lib = typeof h5wasm;
type H5Module = Awaited<H5Lib['ready']>;

export async function h5wasmModule(h5: H5Lib, name: string): Promise<H5Module> {
  try {
    return await h5.ready;
  } catch (err) {
    throw new Error(`${name}: cannot load h5wasm: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Runs `body` with HDF5 errors thrown as JS errors instead of printed to stderr (h5wasm's
 * default handler prints a stack and returns an invalid id, which later fails with an
 * unrelated message). `body` is synchronous, so no other h5wasm user can interleave.
 */
export function withThrowingErrors<T>(module: H5Module, body: () => T): T {
  module.activate_throwing_error_handler();
  try {
    return body();
  } finally {
    module.deactivate_throwing_error_handler();
  }
}

/** Errors about the file's content, passed through without further wrapping. */
class KerasFormatError extends Error {}

export function readOpened(h5: H5Lib, path: string, name: string, fileSize: number, options: ReadKerasH5Options): KerasWeightFile {
  let file: InstanceType<H5Lib['File']>;
  try {
    file = new h5.File(path, 'r');
  } catch (err) {
    throw new Error(`${name}: HDF5 cannot open the file: ${hdf5Reason(err)}`, { cause: err });
  }
  try {
    return readKerasTree(h5, file, name, fileSize, options);
  } catch (err) {
    if (err instanceof KerasFormatError) throw err;
    throw new Error(`${name}: HDF5 read failed: ${hdf5Reason(err)}`, { cause: err });
  } finally {
    try {
      file.close();
    } catch {
      // Closing after a failed read can fail too; the first error is the useful one.
    }
  }
}

/** The most specific line of an HDF5 error stack (its deepest frame), or the message. */
function hdf5Reason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const frames = [...message.matchAll(/#\d+: .* in (\S+\(\)): (.*)$/gm)];
  const deepest = frames[frames.length - 1];
  return deepest ? `${deepest[1]} ${deepest[2]}` : message.split('\n')[0]!;
}

function readKerasTree(h5: H5Lib, file: Group, name: string, fileSize: number, options: ReadKerasH5Options): KerasWeightFile {
  const fail = (what: string) => new KerasFormatError(`${name}: ${what}`);
  let root: Group = file;
  let layout: KerasWeightFile['layout'] = 'weights';
  if (!('layer_names' in file.attrs)) {
    const modelWeights = file.keys().includes('model_weights') ? file.get('model_weights') : null;
    if (isGroup(h5, modelWeights) && 'layer_names' in modelWeights.attrs) {
      root = modelWeights;
      layout = 'model';
    } else if (file.keys().includes('layers') || file.keys().includes('vars')) {
      throw fail('no layer_names attribute: looks like a Keras 3 ".weights.h5" file, which is not supported (save with the legacy h5 format)');
    } else {
      throw fail('no layer_names attribute: not a Keras weights file');
    }
  }

  const layerNames = stringList(root.attrs.layer_names!.value, () => fail('layer_names attribute is not a list of strings'));
  // Pass 1: find every dataset and its declared shape, reading no values.
  const found = new Map<string, Map<string, DeclaredTensor>>();
  const children = new Set(root.keys());
  for (const layerName of layerNames) {
    const group = children.has(layerName) ? root.get(layerName) : null;
    if (!isGroup(h5, group)) throw fail(`layer ${layerName} is listed in layer_names but has no group`);
    const attr = group.attrs.weight_names;
    if (!attr) throw fail(`layer ${layerName} has no weight_names attribute`);
    const weightNames = stringList(attr.value, () => fail(`layer ${layerName}: weight_names is not a list of strings`));
    if (weightNames.length === 0) continue;
    const weights = new Map<string, DeclaredTensor>();
    for (const weightName of weightNames) {
      const short = shortWeightName(weightName);
      if (weights.has(short)) throw fail(`layer ${layerName}: two weights named ${short}`);
      const failHere = (what: string) => fail(`layer ${layerName} ${short}: ${what}`);
      weights.set(short, declaredTensor(h5, group, weightName, fileSize, failHere));
    }
    found.set(layerName, weights);
  }
  try {
    options.checkShapes?.({ source: name, layerNames, layers: found });
  } catch (err) {
    // The checker's message is for users as it is (and its `code`, e.g. a missing classifier, is kept).
    const code = (err as { code?: unknown }).code;
    throw Object.assign(new KerasFormatError((err as Error).message, { cause: err }), code === undefined ? {} : { code });
  }

  // Pass 2: the values.
  const layers = new Map<string, Map<string, ParamTensor>>();
  for (const [layerName, weights] of found) {
    layers.set(layerName, new Map([...weights].map(([short, declared]) => [short, readTensor(declared)])));
  }

  return {
    source: name,
    layout,
    layerNames,
    layers,
    ...optionalString('kerasVersion', file, 'keras_version'),
    ...optionalString('backend', file, 'backend'),
  };
}

/** A dataset found in pass 1: its declared shape, and how to read and blame it. */
interface DeclaredTensor {
  readonly shape: number[];
  readonly dataset: Dataset;
  readonly fail: (what: string) => Error;
}

function declaredTensor(h5: H5Lib, group: Group, weightName: string, fileSize: number, fail: (what: string) => Error): DeclaredTensor {
  // Existence is checked link by link: HDF5 reports a missing intermediate group as an error.
  let node: Group = group;
  const parts = weightName.split('/');
  for (const [i, part] of parts.entries()) {
    const child = node.keys().includes(part) ? node.get(part) : null;
    if (i < parts.length - 1) {
      if (!isGroup(h5, child)) throw fail(`dataset ${group.path}/${weightName} not found`);
      node = child;
    } else if (!isDataset(h5, child)) {
      throw fail(`dataset ${group.path}/${weightName} not found`);
    }
  }
  const dataset = node.get(parts[parts.length - 1]!) as Dataset;
  const shape = dataset.shape ?? [];
  const meta = dataset.metadata;
  // H5T_FLOAT is class 1; weights are float32 or float64.
  if (meta.type !== 1 || (meta.size !== 4 && meta.size !== 8)) {
    throw fail(`dtype ${JSON.stringify(dataset.dtype)} is not float32/float64`);
  }
  const count = shape.reduce((a, b) => a * b, 1);
  // Uncompressed data is stored in the file, so it cannot be larger than the file: a bigger
  // declaration is corrupt (or never written) and must not be allocated.
  if (dataset.filters.length === 0 && count * meta.size > fileSize) {
    throw fail(`declares shape [${shape}] (${count * meta.size} bytes), more than the whole file (${fileSize} bytes)`);
  }
  return { shape, dataset, fail };
}

function readTensor({ shape, dataset, fail }: DeclaredTensor): ParamTensor {
  let value;
  try {
    value = dataset.value;
  } catch (err) {
    throw fail(`cannot read dataset (dtype ${JSON.stringify(dataset.dtype)}): ${hdf5Reason(err)}`);
  }
  let data: Float32Array;
  if (value instanceof Float32Array) data = value;
  else if (value instanceof Float64Array) data = Float32Array.from(value);
  // A scalar dataset (shape []) reads as a plain number.
  else if (typeof value === 'number') data = Float32Array.of(value);
  else throw fail(`dtype ${JSON.stringify(dataset.dtype)} is not float32/float64`);
  const count = shape.reduce((a, b) => a * b, 1);
  if (data.length !== count) throw fail(`shape [${shape}] needs ${count} values, dataset has ${data.length}`);
  return { data, shape };
}

/** `conv1_conv/kernel:0` → `kernel`; `moving_mean:0` → `movingMean`. */
function shortWeightName(weightName: string): string {
  const base = weightName.slice(weightName.lastIndexOf('/') + 1).replace(/:\d+$/, '');
  return base.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Keras writes string lists as fixed-length byte strings, h5py may write vlen: both read as strings. */
function stringList(value: unknown, fail: () => Error): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
  // An empty string list can come back as an empty typed array.
  if (ArrayBuffer.isView(value) && (value as Uint8Array).length === 0) return [];
  throw fail();
}

function optionalString<K extends string>(key: K, group: Group, attr: string): Partial<Record<K, string>> {
  const value = group.attrs[attr]?.value;
  return typeof value === 'string' ? ({ [key]: value } as Record<K, string>) : {};
}

function isGroup(h5: H5Lib, entity: unknown): entity is Group {
  return entity instanceof h5.Group;
}

function isDataset(h5: H5Lib, entity: unknown): entity is Dataset {
  return entity instanceof h5.Dataset;
}
