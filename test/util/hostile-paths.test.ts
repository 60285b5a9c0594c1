/**
 * File-system helpers on hostile paths: directory creation that cannot spin (procfs), write
 * errors that name the final file, and temporary files removed on signals or by the next run.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { writeFileAtomic } from '../../src/util/atomic-write.js';
import { lockFolder, LOCK_FILE } from '../../src/util/folder-lock.js';
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

test('writeFileAtomic replaces only a regular file: a FIFO or a symlink to a device stays (issue 14, item 4)', async () => {
  const fifo = join(dir, 'out.fifo');
  execFileSync('mkfifo', [fifo]);
  await assert.rejects(writeFileAtomic(fifo, 'x'), { message: `cannot write ${fifo}: it is a FIFO, not a regular file (outputs are written only where a regular file or nothing is)` });
  const device = join(dir, 'out.dev');
  await symlink('/dev/null', device);
  await assert.rejects(writeFileAtomic(device, 'x'), { message: /it is a character device, not a regular file/ });
  assert.equal((await stat(fifo)).isFIFO(), true);
  assert.equal((await lstat(device)).isSymbolicLink(), true);
  assert.deepEqual((await readdir(dir)).filter((f) => f.startsWith('out.') && f.endsWith('.tmp')), []);
});

test('lockFolder: one holder at a time; a lock without a pid is reported, not waited on forever (issue 14, item 7)', async () => {
  const locked = join(dir, 'locked');
  await makeDirectory(locked);
  const release = await lockFolder(locked);
  assert.equal(await readFile(join(locked, LOCK_FILE), 'utf8'), `${process.pid}\n`);
  await release();
  assert.equal(existsSync(join(locked, LOCK_FILE)), false);
  await writeFile(join(locked, LOCK_FILE), 'garbage');
  await assert.rejects(within(5000, lockFolder(locked)), { message: `${locked} is locked by ${join(locked, LOCK_FILE)}, which holds no process id: if no other run uses the folder, remove the file` });
});
