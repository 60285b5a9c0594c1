/**
 * NumPy `.npy` files (format v1.0–3.0) for exchanging arrays with Python: the reference fixtures
 * are stored this way, and relevance maps are written this way for inspection with numpy.
 * Only little-endian float32 / float64 in C order is supported — all this project needs.
 * Encoding and decoding only (browser-safe); reading and writing files is in `npy.ts`.
 */

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
const HEADER_ALIGNMENT = 64;
const littleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A decoded `.npy` array: flat data in C (row-major) order and its shape. */
export interface NpyArray {
  data: Float32Array | Float64Array;
  shape: number[];
}

function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Encodes float32 data as an NPY v1.0 file: dtype `'<f4'`, C order, header padded with spaces
 * so that the data starts at a multiple of 64 bytes (as numpy writes it).
 *
 * @throws Error if a dimension is not a non-negative integer or the shape does not match the data.
 */
export function encodeNpy(data: Float32Array, shape: readonly number[]): Uint8Array {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`encodeNpy: invalid dimension ${String(d)} in shape [${shape.join(', ')}]`);
  }
  if (product(shape) !== data.length) {
    throw new Error(`encodeNpy: shape [${shape.join(', ')}] holds ${product(shape)} values, data has ${data.length}`);
  }
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // 10 bytes of preamble (magic, version, u16 length) + header + '\n' must be a multiple of 64.
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((HEADER_ALIGNMENT - (unpadded % HEADER_ALIGNMENT)) % HEADER_ALIGNMENT) + '\n';
  if (header.length > 0xffff) throw new Error('encodeNpy: header too long for format v1.0');

  const out = new Uint8Array(10 + header.length + data.length * 4);
  out.set(MAGIC, 0);
  out[6] = 1; // major version
  out[7] = 0; // minor version
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  const view = new DataView(out.buffer, 10 + header.length);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i]!, true);
  return out;
}

/**
 * Decodes an `.npy` file holding little-endian float32 (`'<f4'`) or float64 (`'<f8'`) data in
 * C order. The data is copied, so the result does not alias `bytes`.
 *
 * @throws Error for a bad magic string, an unsupported version / dtype / Fortran order, or a
 *   data size that does not match the shape.
 */
export function decodeNpy(bytes: Uint8Array): NpyArray {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw new Error('decodeNpy: not an .npy file (bad magic)');
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLength: number;
  let headerStart: number;
  if (major === 1) {
    headerLength = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new Error('decodeNpy: truncated header');
    headerLength = view.getUint32(8, true);
    headerStart = 12;
  } else {
    throw new Error(`decodeNpy: unsupported format version ${major}.${bytes[7]}`);
  }
  const dataStart = headerStart + headerLength;
  if (dataStart > bytes.length) throw new Error('decodeNpy: truncated header');
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, dataStart));

  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new Error(`decodeNpy: malformed header ${JSON.stringify(header.trim())}`);
  }
  if (fortran === 'True') throw new Error('decodeNpy: Fortran-order arrays are not supported');
  const itemSize = descr === '<f4' ? 4 : descr === '<f8' ? 8 : 0;
  if (itemSize === 0) throw new Error(`decodeNpy: unsupported dtype ${descr} (expected <f4 or <f8)`);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => {
      const d = Number(s.replace(/L$/, '')); // Python 2 wrote longs as "3L"
      if (!Number.isInteger(d) || d < 0) throw new Error(`decodeNpy: invalid shape (${shapeText})`);
      return d;
    });

  const count = product(shape);
  const expected = count * itemSize;
  if (bytes.length - dataStart !== expected) {
    throw new Error(`decodeNpy: shape (${shape.join(', ')}) of ${descr} needs ${expected} data bytes, file has ${bytes.length - dataStart}`);
  }
  // Copy into a fresh, aligned buffer: typed arrays need an aligned offset, and the caller's
  // bytes (often a pooled Buffer) should not be aliased.
  // (Not bytes.slice: on a Buffer that returns a view, not a copy.)
  const copy = new Uint8Array(expected);
  copy.set(bytes.subarray(dataStart, dataStart + expected));
  const data = itemSize === 4 ? new Float32Array(copy.buffer, 0, count) : new Float64Array(copy.buffer, 0, count);
  if (!littleEndianHost) {
    const dv = new DataView(copy.buffer);
    for (let i = 0; i < count; i++) data[i] = itemSize === 4 ? dv.getFloat32(i * 4, true) : dv.getFloat64(i * 8, true);
  }
  return { data, shape };
}
