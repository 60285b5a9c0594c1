import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp, { type Sharp } from 'sharp';
import { loadImage } from '../../src/image/load.js';
import { decodeNpy } from '../../src/image/npy.js';
import { CAFFE_MEAN_BGR, caffePreprocess } from '../../src/image/preprocess.js';
import { FIXTURE_DIR, SAMPLES_DIR } from '../support/fixture.js';

const FIXTURES = FIXTURE_DIR;
const SAMPLES = SAMPLES_DIR;

/** Raw RGB(A) bytes → an encoder of the caller's choice. */
function raw(pixels: number[], width: number, height: number, channels: 1 | 2 | 3 | 4): Sharp {
  return sharp(Buffer.from(pixels), { raw: { width, height, channels } });
}

/** The RGB triple at (x, y) of a loaded image. */
function pixel(image: { rgb: Uint8Array; width: number }, x: number, y: number): number[] {
  const i = (y * image.width + x) * 3;
  return [image.rgb[i]!, image.rgb[i + 1]!, image.rgb[i + 2]!];
}

function assertClose(actual: number[], expected: number[], tolerance: number, what: string): void {
  assert.ok(
    actual.every((v, i) => Math.abs(v - expected[i]!) <= tolerance),
    `${what}: got [${actual.join(', ')}], expected [${expected.join(', ')}] ± ${tolerance}`,
  );
}

/** A solid-colour image of width × height as raw RGB. */
function solid(width: number, height: number, rgb: [number, number, number]): number[] {
  return Array.from({ length: width * height }, () => rgb).flat();
}

describe('loadImage against the reference fixture', () => {
  it('resizes chelsea.png exactly like the fixture input_224.png (Pillow bilinear)', async () => {
    const loaded = await loadImage(join(SAMPLES, 'chelsea.png'));
    const reference = await sharp(join(FIXTURES, 'input_224.png')).removeAlpha().raw().toBuffer();
    assert.equal(loaded.rgb.length, reference.length);
    let sum = 0;
    let max = 0;
    for (let i = 0; i < reference.length; i++) {
      const d = Math.abs(loaded.rgb[i]! - reference[i]!);
      sum += d;
      max = Math.max(max, d);
    }
    // Measured: identical (mean 0, max 0). For comparison, sharp's own kernels give mean/max
    // 0.204/2 (linear), 0.84/21 (cubic), 2.99/50 (nearest).
    assert.equal(max, 0, `mean abs difference ${sum / reference.length}, max ${max}`);
    assert.equal(loaded.originalWidth, 451);
    assert.equal(loaded.originalHeight, 300);
    assert.equal(loaded.source, join(SAMPLES, 'chelsea.png'));
  });

  it('loads input_224.png unchanged and its input matches input_caffe_nhwc.npy', async () => {
    const loaded = await loadImage(join(FIXTURES, 'input_224.png'));
    const reference = await sharp(join(FIXTURES, 'input_224.png')).removeAlpha().raw().toBuffer();
    assert.deepEqual(Buffer.from(loaded.rgb), reference, 'a 224×224 image must not be resampled');
    assert.deepEqual(loaded.input, caffePreprocess(loaded.rgb));

    const npy = decodeNpy(await readFile(join(FIXTURES, 'input_caffe_nhwc.npy')));
    assert.deepEqual(npy.shape, [1, 224, 224, 3]);
    let max = 0;
    for (let i = 0; i < npy.data.length; i++) max = Math.max(max, Math.abs(npy.data[i]! - loaded.input[i]!));
    assert.ok(max < 1e-5, `max |input − fixture| = ${max}`); // measured 3.8e-6 (float32 rounding)
    // BGR order: the first value is blue − mean_B.
    assert.equal(loaded.input[0], Math.fround(loaded.rgb[2]! - CAFFE_MEAN_BGR[0]));
  });
});

