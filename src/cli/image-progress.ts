/**
 * Progress over a list of images, in the style of the download bar (progress-bar.ts): one line
 * redrawn with `\r` on a TTY, an occasional full line otherwise (logs, CI). Messages printed
 * while the bar is shown (e.g. a failed input) go on their own line, and the bar is redrawn.
 */
import { formatDuration, type ProgressStream } from './progress-bar.js';

const BAR_WIDTH = 18;
const NAME_WIDTH = 24;

/** Everything {@link formatImageProgress} needs; times in milliseconds. */
export interface ImageProgressSnapshot {
  readonly done: number;
  readonly total: number;
  readonly startedAt: number;
  readonly now: number;
  /** The image just finished. */
  readonly current?: string;
}

/** `  3/10   30%  [#####.............]  0.4 s/image  ETA 3s  chelsea.png` */
export function formatImageProgress(s: ImageProgressSnapshot): string {
  const width = String(s.total).length;
  const fraction = s.total > 0 ? Math.min(1, s.done / s.total) : 1;
  const filled = Math.floor(fraction * BAR_WIDTH);
  const perImage = s.done > 0 ? (s.now - s.startedAt) / 1000 / s.done : undefined;
  const parts = [
    `${String(s.done).padStart(width)}/${s.total}`,
    `${String(Math.floor(fraction * 100)).padStart(3)}%`,
    `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}]`,
    perImage === undefined ? '-- s/image' : `${perImage.toFixed(perImage < 10 ? 2 : 0)} s/image`,
    `ETA ${perImage === undefined ? '--' : formatDuration(perImage * (s.total - s.done))}`,
  ];
  if (s.current) parts.push(s.current.length <= NAME_WIDTH ? s.current : `…${s.current.slice(-(NAME_WIDTH - 1))}`);
  return parts.join('  ');
}

/** Options of {@link createImageProgress}. */
export interface ImageProgressOptions {
  /** Draw the bar at all (false: only messages are written). */
  readonly enabled: boolean;
  /** Clock, for tests. Default `Date.now`. */
  readonly now?: () => number;
  /** TTY: minimum time between redraws. Default 100 ms. */
  readonly redrawMs?: number;
  /** Non-TTY: a line at least this often (besides every 10 %). Default 10 s. */
  readonly lineEveryMs?: number;
}

/** Receives "one more image done" and messages, and renders them. */
export interface ImageProgress {
  /** One image finished (successfully or not). */
  advance(current: string): void;
  /** Prints a message line (never lost behind the bar). */
  message(line: string): void;
  /** Draws the final state and ends the line. */
  done(): void;
}

/** A progress display for `total` images on `stream` (stderr). */
export function createImageProgress(stream: ProgressStream, total: number, options: ImageProgressOptions): ImageProgress {
  const now = options.now ?? Date.now;
  const redrawMs = options.redrawMs ?? 100;
  const lineEveryMs = options.lineEveryMs ?? 10_000;
  const startedAt = now();
  let done = 0;
  let current: string | undefined;
  let shown = 0; // length of the line on screen (TTY)
  let lastDrawAt = -Infinity;
  let lastDecile = 0; // the start line shows 0 %
  let drawnDone = -1;

  const line = (): string => {
    const text = formatImageProgress({ done, total, startedAt, now: now(), ...(current ? { current } : {}) });
    return stream.columns && stream.columns > 1 ? text.slice(0, stream.columns - 1) : text;
  };
  const draw = (): void => {
    const text = line();
    if (stream.isTTY) {
      stream.write(`\r${text}${' '.repeat(Math.max(0, shown - text.length))}`);
      shown = text.length;
    } else {
      stream.write(`${text}\n`);
    }
    lastDrawAt = now();
    drawnDone = done;
  };
  const clear = (): void => {
    if (stream.isTTY && shown > 0) stream.write(`\r${' '.repeat(shown)}\r`);
    shown = 0;
  };

  if (options.enabled) draw();
  return {
    advance(name) {
      done++;
      current = name;
      if (!options.enabled) return;
      const decile = Math.floor((10 * done) / total);
      if (stream.isTTY ? now() - lastDrawAt >= redrawMs || done === total : decile > lastDecile || now() - lastDrawAt >= lineEveryMs) {
        lastDecile = decile;
        draw();
      }
    },
    message(text) {
      if (options.enabled) clear();
      stream.write(`${text}\n`);
      if (options.enabled && stream.isTTY) draw();
    },
    done() {
      if (!options.enabled) return;
      if (drawnDone !== done) draw();
      if (stream.isTTY) stream.write('\n');
    },
  };
}
