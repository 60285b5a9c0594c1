/**
 * Command-line plumbing shared by every command: option tables (one source for both parsing
 * and `--help`, so the help can never miss an option or show a stale default), parsing with
 * node's `util.parseArgs`, and the usage error that maps to exit code 2.
 */
import { parseArgs } from 'node:util';

/** The program name, as users type it. */
export const PROGRAM = 'resnet-lrp';

/** One option of a command. */
export interface OptionSpec {
  /** Long name without dashes, e.g. `out`. */
  readonly name: string;
  /** One-letter alias without the dash. */
  readonly short?: string;
  readonly type: 'string' | 'boolean';
  /** May be given several times (values are collected in order). */
  readonly multiple?: boolean;
  /** Placeholder shown in the help, e.g. `<dir>`. */
  readonly value?: string;
  /** Default shown in the help (informational: defaults are applied by the command). */
  readonly default?: string;
  /** One line of help. */
  readonly description: string;
  /** Heading the option is listed under. */
  readonly group?: string;
}

/** A command: its synopsis, description, options and closing notes. */
export interface CommandSpec {
  /** `explain`, or `''` for the program itself. */
  readonly name: string;
  /** Synopsis after the program name, e.g. `explain [options] <image|folder>...`. */
  readonly usage: string;
  readonly summary: string;
  readonly options: readonly OptionSpec[];
  /** Paragraphs after the option list. */
  readonly notes?: readonly string[];
}

/** A mistake in the command line: reported in one line plus a pointer to `--help`; exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';

  constructor(
    message: string,
    /** The command whose help to point at (`''` for the program). */
    readonly command: string = '',
  ) {
    super(message);
  }

  /** `see resnet-lrp explain --help`. */
  get hint(): string {
    return `see ${[PROGRAM, this.command].filter(Boolean).join(' ')} --help`;
  }
}

/** Parsed values (string, boolean or lists, by the spec) and positionals. */
export interface ParsedArgs {
  readonly values: Record<string, string | boolean | string[] | undefined>;
  readonly positionals: string[];
}

/**
 * Parses `argv` against a command's options (strict: unknown options are errors).
 *
 * @throws UsageError with a short message for unknown options and missing values.
 */
export function parseCommandLine(spec: CommandSpec, argv: readonly string[]): ParsedArgs {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const o of spec.options) {
    options[o.name] = { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) };
  }
  try {
    const { values, positionals } = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
    return { values: { ...values } as ParsedArgs['values'], positionals };
  } catch (error) {
    throw new UsageError(describeParseError(error as Error & { code?: string }), spec.name);
  }
}

/** parseArgs' messages are long and mention internals; keep the part a user needs. */
function describeParseError(error: Error & { code?: string }): string {
  const quoted = /'([^']+)'/.exec(error.message)?.[1];
  switch (error.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${quoted ?? error.message}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      // "Option '--out <value>' argument missing" / "Option '--json' does not take an argument"
      if (/argument missing/.test(error.message)) return `option ${/--[\w-]+/.exec(quoted ?? '')?.[0] ?? quoted ?? ''} needs a value`;
      if (/does not take an argument/.test(error.message)) return `option ${quoted ?? ''} does not take a value`;
      // "Option '--class' argument is ambiguous": the value starts with a dash.
      if (/ambiguous/.test(error.message)) return `option ${quoted ?? ''} needs a value; for one starting with "-" write ${quoted ?? '--option'}=<value>`;
      return error.message.split('\n')[0]!;
    default:
      return error.message.split('\n')[0]!;
  }
}

/** Help lines are wrapped to this many columns. */
const HELP_WIDTH = 100;

/** Splits text into lines of at most `width` characters at spaces (longer words stay whole). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  return [...lines, line];
}

/** The help text of a command: synopsis, summary, options grouped under headings, notes. */
export function formatHelp(spec: CommandSpec): string {
  const lines = [`Usage: ${PROGRAM} ${spec.usage}`.trimEnd(), '', spec.summary];
  const left = (o: OptionSpec): string =>
    `${o.short ? `-${o.short}, ` : '    '}--${o.name}${o.value ? ` ${o.value}` : ''}`;
  const width = Math.max(...spec.options.map((o) => left(o).length));
  const groups = [...new Set(spec.options.map((o) => o.group ?? 'Options'))];
  for (const group of groups) {
    lines.push('', `${group}:`);
    for (const o of spec.options.filter((x) => (x.group ?? 'Options') === group)) {
      const def = o.default === undefined ? '' : ` (default: ${o.default})`;
      const [firstLine, ...more] = wrap(`${o.description}${def}`, HELP_WIDTH - width - 4);
      lines.push(`  ${left(o).padEnd(width)}  ${firstLine}`, ...more.map((l) => `${' '.repeat(width + 4)}${l}`));
    }
  }
  for (const note of spec.notes ?? []) lines.push('', note);
  return `${lines.join('\n')}\n`;
}

/** Where a command writes and what environment it sees (process's own, or a test's). */
export interface CliIO {
  readonly stdout: { write(chunk: string): unknown };
  readonly stderr: { write(chunk: string): unknown; readonly isTTY?: boolean; readonly columns?: number };
  readonly env: NodeJS.ProcessEnv;
  /** Read for the input `-`. */
  readonly stdin?: AsyncIterable<Uint8Array | string>;
}
