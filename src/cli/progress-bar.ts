/**
 * A plain-text download progress bar. Terminal-agnostic: the TTY mode only uses `\r` (no ANSI
 * escapes), and non-TTY output (logs, CI) gets an occasional full line instead of redraws.
 */

/** Everything {@link formatProgress} needs; times in milliseconds (e.g. `Date.now()`). */
export interface ProgressSnapshot {
  readonly received: number;
  readonly total?: number;
  readonly startedAt: number;
  readonly now: number;
  /** Shown first, shortened with `…` past {@link LABEL_WIDTH} characters. */
  readonly label?: string;
  /** Bytes already present when timing started (a resumed download), excluded from the speed. */
  readonly resumedFrom?: number;
}

/** Longest label shown in full. */
export const LABEL_WIDTH = 17;
const BAR_WIDTH = 18;
const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'] as const;

/**
 * One line such as
 * `resnet50_weights… 45.2/97.8 MiB   46%  [########..........]  3.1 MiB/s  ETA 17s`;
 * without a known total only the amount and speed are shown.
 */
export function formatProgress(s: ProgressSnapshot): string {
  const parts: string[] = [];
  if (s.label) parts.push(shorten(s.label, LABEL_WIDTH));
  const seconds = (s.now - s.startedAt) / 1000;
  const speed = seconds > 0 ? Math.max(0, s.received - (s.resumedFrom ?? 0)) / seconds : undefined;
  const speedText = speed === undefined ? '-- B/s' : `${formatBytes(speed)}/s`;

  if (s.total === undefined || s.total <= 0) {
    parts.push(formatBytes(s.received), speedText);
    return parts.join('  ');
  }
  const fraction = Math.min(1, Math.max(0, s.received / s.total));
  const unit = unitFor(s.total);
  const filled = Math.floor(fraction * BAR_WIDTH);
  const eta = speed !== undefined && speed > 0 ? formatDuration((s.total - s.received) / speed) : '--';
  parts.push(
    `${scaled(s.received, unit)}/${scaled(s.total, unit)} ${UNITS[unit]}`,
    `${String(Math.floor(fraction * 100)).padStart(3)}%`,
    `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}]`,
    speedText,
    `ETA ${eta}`,
  );
  return parts.join('  ');
}

/** `1.5 MiB`, `512 B`: binary units, one decimal above bytes. */
export function formatBytes(bytes: number): string {
  const unit = unitFor(bytes);
  return `${scaled(bytes, unit)} ${UNITS[unit]}`;
}

/** `17s`, `2m05s`, `1h02m` (rounded up: an ETA should not promise too little). */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  const m = Math.ceil(s / 60);
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

function unitFor(bytes: number): number {
  let unit = 0;
  while (unit < UNITS.length - 1 && bytes >= 1024 ** (unit + 1)) unit++;
  return unit;
}

function scaled(bytes: number, unit: number): string {
  return unit === 0 ? String(Math.round(bytes)) : (bytes / 1024 ** unit).toFixed(1);
}

function shorten(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}

/** The part of a writable stream the progress writer uses (e.g. `process.stderr`). */
export interface ProgressStream {
  write(chunk: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** Options of {@link createProgressWriter}. */
export interface ProgressWriterOptions {
  readonly label?: string;
  /** Clock, for tests. Default `Date.now`. */
  readonly now?: () => number;
  /** TTY: minimum time between redraws. Default 100 ms. */
  readonly redrawMs?: number;
  /** Non-TTY: a line at least this often (besides every 10 %). Default 10 s. */
  readonly lineEveryMs?: number;
}

/** Receives progress updates (e.g. as `onProgress` of a download) and renders them. */
export interface ProgressWriter {
  update(progress: { readonly received: number; readonly total?: number }): void;
  /** Draws the final state and ends the line. */
  done(): void;
}

/**
 * A writer that redraws one line with `\r` on a TTY (throttled) and otherwise prints a line at
 * the start, every 10 % (or every `lineEveryMs` when the total is unknown) and at the end.
 */
export function createProgressWriter(stream: ProgressStream, options: ProgressWriterOptions = {}): ProgressWriter {
  const now = options.now ?? Date.now;
  const redrawMs = options.redrawMs ?? 100;
  const lineEveryMs = options.lineEveryMs ?? 10_000;
  let startedAt: number | undefined;
  let resumedFrom = 0;
  let last: { received: number; total?: number } | undefined;
  let lastDrawAt = -Infinity;
  let lastDrawnLength = 0;
  let lastDecile = -1;
  let lastDrawn: { received: number; total?: number } | undefined;

  const render = (t: number): string => {
    const line = formatProgress({ ...last!, startedAt: startedAt!, now: t, resumedFrom, ...(options.label ? { label: options.label } : {}) });
    // Never wrap: a wrapped line cannot be redrawn with \r.
    return stream.columns && stream.columns > 1 ? line.slice(0, stream.columns - 1) : line;
  };
  const draw = (t: number): void => {
    const line = render(t);
    if (stream.isTTY) {
      stream.write(`\r${line}${' '.repeat(Math.max(0, lastDrawnLength - line.length))}`);
      lastDrawnLength = line.length;
    } else {
      stream.write(`${line}\n`);
    }
    lastDrawAt = t;
    lastDrawn = last;
  };

  return {
    update(progress) {
      const t = now();
      if (startedAt === undefined || (last !== undefined && progress.received < last.received)) {
        // First update, or the download restarted from zero: time the speed from here.
        startedAt = t;
        resumedFrom = progress.received;
      }
      last = { received: progress.received, ...(progress.total !== undefined ? { total: progress.total } : {}) };
      const finished = last.total !== undefined && last.received >= last.total;
      if (stream.isTTY) {
        if (finished || t - lastDrawAt >= redrawMs) draw(t);
        return;
      }
      const decile = last.total ? Math.floor((10 * last.received) / last.total) : -1;
      if (lastDrawn === undefined || decile > lastDecile || (decile < 0 && t - lastDrawAt >= lineEveryMs)) {
        lastDecile = decile;
        draw(t);
      }
    },
    done() {
      if (last === undefined) return;
      if (stream.isTTY) {
        if (lastDrawn !== last) draw(now());
        stream.write('\n');
      } else if (lastDrawn !== last) {
        draw(now());
      }
    },
  };
}
