/**
 * The option value checks every command shares: the accepted spellings, the refused ones, and
 * one message shape (`--<option> must be …, got "<text>"`) as a UsageError of the command.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseEvaluateArgs } from '../../src/cli/evaluate-options.js';
import { parseExplainArgs } from '../../src/cli/explain-options.js';
import { optionValues } from '../../src/cli/option-values.js';

const { oneOf, integer } = optionValues('explain');

test('integer: digits with an optional +, blanks around; the range and the words of the message', () => {
  assert.equal(integer('batch', '4', 1, 'an integer ≥ 1'), 4);
  assert.equal(integer('batch', '+4', 1, 'an integer ≥ 1'), 4);
  assert.equal(integer('batch', ' 7 ', 1, 'an integer ≥ 1'), 7);
  assert.equal(integer('quantize', '65536', 2, 'an integer in 2..65536', 65536), 65536);
  for (const text of ['0', '-1', '-0', '1.5', '1e3', '0x10', '', 'four']) {
    assert.throws(() => integer('batch', text, 1, 'an integer ≥ 1'), { name: 'UsageError', command: 'explain', message: `--batch must be an integer ≥ 1, got "${text}"` });
  }
  // Beyond the safe integers the message states the real range (issue 14, item 11).
  assert.throws(() => integer('batch', '9007199254740993', 1, 'an integer ≥ 1'), { name: 'UsageError', message: '--batch must be an integer ≥ 1 and at most 9007199254740991, got "9007199254740993"' });
  assert.throws(() => integer('quantize', '65537', 2, 'an integer in 2..65536', 65536), /--quantize must be an integer in 2\.\.65536, got "65537"/);
});

test('oneOf: the value when listed, else the list in the message', () => {
  assert.equal(oneOf('fit', 'resize', ['resize', 'center-crop']), 'resize');
  assert.throws(() => oneOf('fit', 'stretch', ['resize', 'center-crop']), { name: 'UsageError', message: '--fit must be one of resize, center-crop, got "stretch"' });
  assert.throws(() => oneOf('fit', undefined, ['resize']), /--fit must be one of resize, got "undefined"/);
});

test('explain and evaluate word the same mistake the same way, each naming its own command', () => {
  for (const [parse, command] of [[parseExplainArgs, 'explain'], [parseEvaluateArgs, 'evaluate']] as const) {
    assert.throws(() => parse(['--batch', '1.5', 'x.png']), { command, message: /^--batch must be an integer ≥ [12], got "1\.5"$/ });
    assert.throws(() => parse(['--precision', 'float16', 'x.png']), { command, message: '--precision must be one of float32, float64, got "float16"' });
    assert.throws(() => parse(['--fit', 'stretch', 'x.png']), { command, message: '--fit must be one of resize, center-crop, got "stretch"' });
  }
});
