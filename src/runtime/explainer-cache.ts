/**
 * The seam between the explainer and a store of compiled explainers kept between processes
 * (files under the cache directory in Node, see docs/cache.md; the Cache API or OPFS could
 * implement it in the browser). Platform-free: nothing here touches a file system.
 */
import type { CompiledExplainer } from '../lrp/compiler.js';
import type { LrpConfig } from '../lrp/presets.js';
import type { Precision } from '../onnx/graph-builder.js';
import type { RuntimeSession, SessionOptions } from './platform.js';

/**
 * Version of what a cache entry holds for given inputs. Bump it when the compiled graph for
 * the same model, rules and precision changes (the Node store also keys on its own code, so a
 * forgotten bump cannot serve a stale graph there).
 */
export const COMPILED_FORMAT = 1;

/** The identity of an explainer: everything its compiled graph depends on. */
export function explainerIdentity(modelKey: string, config: LrpConfig, precision: Precision): string {
  return JSON.stringify({ format: COMPILED_FORMAT, model: modelKey, config, precision });
}

/** An explainer session ready to run, with the names of its trace entries. */
export interface CachedExplainer {
  readonly session: RuntimeSession;
  readonly traceNames: readonly string[];
}

/**
 * A store of compiled explainers. `identity` says everything the compiled graph depends on
 * (model content, rules, precision, {@link COMPILED_FORMAT}); the store adds what its runtime
 * depends on (runtime version, session options, hardware).
 */
export interface ExplainerCache {
  /** The cached explainer's session, or `undefined` on a miss (a corrupt or unreadable entry counts as one and is dropped). */
  load(identity: string, options: SessionOptions): Promise<CachedExplainer | undefined>;
  /**
   * Starts reading the entry that {@link load} will ask for, so that reading it overlaps with
   * other work (the weights being read and bound).
   */
  prefetch?(identity: string, options: SessionOptions): void;
  /**
   * Creates the session of a freshly compiled explainer and keeps it for the next
   * {@link load}. Failing to keep it (disk full, read-only directory) never fails the session.
   */
  store(identity: string, compiled: CompiledExplainer, options: SessionOptions): Promise<CachedExplainer>;
}

/** What {@link Explainer.create} needs to use a cache: the store and the model's content key. */
export interface ExplainerCacheUse {
  readonly cache: ExplainerCache;
  /** A hash of everything the graph and weights come from (file content, input and head options). */
  readonly modelKey: string;
}
