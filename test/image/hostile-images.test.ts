/**
 * Image inputs a hostile-but-fair user tries: FIFOs, devices, symlink loops, oversized files
 * and decompression bombs. Each is refused per file with its reason, without hanging (the
 * tests time out themselves) and with bounded memory (peak RSS of a child process).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { checkPixelLimit, decodeTargetSize, decoderMessage } from '../../src/image/decode-limits.js';
import { loadImage } from '../../src/image/load.js';
import { readRegularFile } from '../../src/image/read-file.js';
import { REPO_ROOT, SAMPLES_DIR } from '../support/fixture.js';
import { within } from '../support/process.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'resnet-lrp-hostile-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('only regular files are read', () => {
  it('a FIFO is refused at once, not waited on', async () => {
    const fifo = join(dir, 'fifo.jpg');
    execFileSync('mkfifo', [fifo]);
    await assert.rejects(within(2000, loadImage(fifo)), { message: `${fifo}: not a regular file (a FIFO); only regular files are read` });
  });

  it('/dev/zero (and a symlink to it named like an image) is refused, not read forever', async () => {
    const link = join(dir, 'zero.png');
    await symlink('/dev/zero', link);
    await assert.rejects(within(2000, loadImage('/dev/zero')), /^Error: \/dev\/zero: not a regular file \(a character device\)/);
    await assert.rejects(within(2000, loadImage(link)), /zero\.png: not a regular file \(a character device\)/);
  });

  it('a file over the size limit, a directory and a symlink loop get their own reasons', async () => {
    const big = join(dir, 'big.png');
    await writeFile(big, new Uint8Array(2048));
    await assert.rejects(readRegularFile(big, 1024), { message: `${big}: file is too large (2048 bytes; the limit is 1024)` });
    await assert.rejects(loadImage(big, { maxBytes: 1024 }), /file is too large/);
    await assert.rejects(loadImage(dir), { message: `${dir}: is a directory` });
    const loop = join(dir, 'loop.png');
    await symlink(loop, loop);
    await assert.rejects(loadImage(loop), { message: `${loop}: too many levels of symbolic links (a symlink loop?)` });
  });
});

describe('decompression bombs', () => {
  it('an image over the pixel limit is refused naming its size and the option, not as "not a supported image"', async () => {
    const png = await sharp({ create: { width: 3000, height: 2000, channels: 3, background: '#808080' } }).png().toBuffer();
    await assert.rejects(loadImage(png, { maxPixels: 5_000_000 }), {
      message: '<buffer>: image is 3000 × 2000 (6 megapixels), over the limit of 5 megapixels (maxPixels, --max-pixels)',
    });
    const ok = await loadImage(png, { maxPixels: 6_000_000 });
    assert.deepEqual([ok.originalWidth, ok.originalHeight], [3000, 2000]);
    assert.throws(() => checkPixelLimit('x', 10, 10, 99), /x: image is 10 × 10/);
  });

  it('an 8000 × 8000 PNG bomb (1.9 MB) decodes in bounded memory, to the right pixels (peak RSS of a child)', async () => {
    const bomb = join(dir, 'bomb.png');
    // Grey with a white right half: the shrunk decode must still put the edge in the middle.
    await sharp({ create: { width: 8000, height: 8000, channels: 3, background: '#808080' } })
      .composite([{ input: { create: { width: 4000, height: 8000, channels: 3, background: '#ffffff' } }, left: 4000, top: 0 }])
      .png({ compressionLevel: 1 })
      .toFile(bomb);
    const script = `
      const { loadImage } = await import(${JSON.stringify(join(REPO_ROOT, "dist/src/image/load.js"))});
      const image = await loadImage(process.argv[1]);
      const at = (x, y) => image.rgb[(y * 224 + x) * 3];
      console.log(JSON.stringify({ size: [image.originalWidth, image.originalHeight], left: at(10, 100), right: at(214, 100), peakMB: process.resourceUsage().maxRSS / 1024 }));`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script, bomb], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(child.status, 0, child.stderr);
    const result = JSON.parse(child.stdout) as { size: number[]; left: number; right: number; peakMB: number };
    assert.deepEqual(result.size, [8000, 8000]);
    assert.deepEqual([result.left, result.right], [128, 255]);
    // Decoded at full size, the 192 MB of pixels alone put the peak at 275 MB (measured); shrunk while decoding: ~125 MB.
    assert.ok(result.peakMB < 200, `peak RSS ${result.peakMB.toFixed(0)} MB`);
  });

  it('large images shrink while decoding, ordinary photos are decoded at full size (bit-exact with Pillow)', () => {
    assert.equal(decodeTargetSize(4000, 3000, 224, 'resize'), undefined);
    assert.deepEqual(decodeTargetSize(16000, 16000, 224, 'resize'), { width: 1792, height: 1792, fit: 'fill' });
    assert.deepEqual(decodeTargetSize(30000, 1000, 224, 'resize'), { width: 1792, height: 1000, fit: 'fill' });
    assert.deepEqual(decodeTargetSize(16000, 9000, 224, 'center-crop'), { width: 1792, height: 1792, fit: 'cover' });
  });

  it('a corrupt image reports its decoder error once, not once per scanline', async () => {
    assert.equal(decoderMessage('VipsJpeg: bad\nVipsJpeg: bad\nVipsJpeg: bad\n  other  \nVipsJpeg: bad'), 'VipsJpeg: bad; other');
    const jpeg = await sharp(join(SAMPLES_DIR, 'rocket.jpg')).toBuffer();
    const error = await loadImage(jpeg.subarray(0, 3000)).then(() => undefined, (e: Error) => e);
    assert.ok(error, 'a truncated JPEG is refused');
    assert.doesNotMatch(error.message, /\n/);
  });
});