describe('loadImage geometry', () => {
  // A horizontal gradient: red = x (0..399), so every output column tells which source column it
  // came from. Green marks the top half, so vertical placement is checked too.
  const W = 400;
  const H = 200;
  const gradient = (): Sharp => {
    const px: number[] = [];
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) px.push(Math.round((x * 255) / (W - 1)), y < H / 2 ? 200 : 0, 0);
    return raw(px, W, H, 3);
  };

  it("'center-crop' resizes the shorter side and keeps the central square", async () => {
    const png = await gradient().png().toBuffer();
    const out = await loadImage(png, { size: 100, fit: 'center-crop' });
    assert.equal(out.width, 100);
    assert.equal(out.height, 100);
    assert.equal(out.rgb.length, 100 * 100 * 3);
    assert.equal(out.source, '<buffer>');
    assert.equal(out.originalWidth, W);
    assert.equal(out.originalHeight, H);
    // 400×200 → 200×100, crop columns 50..149 → source x ≈ 2c + 100.5.
    for (const c of [0, 49, 99]) {
      const expectedRed = ((2 * c + 100.5) * 255) / (W - 1);
      assertClose([pixel(out, c, 50)[0]!], [expectedRed], 2, `red at column ${c}`);
    }
    assertClose(pixel(out, 50, 10), [pixel(out, 50, 10)[0]!, 200, 0], 1, 'top half');
    assertClose(pixel(out, 50, 90), [pixel(out, 50, 90)[0]!, 0, 0], 1, 'bottom half');
  });

  it("'resize' squashes the whole image, ignoring aspect", async () => {
    const png = await gradient().png().toBuffer();
    const out = await loadImage(png, { size: 100 });
    // Column c covers source x ≈ 4c + 1.5: the full width is kept.
    assert.ok(pixel(out, 0, 50)[0]! < 4, `left edge red ${pixel(out, 0, 50)[0]}`);
    assert.ok(pixel(out, 99, 50)[0]! > 251, `right edge red ${pixel(out, 99, 50)[0]}`);
    assertClose([pixel(out, 50, 50)[0]!], [((4 * 50 + 1.5) * 255) / (W - 1)], 2, 'middle column');
  });

  it("'center-crop' of a portrait image crops vertically", async () => {
    const px: number[] = [];
    for (let y = 0; y < 300; y++) for (let x = 0; x < 100; x++) px.push(y < 100 ? 255 : 0, y >= 100 && y < 200 ? 255 : 0, y >= 200 ? 255 : 0);
    const out = await loadImage(await raw(px, 100, 300, 3).png().toBuffer(), { size: 50, fit: 'center-crop' });
    // Only the green middle third survives the crop.
    for (const y of [2, 25, 47]) assertClose(pixel(out, 25, y), [0, 255, 0], 3, `row ${y}`);
  });

  it('validates its options', async () => {
    const png = await gradient().png().toBuffer();
    await assert.rejects(loadImage(png, { size: 0 }), /size must be a positive integer/);
    await assert.rejects(loadImage(png, { size: 2.5 }), /size must be a positive integer/);
    await assert.rejects(loadImage(png, { fit: 'stretch' as never }), /fit must be/);
  });
});

