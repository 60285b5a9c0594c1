import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createImageProgress, formatImageProgress } from '../../src/cli/image-progress.js';

test('formatImageProgress: count, percent, bar, time per image, ETA, name', () => {
  assert.equal(
    formatImageProgress({ done: 3, total: 10, startedAt: 0, now: 1500, current: 'chelsea' }),
    ' 3/10   30%  [#####.............]  0.50 s/image  ETA 4s  chelsea',
  );
  assert.equal(formatImageProgress({ done: 0, total: 4, startedAt: 0, now: 0 }), '0/4    0%  [..................]  -- s/image  ETA --');
});

function recorder(isTTY: boolean) {
  const chunks: string[] = [];
  return { chunks, stream: { isTTY, write: (c: string) => chunks.push(c) } };
}

test('non-TTY: whole lines, at most one per 10 %, messages on their own line', () => {
  const { chunks, stream } = recorder(false);
  let t = 0;
  const progress = createImageProgress(stream, 40, { enabled: true, now: () => t });
  for (let i = 0; i < 40; i++) {
    t += 100;
    progress.advance(`img${i}`);
    if (i === 5) progress.message('error: img5: broken');
  }
  progress.done();
  assert.ok(chunks.every((c) => c.endsWith('\n') && !c.includes('\r')));
  assert.equal(chunks.filter((c) => /ETA/.test(c)).length, 11); // start + every 10 %
  assert.ok(chunks.includes('error: img5: broken\n'));
  assert.match(chunks.at(-1)!, /^40\/40 +100%/);
});

test('TTY: redraws with \\r, clears before a message, ends with a newline', () => {
  const { chunks, stream } = recorder(true);
  let t = 0;
  const progress = createImageProgress(stream, 2, { enabled: true, now: () => (t += 1000) });
  progress.advance('a');
  progress.message('error: b: broken');
  progress.advance('b');
  progress.done();
  const text = chunks.join('');
  assert.match(text, /\r +\rerror: b: broken\n\r/);
  assert.match(text, /\r2\/2 +100%[^\n]*\n$/);
});

test('disabled: only messages', () => {
  const { chunks, stream } = recorder(true);
  const progress = createImageProgress(stream, 1, { enabled: false });
  progress.advance('a');
  progress.message('error: a: broken');
  progress.done();
  assert.deepEqual(chunks, ['error: a: broken\n']);
});
