import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { decodeNpy, encodeNpy, readNpy, writeNpy } from '../../src/image/npy.js';
import { FIXTURE_DIR } from '../support/fixture.js';

const FIXTURES = FIXTURE_DIR;

/** Builds an .npy file by hand (independently of encodeNpy). */
function handMade(header: string, payload: Uint8Array, version = 1): Uint8Array {
  const preamble = version === 1 ? 10 : 12;
  const padded = header + ' '.repeat((64 - ((preamble + header.length + 1) % 64)) % 64) + '\n';
  const out = new Uint8Array(preamble + padded.length + payload.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, padded.length, true);
  else view.setUint32(8, padded.length, true);
  out.set(new TextEncoder().encode(padded), preamble);
  out.set(payload, preamble + padded.length);
  return out;
}

describe('encodeNpy', () => {
  it('writes an NPY v1.0 <f4 header padded to 64 bytes, then little-endian data', () => {
    const bytes = encodeNpy(Float32Array.from([1, 2, 3, 4, 5, -6.5]), [2, 3]);
    assert.deepEqual(Array.from(bytes.subarray(0, 8)), [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
    const headerLength = bytes[8]! | (bytes[9]! << 8);
    assert.equal((10 + headerLength) % 64, 0);
    const header = new TextDecoder().decode(bytes.subarray(10, 10 + headerLength));
    assert.equal(header.trimEnd(), "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }");
    assert.ok(header.endsWith('\n'));
    assert.equal(bytes.length, 10 + headerLength + 6 * 4);
    const data = new DataView(bytes.buffer, 10 + headerLength);
    assert.equal(data.getFloat32(0, true), 1);
    assert.equal(data.getFloat32(20, true), -6.5);
    // 1.0f little-endian is 00 00 80 3f.
    assert.deepEqual(Array.from(bytes.subarray(10 + headerLength, 14 + headerLength)), [0, 0, 0x80, 0x3f]);
  });

  it('writes 1-D shapes as (n,) and scalars as ()', () => {
    const text = (b: Uint8Array) => new TextDecoder().decode(b.subarray(10, 10 + (b[8]! | (b[9]! << 8))));
    assert.match(text(encodeNpy(new Float32Array(5), [5])), /'shape': \(5,\)/);
    assert.match(text(encodeNpy(new Float32Array(1), [])), /'shape': \(\)/);
  });

  it('re-encodes a numpy-written fixture byte for byte', async () => {
    const original = await readFile(join(FIXTURES, 'logits.npy'));
    const { data, shape } = decodeNpy(original);
    assert.ok(data instanceof Float32Array);
    assert.deepEqual(Buffer.from(encodeNpy(data, shape)), original);
  });

  it('rejects a shape that does not match the data', () => {
    assert.throws(() => encodeNpy(new Float32Array(6), [2, 2]), /shape \[2, 2\] holds 4 values, data has 6/);
    assert.throws(() => encodeNpy(new Float32Array(6), [2, -3]), /invalid dimension/);
  });
});

describe('decodeNpy', () => {
  it('round-trips float32 data of several shapes', () => {
    for (const shape of [[2, 3], [7], [], [0, 3], [1, 2, 2, 3]]) {
      const n = shape.reduce((a, b) => a * b, 1);
      const data = Float32Array.from({ length: n }, (_, i) => Math.fround(Math.sin(i) * 1e3));
      const decoded = decodeNpy(encodeNpy(data, shape));
      assert.deepEqual(decoded.shape, shape);
      assert.deepEqual(decoded.data, data);
    }
  });

  it('decodes <f8 (float64) files', () => {
    const values = [Math.PI, -1e-300, 2 ** 60];
    const payload = new Uint8Array(values.length * 8);
    values.forEach((v, i) => new DataView(payload.buffer).setFloat64(i * 8, v, true));
    const decoded = decodeNpy(handMade("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", payload));
    assert.ok(decoded.data instanceof Float64Array);
    assert.deepEqual(Array.from(decoded.data), values);
    assert.deepEqual(decoded.shape, [3]);
  });

  it('decodes format v2.0 headers', () => {
    const payload = new Uint8Array(new Float32Array([1.5, 2.5]).buffer);
    const decoded = decodeNpy(handMade("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }", payload, 2));
    assert.deepEqual(Array.from(decoded.data), [1.5, 2.5]);
    assert.deepEqual(decoded.shape, [1, 2]);
  });

  it('decodes from a Buffer at an unaligned offset without aliasing it', () => {
    const bytes = encodeNpy(Float32Array.from([1, 2, 3]), [3]);
    const big = Buffer.alloc(bytes.length + 3);
    big.set(bytes, 3);
    const view = big.subarray(3);
    const decoded = decodeNpy(view);
    assert.deepEqual(Array.from(decoded.data), [1, 2, 3]);
    view.fill(0);
    assert.deepEqual(Array.from(decoded.data), [1, 2, 3]);
  });

  it('rejects what it cannot read, saying why', () => {
    const f4 = new Uint8Array(8);
    assert.throws(() => decodeNpy(Buffer.from('not an npy file')), /bad magic/);
    assert.throws(() => decodeNpy(handMade("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", f4)), /unsupported dtype >f4/);
    assert.throws(() => decodeNpy(handMade("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", f4)), /unsupported dtype <i4/);
    assert.throws(() => decodeNpy(handMade("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", f4)), /Fortran/);
    assert.throws(() => decodeNpy(handMade("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", f4)), /needs 12 data bytes, file has 8/);
  });

  it('reads the reference fixtures', async () => {
    const input = decodeNpy(await readFile(join(FIXTURES, 'input_caffe_nhwc.npy')));
    assert.deepEqual(input.shape, [1, 224, 224, 3]);
    assert.ok(input.data instanceof Float32Array);
    assert.equal(input.data.length, 224 * 224 * 3);
    // Caffe-preprocessed values lie within [0 − mean, 255 − mean].
    assert.ok(input.data.every((v) => v >= -123.68 && v <= 255 - 103.939));
    const logits = decodeNpy(await readFile(join(FIXTURES, 'logits.npy')));
    assert.deepEqual(logits.shape, [1000]);
    const relevance = await readNpy(join(FIXTURES, 'relevance_default.npy'));
    assert.deepEqual(relevance.shape, [224, 224, 3]);
    assert.ok(relevance.data.every(Number.isFinite));
  });
});

describe('writeNpy / readNpy', () => {
  it('round-trip through a file, and readNpy errors name the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'resnet-lrp-npy-'));
    try {
      const path = join(dir, 'a.npy');
      await writeNpy(path, Float32Array.from([0.5, -1]), [2, 1]);
      const back = await readNpy(path);
      assert.deepEqual(back.shape, [2, 1]);
      assert.deepEqual(Array.from(back.data), [0.5, -1]);
      const bad = join(dir, 'bad.npy');
      const bytes = encodeNpy(new Float32Array(0), [0]);
      bytes[0] = 0;
      await writeFile(bad, bytes);
      await assert.rejects(readNpy(bad), (e: Error) => e.message.startsWith(`${bad}: decodeNpy: not an .npy file`));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
