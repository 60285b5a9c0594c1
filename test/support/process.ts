/**
 * Running the `resnet-lrp` command line as a child process in tests, and guarding against
 * hangs: one helper for every CLI test, so each gets a clean environment (no real cache, no
 * reachable download URL) and a timeout that turns a hang into a failure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './fixture.js';

/** The compiled command line. */
export const CLI = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Home and cache directory of the child (a test's temporary folder). */
  home: string;
  /** Added to (or overriding) the clean environment. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Kill the child and fail after this long (default 60 s). */
  timeoutMs?: number;
  /** Called once the child runs (to signal it, or to close its stdout). */
  onStart?: (child: ChildProcess) => void;
  /** Another script to run in place of the command line (e.g. one of scripts/). */
  script?: string;
}

/** A download base URL on a closed local port: nothing in a test reaches the network. */
export const CLOSED_URL = 'http://127.0.0.1:9/';

/** Runs `resnet-lrp <args>` with a clean environment; a run past its timeout is killed and fails. */
export function runCli(args: readonly string[], options: CliOptions): Promise<CliRun> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [options.script ?? CLI, ...args], {
      cwd: options.cwd ?? REPO_ROOT,
      env: { PATH: process.env.PATH, HOME: options.home, RESNET_LRP_CACHE: join(options.home, 'no-cache'), RESNET_LRP_WEIGHTS_URL: CLOSED_URL, ...options.env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stdout.on('error', () => undefined);
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`resnet-lrp ${args.join(' ')}: still running after ${timeoutMs} ms (hang)\n${stderr}`));
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    options.onStart?.(child);
  });
}

/** Rejects when `promise` has not settled after `ms`: a hang fails the test instead of blocking it. */
export function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`still running after ${ms} ms (hang)`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
