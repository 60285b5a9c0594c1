/** The bench's summary statistics: medians (robust to a preempted run) and rounded milliseconds. */

/** The median of `values` (the upper one of an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Milliseconds to one decimal, as the JSON lines show them. */
export function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
