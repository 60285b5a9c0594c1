/**
 * How the process ends when it is stopped from outside: SIGINT / SIGTERM / SIGHUP remove the
 * temporary files being written (so no `*.tmp` is left) and exit with 128 + the signal number;
 * a closed stdout (`--json | head -1`) ends output quietly instead of with an EPIPE stack trace.
 * SIGKILL cannot be caught: the next run removes the stale temporary files (output-folder.ts).
 */
import { stopWriting } from '../util/temp-files.js';
import { PROGRAM } from './usage.js';

const EXIT_CODES: Readonly<Record<string, number>> = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 };

/** Installs the handlers on the real process (the `resnet-lrp` bin only, not the library). */
export function installExitHandlers(): void {
  for (const [signal, code] of Object.entries(EXIT_CODES)) {
    process.once(signal, () => {
      void stopWriting().finally(() => {
        try {
          process.stderr.write(`\n${PROGRAM}: stopped by ${signal}; rerun with --resume to continue\n`);
        } catch {
          // stderr closed: nothing to tell
        }
        process.exit(code);
      });
    });
  }
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      // The reader went away: there is nobody left to tell anything; finish quietly.
      if (error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED') return;
      throw error;
    });
  }
}
