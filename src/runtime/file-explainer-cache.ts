/**
 * The compile cache in Node: compiled explainers kept as files under the cache directory, so
 * that the second start of the same model, rules and precision reads the graph onnxruntime
 * already optimised instead of compiling and optimising it again. Layout, keys and options:
 * docs/cache.md.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { arch, cpus, platform } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CompiledExplainer } from '../lrp/compiler.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { makeDirectory } from '../util/make-dir.js';
import { isRunning, TEMPORARY_NAME } from '../util/temp-files.js';
import { weightsCacheDir } from '../weights/cache.js';
import type { CachedExplainer, ExplainerCache } from './explainer-cache.js';
import type { RuntimeSession, SessionOptions } from './platform.js';
import { ort, sessionOptions } from './session.js';

/** Environment variable that turns the compile cache off (any value but empty or `0`). */
export const NO_CACHE_ENV = 'RESNET_LRP_NO_CACHE';

/** Default bound of the cache's size on disk: 2 GiB (a Keras ResNet50 entry is about 300 MB). */
export const DEFAULT_MAX_CACHE_BYTES = 2 * 2 ** 30;

/** Options of the compile cache. */
export interface CompileCacheOptions {
  /** Directory of the entries (default: `compiled/` in the weights cache directory). */
  dir?: string;
  /**
   * Largest total size of the entries in bytes (default {@link DEFAULT_MAX_CACHE_BYTES}); the
   * least recently used are removed beyond it, and an entry larger than all of it is not kept.
   */
  maxBytes?: number;
  /**
   * Keep the graph as onnxruntime optimised it (default `true`): a warm start then skips the
   * optimisation, for a larger entry (Keras ResNet50: 297 MB instead of 104 MB) and a slower
   * first start (onnxruntime writes it). `false` keeps the compiled graph, which is optimised on
   * every load. Measurements: docs/benchmarks.md.
   */
  optimized?: boolean;
}

/** True when `$RESNET_LRP_NO_CACHE` asks for no compile cache. */
export function cacheDisabledByEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = env[NO_CACHE_ENV];
  return value !== undefined && value !== '' && value !== '0';
}

/** The compile cache's directory: `compiled/` under `cacheDir` or the weights cache directory. */
export function compileCacheDir(cacheDir?: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheDir ?? weightsCacheDir(env), 'compiled');
}

const ENTRY_FILE = 'entry.json';
/** Content hashes of weight files, by path (see {@link FileExplainerCache.contentHash}). */
const HASHES_FILE = 'hashes.json';
const MAX_HASHES = 256;
const MODEL_FILE = 'model.onnx';
const ENTRY_KIND = 'resnet-lrp compiled explainer';
const ENTRY_NAME = /^[0-9a-f]{64}$/;

/** What `entry.json` holds next to the model. */
interface EntryRecord {
  kind: typeof ENTRY_KIND;
  /** Size of `model.onnx`, and SHA-256 of the trace names and it: an altered entry is a miss, not a wrong result. */
  size: number;
  sha256: string;
  traceNames: string[];
  /** `model.onnx` is onnxruntime's optimised graph (else the compiled one, optimised when loaded). */
  optimized: boolean;
}

/**
 * Entries are directories `<dir>/<key>/` holding `model.onnx` (the graph as onnxruntime
 * optimised it, loaded again without optimisation) and `entry.json`. An entry is written in a
 * temporary directory and renamed into place whole, so readers never see half of one and of
 * two concurrent writers of one key, the first rename wins.
 */
export class FileExplainerCache implements ExplainerCache {
  readonly dir: string;
  readonly maxBytes: number;
  readonly optimized: boolean;
  /** Entries being read ahead of {@link load}, by identity and options. */
  private readonly reading = new Map<string, Promise<EntryFiles>>();

  /** @throws RangeError for a `maxBytes` that is not a non-negative integer. */
  constructor(options: CompileCacheOptions = {}) {
    const maxBytes = options.maxBytes ?? DEFAULT_MAX_CACHE_BYTES;
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new RangeError(`compile cache maxBytes must be a non-negative integer, got ${maxBytes}`);
    this.dir = options.dir ?? compileCacheDir();
    this.maxBytes = maxBytes;
    this.optimized = options.optimized ?? true;
  }

  prefetch(identity: string, options: SessionOptions): void {
    const id = JSON.stringify([identity, options]);
    if (!this.reading.has(id)) this.reading.set(id, this.read(identity, options));
  }

