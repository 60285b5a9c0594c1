/**
 * Checks of option values shared by the commands: a choice from a list, an integer in a range.
 * One wording everywhere: `--<option> must be …, got "<text>"`, as a UsageError of the command
 * (so the message points at that command's help).
 */
import type { FitMode } from '../image/load.js';
import type { Precision } from '../onnx/graph-builder.js';
import { cacheDisabledByEnv, compileCacheDir, NO_CACHE_ENV, type CompileCacheOptions } from '../runtime/file-explainer-cache.js';
import { UsageError, type OptionSpec } from './usage.js';

/** `--precision` of explain, evaluate and export. */
export const PRECISIONS: readonly Precision[] = ['float32', 'float64'];
/** `--fit` of explain and evaluate. */
export const FIT_MODES: readonly FitMode[] = ['resize', 'center-crop'];

/** Largest `--size` (the side of the model input in pixels). */
export const MAX_INPUT_SIZE = 8192;

/** `--size` of explain, evaluate and export: the side of a model input whose size the file leaves open. */
export const SIZE_OPTION = {
  name: 'size', type: 'string', value: '<N|HxW>',
  description: 'input size in pixels for a model whose ONNX input size is dynamic: N×N, or H×W (e.g. 224x320); a fixed size must match; default: the file\'s, else 224',
} as const;

/**
 * `--size N` or `--size HxW` as the library's `input` changes (`size` is the height).
 *
 * @throws UsageError naming the option and the value.
 */
export function parseSizeOption(text: string, command: string): { size: number; width?: number } {
  const { integer, fail } = optionValues(command);
  const parts = text.trim().split(/[x×]/i);
  if (parts.length > 2) fail(`--size must be N or HxW (e.g. 224x320), got "${text}"`);
  const what = `an integer in 1..${MAX_INPUT_SIZE} (pixels), or HxW`;
  const height = integer('size', parts[0]!, 1, what, MAX_INPUT_SIZE);
  const width = parts.length === 2 ? integer('size', parts[1]!, 1, what, MAX_INPUT_SIZE) : height;
  return width === height ? { size: height } : { size: height, width };
}

/** `--no-cache` of the commands that compile an explainer (explain, evaluate, export). */
export function noCacheOption(group: string): OptionSpec {
  return {
    name: 'no-cache', type: 'boolean', default: `off (${NO_CACHE_ENV}=1 too)`, group,
    description: 'compile the explainer instead of reading it from the compile cache, and keep nothing there (docs/cache.md)',
  };
}

/**
 * The library's `compileCache` option for `--no-cache` and the command's environment (which
 * also places the cache, as it places the weights: `RESNET_LRP_CACHE`, XDG, `HOME`).
 */
export function compileCacheSetting(noCache: boolean, env: NodeJS.ProcessEnv): false | CompileCacheOptions {
  return noCache || cacheDisabledByEnv(env) ? false : { dir: compileCacheDir(undefined, env) };
}

/** The value checks of one command. */
export interface OptionValues {
  /** @throws UsageError of the command, with `message`. */
  fail(message: string): never;
  /**
   * `value` when it is one of `allowed`.
   *
   * @throws UsageError `--<option> must be one of a, b, got "<value>"`.
   */
  oneOf<T extends string>(option: string, value: string | undefined, allowed: readonly T[]): T;
  /**
   * `text` as an integer in `min..max`: digits with an optional `+`, blanks around allowed (a
   * sign, a fraction or an exponent is refused, not rounded).
   *
   * @throws UsageError `--<option> must be <what>, got "<text>"`.
   */
  integer(option: string, text: string, min: number, what: string, max?: number): number;
}

/** The option value checks of `command` (its name as the commands' tables give it). */
export function optionValues(command: string): OptionValues {
  const fail = (message: string): never => {
    throw new UsageError(message, command);
  };
  return {
    fail,
    oneOf<T extends string>(option: string, value: string | undefined, allowed: readonly T[]): T {
      if (!allowed.includes(value as T)) fail(`--${option} must be one of ${allowed.join(', ')}, got "${value}"`);
      return value as T;
    },
    integer(option: string, text: string, min: number, what: string, max = Number.MAX_SAFE_INTEGER): number {
      const value = /^\+?\d+$/.test(text.trim()) ? Number(text) : NaN;
      // Beyond the largest safe integer (the only bound `what` does not state): say the real range.
      if (max === Number.MAX_SAFE_INTEGER && Number.isFinite(value) && value > max) fail(`--${option} must be ${what} and at most ${max}, got "${text}"`);
      if (!Number.isSafeInteger(value) || value < min || value > max) fail(`--${option} must be ${what}, got "${text}"`);
      return value;
    },
  };
}
