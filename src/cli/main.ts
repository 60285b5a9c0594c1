#!/usr/bin/env node
/**
 * The `resnet-lrp` command: dispatches to a command and turns errors into exit codes —
 * 0 success, 1 failed inputs or an error at run time (one message, no stack trace unless
 * `RESNET_LRP_DEBUG=1`), 2 usage errors (one line + where to find help).
 */
import { readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { evaluateCommand } from './evaluate.js';
import { EVALUATE_COMMAND, MERGE_COMMAND } from './evaluate-options.js';
import { explainCommand } from './explain.js';
import { EXPLAIN_COMMAND } from './explain-options.js';
import { EXPORT_COMMAND, exportCommand } from './export.js';
import { mergeCommand } from './merge.js';
import { SERVE_COMMAND, serveCommand } from './serve.js';
import { printableLines } from './printable.js';
import { installExitHandlers } from './signals.js';
import { formatHelp, parseCommandLine, PROGRAM, UsageError, type CliIO, type CommandSpec } from './usage.js';

/** The program itself: its own options and the list of commands. */
export const MAIN_COMMAND: CommandSpec = {
  name: '',
  usage: '<command> [options]',
  summary:
    'Explains ResNet image classifications (Keras .h5, torchvision models exported to .onnx, the\n' +
    'ImageNet ResNet50) with Layer-wise Relevance Propagation.\n\n' +
    `Commands:\n  explain   classify images and explain the predictions (figures, heatmaps, .npy, .json)\n` +
    `  export    write the explainer as a standalone ONNX file (runs on any onnxruntime)\n` +
    `  evaluate  score attribution methods by patch insertion / deletion (report, plot)\n` +
    `  merge     combine the outputs of sharded evaluate runs\n` +
    `  serve     serve the web page: explain photos in the browser, nothing uploaded`,
  options: [
    { name: 'help', short: 'h', type: 'boolean', description: 'show this help' },
    { name: 'version', short: 'V', type: 'boolean', description: 'print the version' },
  ],
  notes: [`Run '${PROGRAM} <command> --help' for the options of a command, e.g. '${PROGRAM} ${EXPLAIN_COMMAND.name} --help'.`],
};

const COMMANDS: Record<string, (argv: readonly string[], io: CliIO) => Promise<number>> = {
  [EXPLAIN_COMMAND.name]: explainCommand,
  [EXPORT_COMMAND.name]: exportCommand,
  [EVALUATE_COMMAND.name]: evaluateCommand,
  [MERGE_COMMAND.name]: mergeCommand,
  [SERVE_COMMAND.name]: serveCommand,
};

/** Runs the program with `argv` (without node and script) and returns the exit code. */
export async function main(argv: readonly string[], io: CliIO): Promise<number> {
  try {
    const [first, ...rest] = argv;
    if (first !== undefined && !first.startsWith('-')) {
      const command = COMMANDS[first];
      if (!command) throw new UsageError(`unknown command "${first}" (commands: ${Object.keys(COMMANDS).join(', ')})`);
      return await command(rest, io);
    }
    const { values } = parseCommandLine(MAIN_COMMAND, argv);
    if (values.version) {
      io.stdout.write(`${version()}\n`);
      return 0;
    }
    if (values.help) {
      io.stdout.write(formatHelp(MAIN_COMMAND));
      return 0;
    }
    throw new UsageError('no command given');
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`${[PROGRAM, error.command].filter(Boolean).join(' ')}: ${printableLines(error.message)}\n${error.hint}\n`);
      return 2;
    }
    // Expected run-time failures (weights that cannot be downloaded or read, …) carry
    // messages written for users; a stack trace would only bury them.
    const debug = io.env.RESNET_LRP_DEBUG === '1';
    const text = debug && error instanceof Error ? (error.stack ?? error.message) : error instanceof Error ? error.message : String(error);
    io.stderr.write(`${PROGRAM}: error: ${printableLines(text)}\n`);
    return 1;
  }
}

/** The package version, from the package.json above this module (in src/ or dist/src/). */
function version(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === PROGRAM && pkg.version) return pkg.version;
    } catch {
      // not here: keep walking up
    }
    if (dirname(dir) === dir) return 'unknown';
  }
}

// Run when executed (as the `resnet-lrp` bin or `node dist/src/cli/main.js`), not when imported.
// npm installs bins as symlinks, hence the real paths.
if (process.argv[1] && realpathSync(fileURLToPath(import.meta.url)) === realpathOrSelf(process.argv[1])) {
  installExitHandlers();
  process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, stdin: process.stdin });
}

function realpathOrSelf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}