  async load(identity: string, options: SessionOptions): Promise<CachedExplainer | undefined> {
    const id = JSON.stringify([identity, options]);
    const reading = this.reading.get(id) ?? this.read(identity, options);
    this.reading.delete(id);
    const { path, record, bytes } = await reading;
    if (record === 'missing') return undefined;
    if (!record || !bytes || bytes.byteLength !== record.size || checksum(record.traceNames, bytes) !== record.sha256) {
      await this.remove(path);
      return undefined;
    }
    let session: RuntimeSession;
    try {
      // An optimised graph is loaded as it is: optimising again would only cost time.
      const level = record.optimized ? { graphOptimization: 'disabled' as const } : {};
      session = (await ort.InferenceSession.create(bytes, sessionOptions({ ...options, ...level }))) as unknown as RuntimeSession;
    } catch {
      await this.remove(path);
      return undefined;
    }
    // The modification time of entry.json is the entry's last use (for eviction).
    const now = new Date();
    await utimes(join(path, ENTRY_FILE), now, now).catch(() => undefined);
    return { session, traceNames: record.traceNames };
  }

  /**
   * SHA-256 of the regular file at `path` (`undefined` for anything else: the weight readers
   * name those). Remembered in `hashes.json` with the file's identity and times (device, inode,
   * size, modification and change time in nanoseconds), so an unchanged file is not read twice;
   * any write to the file changes its change time.
   */
  async contentHash(path: string): Promise<string | undefined> {
    const info = await stat(path, { bigint: true }).catch(() => undefined);
    if (!info?.isFile()) return undefined;
    const full = resolve(path);
    const id = [info.dev, info.ino, info.size, info.mtimeNs, info.ctimeNs].join(':');
    const memoPath = join(this.dir, HASHES_FILE);
    type Memo = Record<string, { id?: unknown; sha256?: unknown } | undefined>;
    const memo: Memo = await readFile(memoPath, 'utf8').then((text) => {
      const parsed: unknown = JSON.parse(text);
      return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Memo) : {};
    }).catch(() => ({}));
    const known = memo[full];
    if (known?.id === id && typeof known.sha256 === 'string') return known.sha256;
    // 16 MiB chunks: the default 64 KiB took 3× as long for a 100 MB file; memory stays bounded.
    let sha: string;
    try {
      const hash = createHash('sha256');
      for await (const chunk of createReadStream(path, { highWaterMark: 16 * 2 ** 20 })) hash.update(chunk as Buffer);
      sha = hash.digest('hex');
    } catch {
      return undefined; // gone or unreadable since: no cache, and the reader names the problem
    }
    // Latest first, at most MAX_HASHES files remembered.
    const entries = [[full, { id, sha256: sha }], ...Object.entries(memo).filter(([p]) => p !== full)].slice(0, MAX_HASHES);
    if (this.maxBytes > 0) await writeFileAtomic(memoPath, JSON.stringify(Object.fromEntries(entries))).catch(() => undefined);
    return sha;
  }

  /** The entry's files as they are on disk (checked by {@link load}); any failure is a miss. */
  private async read(identity: string, options: SessionOptions): Promise<EntryFiles> {
    const path = await entryKey(identity, options).then((key) => join(this.dir, key), () => undefined);
    if (path === undefined) return { path: '', record: 'missing' };
    const record = await readRecord(join(path, ENTRY_FILE));
    if (!record || record === 'missing') return { path, record };
    return { path, record, bytes: await readFile(join(path, MODEL_FILE)).catch(() => undefined) };
  }

  async store(identity: string, compiled: CompiledExplainer, options: SessionOptions): Promise<CachedExplainer> {
    const key = await entryKey(identity, options).catch(() => undefined);
    const final = join(this.dir, key ?? 'unused');
    const temporary = `${final}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    const traceNames = [...compiled.traceNames];
    const made = key !== undefined && this.maxBytes > 0 && (await makeDirectory(temporary).then(() => true, () => false));
    const optimized = made && this.optimized;
    const create = (save: boolean) => ort.InferenceSession.create(compiled.model, {
      ...sessionOptions(options),
      // Errors only: onnxruntime warns that an NCHWc graph is for this hardware (it is keyed so).
      ...(save ? { optimizedModelFilePath: join(temporary, MODEL_FILE), logSeverityLevel: 3 as const } : {}),
    }) as Promise<unknown> as Promise<RuntimeSession>;
    // Writing the optimised graph may fail where the session would not (disk full).
    const saved = optimized ? await create(true).catch(() => undefined) : undefined;
    const session = saved ?? (await create(false));
    if (made) {
      try {
        const bytes = saved ? await readFile(join(temporary, MODEL_FILE)) : compiled.model;
        if (!saved) await writeFile(join(temporary, MODEL_FILE), bytes);
        const record: EntryRecord = { kind: ENTRY_KIND, optimized: saved !== undefined, size: bytes.byteLength, sha256: checksum(traceNames, bytes), traceNames };
        await writeFile(join(temporary, ENTRY_FILE), JSON.stringify(record));
        await rename(temporary, final);
        await this.evict(key!);
      } catch {
        // Not kept (another process stored the same key first, a full disk, a read-only
        // directory): the session works all the same.
      } finally {
        await rm(temporary, { recursive: true, force: true });
      }
    }
    return { session, traceNames };
  }

  /**
   * Removes the least recently used entries until the rest fit in {@link maxBytes} (`newest`,
   * just stored, last), and temporary directories that dead processes left behind.
   */
  async evict(newest?: string): Promise<void> {
    const entries = await readdir(this.dir, { withFileTypes: true }).catch(() => []);
    const kept: { name: string; bytes: number; used: number }[] = [];
    for (const entry of entries) {
      if (!entry.isDirectory()) continue;
      const temporary = TEMPORARY_NAME.exec(entry.name);
      if (temporary) {
        if (!isRunning(Number(temporary[2]))) await rm(join(this.dir, entry.name), { recursive: true, force: true });
        continue;
      }
      if (!ENTRY_NAME.test(entry.name)) continue;
      const record = await stat(join(this.dir, entry.name, ENTRY_FILE)).catch(() => undefined);
      const model = await stat(join(this.dir, entry.name, MODEL_FILE)).catch(() => undefined);
      if (!record || !model) continue;
      kept.push({ name: entry.name, bytes: record.size + model.size, used: entry.name === newest ? Infinity : record.mtimeMs });
    }
    kept.sort((a, b) => a.used - b.used);
    let total = kept.reduce((sum, e) => sum + e.bytes, 0);
    for (const entry of kept) {
      if (total <= this.maxBytes) break;
      await this.remove(join(this.dir, entry.name));
      total -= entry.bytes;
    }
  }

  /** Removes an entry: renamed away first, so no reader sees it half removed. */
  private async remove(path: string): Promise<void> {
    const doomed = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    if (await rename(path, doomed).then(() => true, () => false)) await rm(doomed, { recursive: true, force: true });
  }
}

interface EntryFiles {
  path: string;
  record: EntryRecord | undefined | 'missing';
  bytes?: Uint8Array | undefined;
}

/** The entry's record, `undefined` when unreadable or not one, `'missing'` when there is none. */
async function readRecord(path: string): Promise<EntryRecord | undefined | 'missing'> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : undefined;
  }
  try {
    const r = JSON.parse(text) as Partial<EntryRecord>;
    const ok = r.kind === ENTRY_KIND && Number.isSafeInteger(r.size) && typeof r.sha256 === 'string'
      && Array.isArray(r.traceNames) && r.traceNames.every((n) => typeof n === 'string') && typeof r.optimized === 'boolean';
    return ok ? (r as EntryRecord) : undefined;
  } catch {
    return undefined;
  }
}

function checksum(traceNames: readonly string[], model: Uint8Array): string {
  return createHash('sha256').update(JSON.stringify(traceNames)).update('\0').update(model).digest('hex');
}

function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * An entry's name: the graph's identity plus what onnxruntime's optimised graph depends on
 * (its version, the optimisation level, the CPU: the NCHWc layout is hardware-specific) and
 * this library's code (a changed compiler never reads an entry of the old one).
 */
async function entryKey(identity: string, options: SessionOptions): Promise<string> {
  return sha256(JSON.stringify({
    identity,
    runtime: `onnxruntime-node ${ort.env.versions.node ?? ort.env.versions.common}`,
    optimization: options.graphOptimization ?? 'all',
    hardware: `${platform()} ${arch()} ${cpus()[0]?.model ?? ''}`,
    code: await codeHash(),
  }));
}

let code: Promise<string> | undefined;

/** SHA-256 over this library's compiled modules (`dist/src/**\/*.js`). */
function codeHash(): Promise<string> {
  code ??= (async () => {
    const root = dirname(dirname(fileURLToPath(import.meta.url)));
    const files = (await readdir(root, { recursive: true })).filter((f) => f.endsWith('.js')).sort();
    const hash = createHash('sha256');
    for (const file of files) hash.update(`${file}\0`).update(await readFile(join(root, file)));
    return hash.digest('hex');
  })();
  return code;
}
