/** Pieces of the CLI's defences against hostile inputs, tested directly. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseEvaluateArgs } from '../../src/cli/evaluate-options.js';
import { IMAGE_EXTENSIONS, parseExplainArgs } from '../../src/cli/explain-options.js';
import { expandInputs } from '../../src/cli/inputs.js';
import { isOutputName } from '../../src/cli/outputs.js';
import { printable } from '../../src/cli/printable.js';
import { formatSummary } from '../../src/cli/table.js';

test('printable escapes control characters (ESC, CR, LF, DEL, C1, U+2028) and keeps everything else', () => {
  assert.equal(printable('a\u001b[31mb\r\nc\td\u007fe\u009bf\u2028g'), 'a\\x1b[31mb\\r\\nc\\td\\x7fe\\x9bf\\u2028g');
  assert.equal(printable('Ünïcødé 猫.png'), 'Ünïcødé 猫.png');
  const table = formatSummary([{ input: 'x\u001b]0;owned\u0007.png', name: 'x', status: 'failed', error: 'bad\rname', outputs: [] }], 'out');
  assert.ok(!/[\u0000-\u0009\u000b-\u001f]/.test(table), table);
});

test('our own outputs are never inputs; non-regular entries of a folder are kept (to be reported)', async () => {
  assert.ok(isOutputName('cat.lrp.png') && isOutputName('CAT.HEATMAP.PNG') && isOutputName('cat.lrp.json'));
  assert.ok(!isOutputName('cat.png') && !isOutputName('.lrp.png') && !isOutputName('lrp.png'));
  const dir = await mkdtemp(join(tmpdir(), 'resnet-lrp-inputs-'));
  try {
    for (const f of ['a.png', 'a.lrp.png', 'a.heatmap.png']) await writeFile(join(dir, f), 'x');
    execFileSync('mkfifo', [join(dir, 'f.jpg')]);
    await symlink('/dev/null', join(dir, 'n.png'));
    const { files, ownOutputs, emptyFolders } = await expandInputs([dir, join(dir, 'a.lrp.png')], IMAGE_EXTENSIONS, isOutputName);
    assert.deepEqual(files, ['a.png', 'f.jpg', 'n.png'].map((f) => join(dir, f)));
    assert.deepEqual(ownOutputs.sort(), [join(dir, 'a.heatmap.png'), join(dir, 'a.lrp.png'), join(dir, 'a.lrp.png')]);
    assert.deepEqual(emptyFolders, []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('limit options: --max-pixels, --max-file-size, --quantize bound, --out ""', () => {
  const settings = (args: string[]) => {
    const r = parseExplainArgs([...args, 'x.png']);
    assert.ok(!r.help);
    return r.settings;
  };
  assert.equal(settings([]).maxPixels, 120_000_000);
  assert.equal(settings(['--max-pixels', '50M']).maxPixels, 50_000_000);
  assert.equal(settings(['--max-pixels', '1000']).maxPixels, 1000);
  assert.equal(settings(['--max-file-size', '3']).maxBytes, 3 * 2 ** 20);
  assert.equal(settings(['--quantize', '65536']).quantize, 65536);
  assert.throws(() => settings(['--quantize', '65537']), /--quantize must be an integer in 2\.\.65536/);
  assert.throws(() => settings(['--max-pixels=-5']), /--max-pixels must be a pixel count/);
  assert.throws(() => settings(['--max-file-size', '0']), /--max-file-size must be an integer ≥ 1/);
  assert.throws(() => settings(['--out', '']), { name: 'UsageError', message: '--out needs a directory name' });
});

test('integers beyond the safe range state the real range (issue 14, item 11)', () => {
  const evaluate = (args: string[]) => () => parseEvaluateArgs([...args, 'x.png']);
  assert.throws(evaluate(['--shard', '0/99999999999999999999']), { name: 'UsageError', message: '--shard i/n: n must be at most 9007199254740991, got "0/99999999999999999999"' });
  assert.throws(evaluate(['--limit', '1000000000000000000']), { name: 'UsageError', message: '--limit must be an integer ≥ 1 and at most 9007199254740991, got "1000000000000000000"' });
  const ok = parseEvaluateArgs(['--limit', '9007199254740991', '--shard', '3/9007199254740991', 'x.png']);
  assert.ok(!ok.help && ok.settings.limit === Number.MAX_SAFE_INTEGER && ok.settings.shard!.count === Number.MAX_SAFE_INTEGER);
});

test('--max-input-pixels and --memory-budget: parsed for explain, export and evaluate, bad values are usage errors', () => {
  const explain = (args: string[]) => {
    const r = parseExplainArgs([...args, 'x.png']);
    assert.ok(!r.help);
    return r.settings;
  };
  assert.equal(explain(['--max-input-pixels', '1M']).maxInputPixels, 1_000_000);
  assert.equal(explain([]).maxInputPixels, undefined, "the library's default");
  assert.equal(explain(['--memory-budget', '256']).memoryBudget, 256 * 2 ** 20);
  assert.throws(() => explain(['--memory-budget', '0']), { name: 'UsageError', message: '--memory-budget must be an integer ≥ 1 (MiB), got "0"' });
  assert.throws(() => explain(['--max-input-pixels', 'huge']), { name: 'UsageError', message: '--max-input-pixels must be a pixel count ≥ 1, e.g. 50000000 or 50M, got "huge"' });
  const evaluate = parseEvaluateArgs(['--max-input-pixels', '90000', 'x.png']);
  assert.ok(!evaluate.help && evaluate.settings.maxInputPixels === 90_000);
  assert.throws(() => parseEvaluateArgs(['--max-input-pixels', '-1', 'x.png']), { name: 'UsageError', command: 'evaluate' });
  // The library's quantization bound, found when the command line is read, not at the first image.
  assert.throws(() => parseEvaluateArgs(['--quantize', '65537', 'x.png']), { name: 'UsageError', message: '--quantize must be an integer in 2..65536 (levels), got "65537"' });
});
