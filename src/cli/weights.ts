/**
 * `--weights` → what LrpModel.load takes. The ImageNet file is fetched here rather than by
 * the library's loader so that the CLI can show a download bar before the model loads.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { WeightsSource } from '../lrp-model.js';
import { weightsCacheDir } from '../weights/cache.js';
import { ensureImageNetWeights } from '../weights/download.js';
import { RESNET50_FILE_NAMES } from '../weights/imagenet.js';
import type { WeightsChoice } from './explain-options.js';
import { createProgressWriter, type ProgressStream } from './progress-bar.js';
import { reason } from '../util/make-dir.js';
import { printable } from './printable.js';
import { UsageError } from './usage.js';

/** Weights ready to load, and how to describe them. */
export interface ResolvedWeights {
  source: WeightsSource;
  /** `imagenet`, the file path, or `random(seed=0)`. */
  label: string;
  /** False for random weights. */
  meaningful: boolean;
  seed?: number;
}

/**
 * Resolves the user's choice: checks that a weights file exists (a usage error otherwise), and
 * makes sure the ImageNet file is in the cache, downloading it with a progress bar on `stderr`.
 *
 * @throws UsageError of `io.command` (the command that runs) for a missing file; DownloadError (its message says how to place the
 *   file by hand when offline) when the ImageNet weights cannot be obtained.
 */
export async function resolveWeights(
  choice: WeightsChoice,
  io: { stderr: ProgressStream; env: NodeJS.ProcessEnv; quiet: boolean; command: string },
): Promise<ResolvedWeights> {
  switch (choice.kind) {
    case 'random':
      return { source: null, label: `random(seed=${choice.seed})`, meaningful: false, seed: choice.seed };
    case 'file': {
      const info = await stat(choice.path).catch((error: NodeJS.ErrnoException) => error);
      if (info instanceof Error) {
        const problem = info.code === 'ENOENT' ? 'not found' : `cannot be read (${reason(info)})`;
        throw new UsageError(`weights file ${problem}: ${printable(choice.path)}`, io.command);
      }
      if (!info.isFile()) throw new UsageError(`--weights ${printable(choice.path)} is not a regular file`, io.command);
      return { source: choice.path, label: choice.path, meaningful: true };
    }
    case 'imagenet': {
      const bar = io.quiet ? undefined : createProgressWriter(io.stderr, { label: RESNET50_FILE_NAMES.top });
      try {
        const path = await ensureImageNetWeights({
          cacheDir: weightsCacheDir(io.env),
          env: io.env,
          ...(bar ? { onProgress: (p: { received: number; total?: number }) => bar.update(p) } : {}),
        });
        return { source: path, label: 'imagenet', meaningful: true };
      } finally {
        bar?.done();
      }
    }
  }
}

/**
 * The model's identity by content, recorded in evaluate's run.json: `sha256:<hex>` of the
 * weights file (read in chunks), or the label of random weights (`random(seed=0)`).
 */
export async function modelIdentity(weights: ResolvedWeights): Promise<string> {
  if (typeof weights.source !== 'string') return weights.label;
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(weights.source)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}
