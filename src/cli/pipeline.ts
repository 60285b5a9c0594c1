/**
 * Overlapping the three stages of a batch run. onnxruntime computes on its own threads, so
 * while it works on batch k the JS thread can decode batch k+1 and write the files of batch
 * k−1. At most one batch is in each stage, which bounds memory to three batches.
 */

/** The stages of {@link runPipelined}; each should handle per-item failures itself. */
export interface PipelineStages<Item, Decoded, Computed> {
  decode(batch: readonly Item[]): Promise<Decoded>;
  compute(decoded: Decoded): Promise<Computed>;
  write(computed: Computed): Promise<void>;
}

/** Runs every batch through decode → compute → write, overlapping neighbouring batches. */
export async function runPipelined<Item, Decoded, Computed>(
  batches: readonly (readonly Item[])[],
  stages: PipelineStages<Item, Decoded, Computed>,
): Promise<void> {
  if (batches.length === 0) return;
  let decoding = stages.decode(batches[0]!);
  let writing: Promise<void> = Promise.resolve();
  for (let k = 0; k < batches.length; k++) {
    const decoded = await decoding;
    // Start the next decode before computing, so it runs while onnxruntime does.
    if (k + 1 < batches.length) decoding = stages.decode(batches[k + 1]!);
    // A rejected decode of the next batch must not go unhandled while we compute this one.
    decoding.catch(() => undefined);
    const computed = await stages.compute(decoded);
    await writing;
    writing = stages.write(computed);
    writing.catch(() => undefined); // (awaited above on the next round or below)
  }
  await writing;
}

/** Splits `items` into consecutive batches of at most `size`. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
