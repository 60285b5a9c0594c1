/**
 * File-system helpers on hostile paths: directory creation that cannot spin (procfs), write
 * errors that name the final file, and temporary files removed on signals or by the next run.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { writeFileAtomic } from '../../src/util/atomic-write.js';
import { makeDirectory } from '../../src/util/make-dir.js';
import { liveTemporaryFiles, removeStaleTemporaryFiles, removeTemporaryFilesNow } from '../../src/util/temp-files.js';
import { within } from '../support/process.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'resnet-lrp-paths-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('makeDirectory: nested folders created; procfs, files in the way and empty names refused at once', async () => {
  await makeDirectory(join(dir, 'a', 'b', 'c'));
  await makeDirectory(join(dir, 'a', 'b', 'c')); // exists: fine
  assert.deepEqual(await readdir(join(dir, 'a', 'b')), ['c']);
  await assert.rejects(within(2000, makeDirectory('/proc/resnet-lrp-x/y')), {
    message: 'cannot create the directory /proc/resnet-lrp-x/y: /proc does not allow creating directories in it',
  });
  await writeFile(join(dir, 'file'), 'x');
  await assert.rejects(makeDirectory(join(dir, 'file', 'sub')), /cannot create the directory .*file\/sub: .*file is not a directory/);
  await assert.rejects(makeDirectory(''), /empty name/);
});

test('writeFileAtomic: a failure names the final file, never the temporary one, and leaves nothing', async () => {
  await assert.rejects(writeFileAtomic('/proc/self/out.png', 'x'), (error: Error) => {
    assert.match(error.message, /^cannot write \/proc\/self\/out\.png: /);
    assert.doesNotMatch(error.message, /\.tmp/);
    return true;
  });
  assert.deepEqual(liveTemporaryFiles(), []);
});

test('temporary files: those being written are known (for signal handlers); stale ones of dead writers are removed', async () => {
  const target = join(dir, 'big.lrp.json');
  let done = false;
  const writing = writeFileAtomic(target, 'x'.repeat(1 << 22)).finally(() => (done = true));
  while (liveTemporaryFiles().length === 0 && !done) await new Promise((resolve) => setImmediate(resolve));
  const live = liveTemporaryFiles();
  assert.equal(live.length, 1);
  assert.match(live[0]!, /big\.lrp\.json\.\d+\.[0-9a-f]{8}\.tmp$/);
  await writing;
  assert.deepEqual(liveTemporaryFiles(), []);
  removeTemporaryFilesNow(); // nothing live: a no-op

  const dead = execFileSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' }).trim();
  const stale = `cat.lrp.png.${dead}.deadbeef.tmp`;
  const alive = `cat.heatmap.png.${process.pid}.deadbeef.tmp`; // our own pid: still being written
  const foreign = `notes.txt.${dead}.deadbeef.tmp`;
  for (const f of [stale, alive, foreign]) await writeFile(join(dir, f), 'x');
  const removed = await removeStaleTemporaryFiles(dir, (name) => name.endsWith('.lrp.png') || name.endsWith('.heatmap.png'));
  assert.deepEqual(removed, [stale]);
  assert.equal(existsSync(join(dir, stale)), false);
  assert.ok(existsSync(join(dir, alive)) && existsSync(join(dir, foreign)));
});