describe('loadImage pixel formats', () => {
  it('applies the EXIF orientation before resizing (orientation 6: 2×1 → 1×2)', async () => {
    // Stored as [red, blue] in one row; orientation 6 means "rotate 90° clockwise to display",
    // so the displayed image is red on top, blue below.
    const png = await raw([255, 0, 0, 0, 0, 255], 2, 1, 3).png().withMetadata({ orientation: 6 }).toBuffer();
    const out = await loadImage(png, { size: 2 });
    assert.equal(out.originalWidth, 1);
    assert.equal(out.originalHeight, 2);
    assert.deepEqual(pixel(out, 0, 0), [255, 0, 0]);
    assert.deepEqual(pixel(out, 1, 0), [255, 0, 0]);
    assert.deepEqual(pixel(out, 0, 1), [0, 0, 255]);
    assert.deepEqual(pixel(out, 1, 1), [0, 0, 255]);
  });

  it('applies the EXIF orientation of a JPEG (orientation 8)', async () => {
    // 64×32: left half red, right half blue. Orientation 8 = rotate 90° counter-clockwise to
    // display, so the right half (blue) ends up on top.
    const px: number[] = [];
    for (let y = 0; y < 32; y++) for (let x = 0; x < 64; x++) px.push(...(x < 32 ? [255, 0, 0] : [0, 0, 255]));
    const jpeg = await raw(px, 64, 32, 3).jpeg({ quality: 95 }).withMetadata({ orientation: 8 }).toBuffer();
    const out = await loadImage(jpeg, { size: 32 });
    assert.equal(out.originalWidth, 32);
    assert.equal(out.originalHeight, 64);
    assertClose(pixel(out, 16, 4), [0, 0, 255], 30, 'top');
    assertClose(pixel(out, 16, 28), [255, 0, 0], 30, 'bottom');
  });

  it('expands grayscale to three equal channels', async () => {
    const png = await raw([0, 60, 120, 250], 2, 2, 1).toColourspace('b-w').png().toBuffer();
    assert.equal((await sharp(png).metadata()).channels, 1);
    const out = await loadImage(png, { size: 2 });
    assert.deepEqual(pixel(out, 0, 0), [0, 0, 0]);
    assert.deepEqual(pixel(out, 1, 0), [60, 60, 60]);
    assert.deepEqual(pixel(out, 1, 1), [250, 250, 250]);
  });

  it('flattens transparency onto white', async () => {
    // opaque red | half-transparent black | fully transparent black | opaque green
    const png = await raw([255, 0, 0, 255, 0, 0, 0, 128, 0, 0, 0, 0, 0, 255, 0, 255], 2, 2, 4).png().toBuffer();
    const out = await loadImage(png, { size: 2 });
    assert.deepEqual(pixel(out, 0, 0), [255, 0, 0]);
    assertClose(pixel(out, 1, 0), [127, 127, 127], 1, 'half transparent black on white');
    assert.deepEqual(pixel(out, 0, 1), [255, 255, 255]);
    assert.deepEqual(pixel(out, 1, 1), [0, 255, 0]);
  });

  it('flattens grayscale + alpha onto white', async () => {
    const png = await raw([0, 0, 0, 0, 100, 100, 100, 255], 2, 1, 4).toColourspace('b-w').png().toBuffer();
    assert.equal((await sharp(png).metadata()).channels, 2);
    const out = await loadImage(png, { size: 2 });
    assert.deepEqual(pixel(out, 0, 0), [255, 255, 255]);
    assert.deepEqual(pixel(out, 1, 1), [100, 100, 100]);
  });

  it('converts CMYK JPEG to sRGB', async () => {
    const rgb = solid(16, 16, [200, 40, 40]);
    const cmyk = await raw(rgb, 16, 16, 3).toColourspace('cmyk').jpeg({ quality: 100 }).toBuffer();
    assert.equal((await sharp(cmyk).metadata()).space, 'cmyk');
    const out = await loadImage(cmyk, { size: 8 });
    // A round trip through a CMYK profile is not exact; the colour must stay clearly the same red.
    assertClose(pixel(out, 4, 4), [200, 40, 40], 40, 'CMYK red');
    const [r, g, b] = pixel(out, 4, 4);
    assert.ok(r! > g! + 100 && r! > b! + 100, 'still red');
  });

  it('reduces 16-bit PNG to 8 bits', async () => {
    const png = await raw(solid(4, 4, [255, 128, 0]), 4, 4, 3).toColourspace('rgb16').png().toBuffer();
    assert.equal((await sharp(png).metadata()).depth, 'ushort');
    const out = await loadImage(png, { size: 4 });
    assertClose(pixel(out, 1, 1), [255, 128, 0], 1, '16-bit pixel');
  });

  it('reads lossless WebP, LZW TIFF and the first frame of an animated GIF', async () => {
    const pixels = [255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 0];
    for (const [format, bytes] of [
      ['webp', await raw(pixels, 2, 2, 3).webp({ lossless: true }).toBuffer()],
      ['tiff', await raw(pixels, 2, 2, 3).tiff({ compression: 'lzw' }).toBuffer()],
    ] as const) {
      const out = await loadImage(bytes, { size: 2 });
      assert.deepEqual(Array.from(out.rgb), pixels, format);
    }
    // Two 2×1 frames: red, then blue. Only the first (red) may be used.
    const frames = Buffer.from([...solid(2, 1, [255, 0, 0]), ...solid(2, 1, [0, 0, 255])]);
    const gif = await sharp(frames, { raw: { width: 2, height: 2, channels: 3, pageHeight: 1 } }).gif().toBuffer();
    assert.equal((await sharp(gif, { pages: -1 }).metadata()).pages, 2);
    const out = await loadImage(gif, { size: 2 });
    assert.equal(out.originalHeight, 1);
    for (let y = 0; y < 2; y++) for (let x = 0; x < 2; x++) assert.deepEqual(pixel(out, x, y), [255, 0, 0]);
  });

  it('loads a large JPEG sample of another aspect ratio', async () => {
    const out = await loadImage(join(SAMPLES, 'rocket.jpg'), { size: 224, fit: 'center-crop' });
    assert.equal(out.originalWidth, 640);
    assert.equal(out.originalHeight, 427);
    assert.equal(out.rgb.length, 224 * 224 * 3);
    assert.equal(out.input.length, 224 * 224 * 3);
  });
});

describe('loadImage errors name the file and the problem', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'resnet-lrp-load-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('missing file', async () => {
    await assert.rejects(loadImage(join(dir, 'missing.jpg')), (e: Error) => /missing\.jpg: no such file$/.test(e.message));
  });

  it('empty file', async () => {
    const path = join(dir, 'empty.png');
    await writeFile(path, new Uint8Array(0));
    await assert.rejects(loadImage(path), (e: Error) => /empty\.png: file is empty$/.test(e.message));
    await assert.rejects(loadImage(new Uint8Array(0)), /^Error: <buffer>: buffer is empty$/);
  });

  it('a directory', async () => {
    const path = join(dir, 'folder.png');
    await mkdir(path);
    await assert.rejects(loadImage(path), (e: Error) => /folder\.png: is a directory$/.test(e.message));
  });

  it('a text file', async () => {
    const path = join(dir, 'notes.jpg');
    await writeFile(path, 'this is not an image\n');
    await assert.rejects(loadImage(path), (e: Error) => /notes\.jpg: not a supported image \(.+\)$/.test(e.message));
  });

  it('garbage after a PNG signature', async () => {
    const path = join(dir, 'corrupt.png');
    await writeFile(path, Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(200, 7)]));
    await assert.rejects(loadImage(path), (e: Error) => e.message.startsWith(`${path}: not a supported image (`));
  });

  it('a truncated JPEG (valid header, missing data)', async () => {
    const jpeg = await readFile(join(SAMPLES, 'rocket.jpg'));
    const path = join(dir, 'truncated.jpg');
    await writeFile(path, jpeg.subarray(0, jpeg.length >> 1));
    await assert.rejects(loadImage(path), (e: Error) => e.message.startsWith(`${path}: could not be decoded (`));
  });
});
