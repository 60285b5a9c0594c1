import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createProgressWriter, formatBytes, formatDuration, formatProgress } from '../../src/cli/progress-bar.js';

const MiB = 1024 * 1024;

describe('formatProgress', () => {
  test('shows label, amounts, percent, bar, speed and ETA', () => {
    const line = formatProgress({
      label: 'resnet50_weights_tf_dim_ordering_tf_kernels.h5',
      received: 45.2 * MiB,
      total: 97.8 * MiB,
      startedAt: 0,
      now: 14_580, // 45.2 MiB in 14.58 s = 3.1 MiB/s; 52.6 MiB left = 17 s
    });
    assert.equal(line, 'resnet50_weights…  45.2/97.8 MiB   46%  [########..........]  3.1 MiB/s  ETA 17s');
  });

  test('a resumed download does not count the resumed bytes in the speed', () => {
    const line = formatProgress({ received: 60 * MiB, total: 100 * MiB, startedAt: 0, now: 10_000, resumedFrom: 50 * MiB });
    assert.match(line, /1\.0 MiB\/s/);
    assert.match(line, /ETA 40s/);
    assert.match(line, / 60%/);
  });

  test('complete, empty and unknown-total states', () => {
    assert.match(formatProgress({ received: 10 * MiB, total: 10 * MiB, startedAt: 0, now: 1000 }), /100%  \[#{18}\]/);
    assert.match(formatProgress({ received: 0, total: 10 * MiB, startedAt: 0, now: 0 }), /  0%  \[\.{18}\]  -- B\/s  ETA --$/);
    assert.equal(formatProgress({ label: 'w.h5', received: 3 * MiB, startedAt: 0, now: 2000 }), 'w.h5  3.0 MiB  1.5 MiB/s');
  });

  test('units and durations', () => {
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatBytes(3 * 1024 * MiB), '3.0 GiB');
    assert.equal(formatDuration(0.2), '1s');
    assert.equal(formatDuration(125), '2m05s');
    assert.equal(formatDuration(3720), '1h02m');
  });
});

/** A fake stream that records writes; `isTTY` decides the mode. */
function sink(isTTY: boolean): { writes: string[]; isTTY: boolean; write(chunk: string): boolean } {
  const writes: string[] = [];
  return { writes, isTTY, write: (chunk) => (writes.push(chunk), true) };
}

describe('createProgressWriter', () => {
  test('on a TTY: redraws in place with \\r, throttled, and ends with a newline', () => {
    const out = sink(true);
    let t = 0;
    const w = createProgressWriter(out, { label: 'w.h5', now: () => t, redrawMs: 100 });
    w.update({ received: 0, total: 100 });
    t = 50;
    w.update({ received: 10, total: 100 }); // within 100 ms: skipped
    t = 150;
    w.update({ received: 50, total: 100 });
    t = 160;
    w.update({ received: 100, total: 100 }); // final state is always drawn
    w.done();
    assert.equal(out.writes.length, 4);
    assert.ok(out.writes.slice(0, 3).every((s) => s.startsWith('\r') && !s.includes('\n')));
    assert.match(out.writes[1]!, / 50%/);
    assert.match(out.writes[2]!, /100%/);
    assert.equal(out.writes[3], '\n');
  });

  test('on a TTY a shorter line blanks out the rest of the previous one', () => {
    const out = sink(true);
    let t = 0;
    const w = createProgressWriter(out, { now: () => t });
    w.update({ received: 5 * MiB });
    t = 1000;
    w.update({ received: 0 }); // restart: speed resets
    assert.deepEqual(out.writes, ['\r5.0 MiB  -- B/s', '\r0 B  -- B/s    ']);
  });

  test('not a TTY: whole lines at start, every 10 % and at the end, never \\r', () => {
    const out = sink(false);
    let t = 0;
    const w = createProgressWriter(out, { now: () => t });
    for (let received = 0; received <= 1000; received += 10) {
      t += 10;
      w.update({ received, total: 1000 });
    }
    w.done();
    assert.equal(out.writes.length, 11); // 0 %, 10 %, …, 100 %; done adds nothing new
    assert.ok(out.writes.every((s) => s.endsWith('\n') && !s.includes('\r')));
    assert.match(out.writes.at(-1)!, /100%/);
  });

  test('not a TTY, unknown total: a line at most every lineEveryMs, and the final state on done', () => {
    const out = sink(false);
    let t = 0;
    const w = createProgressWriter(out, { now: () => t, lineEveryMs: 1000 });
    for (let i = 0; i < 30; i++) {
      t += 100;
      w.update({ received: i * 100 });
    }
    w.done();
    assert.equal(out.writes.length, 1 + 2 + 1); // start, at 1 s and 2 s, done
    assert.match(out.writes.at(-1)!, /2\.8 KiB/);
  });
});
