import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

/** Environment variable that overrides the weights cache directory. */
export const CACHE_DIR_ENV = 'RESNET_LRP_CACHE';

/**
 * Directory where downloaded weights are kept: `$RESNET_LRP_CACHE` if set, else
 * `$XDG_CACHE_HOME/resnet-lrp`, else `~/.cache/resnet-lrp` (`$HOME` from `env`, falling back to
 * the OS home directory). Empty variables count as unset, and a relative `XDG_CACHE_HOME` is
 * ignored, as the XDG base-directory spec asks.
 */
export function weightsCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const override = env[CACHE_DIR_ENV];
  // Absolute, so paths printed in error messages work from any directory.
  if (override) return resolve(override);
  const xdg = env.XDG_CACHE_HOME;
  if (xdg && isAbsolute(xdg)) return join(xdg, 'resnet-lrp');
  return join(env.HOME || homedir(), '.cache', 'resnet-lrp');
}
