/**
 * Resumable, verified downloads of weight files, and the cache lookup that uses them.
 *
 * Uses node:http/https rather than global fetch so we control the `Range` header, redirects and
 * the socket (a cut connection must leave the bytes received so far on disk for the next run).
 */
import { createHash } from 'node:crypto';
import { createReadStream, type Stats } from 'node:fs';
import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { basename, dirname, join } from 'node:path';
import { writeFileAtomic } from '../util/atomic-write.js';
import { makeDirectory } from '../util/make-dir.js';
import { weightsCacheDir } from './cache.js';
import { resnet50WeightsFile, WEIGHTS_URL_ENV, type ExpectedHash, type HashAlgorithm, type ImageNetVariant, type WeightsFile } from './imagenet.js';

/** Bytes received so far (including any resumed prefix) and the full size when the server told it. */
export interface DownloadProgress {
  readonly received: number;
  readonly total?: number;
}

/** Options of {@link downloadFile}. */
export interface DownloadOptions {
  /** Hash the complete file must have; on mismatch the partial file is deleted and an error thrown. */
  readonly expectedHash?: ExpectedHash;
  /** Called as bytes arrive (and once at the start of each response). */
  readonly onProgress?: (progress: DownloadProgress) => void;
  /** Socket idle timeout in milliseconds (connecting or waiting for data). Default 30 000. */
  readonly timeoutMs?: number;
  /** Redirects followed before giving up. Default 5. */
  readonly maxRedirects?: number;
  /**
   * The file's size, when known: a server announcing or sending more is cut off there (a
   * mirror streaming endless data must not fill the disk before the hash check can fail).
   */
  readonly maxBytes?: number;
}

/**
 * Why a download failed: `http` (bad status or too many redirects), `interrupted` (connection
 * lost mid-body; the partial file is kept and a rerun resumes), `offline` (host unreachable),
 * `hash` (complete file has the wrong hash; partial file deleted), `corrupt-cache` (a cached file
 * fails verification), `protocol` (unsupported URL or nonsensical server answer).
 */
export type DownloadErrorKind = 'http' | 'interrupted' | 'offline' | 'hash' | 'corrupt-cache' | 'protocol';

/** Error thrown by {@link downloadFile} and {@link ensureWeightsFile}; `kind` says what went wrong. */
export class DownloadError extends Error {
  override readonly name = 'DownloadError';
  /** HTTP status, for `kind === 'http'`. */
  readonly status?: number;

  constructor(
    readonly kind: DownloadErrorKind,
    message: string,
    /** The URL that was being downloaded. */
    readonly url: string,
    options: { cause?: unknown; status?: number } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    if (options.status !== undefined) this.status = options.status;
  }
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_REDIRECTS = 5;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Error codes meaning "could not reach the server at all", as opposed to a server-side failure. */
const OFFLINE_CODES = new Set([
  'ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENETUNREACH', 'ENETDOWN',
  'EHOSTUNREACH', 'EHOSTDOWN', 'EPIPE',
]);

/** The fixed partial-file name for `dest`: fixed (not random) so that a later run can resume it. */
export function partialPathFor(dest: string): string {
  return `${dest}.part`;
}

/** Hex digest of the file at `path`, streamed (weight files are ~100 MB). */
export async function hashFile(path: string, algorithm: HashAlgorithm): Promise<string> {
  const hash = createHash(algorithm);
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Downloads `url` to `dest`. Bytes stream into `dest + '.part'`; if that file already exists the
 * download resumes with `Range: bytes=<size>-` (a server answering 200 instead of 206 restarts it
 * from zero, 416 restarts it unless the partial file is already complete). Redirects are
 * followed. The complete file is checked against `expectedHash`, then renamed onto `dest`, so
 * `dest` only ever appears complete and verified.
 *
 * @throws {DownloadError} see {@link DownloadErrorKind}; file-system errors are passed through.
 */
export async function downloadFile(url: string, dest: string, options: DownloadOptions = {}): Promise<void> {
  const part = partialPathFor(dest);
  await makeDirectory(dirname(dest));

  // At most one restart from zero, so a server that misbehaves consistently cannot loop us.
  let restarted = false;
  const restart = async (why: string): Promise<void> => {
    if (restarted) throw new DownloadError('protocol', `Download of ${url} failed: ${why}, even after restarting from zero`, url);
    restarted = true;
    await rm(part, { force: true });
  };

  for (;;) {
    const offset = (await statOrUndefined(part))?.size ?? 0;
    const headers: http.OutgoingHttpHeaders = {
      'user-agent': 'resnet-lrp',
      // Byte offsets must refer to the file itself, not a compressed encoding of it.
      'accept-encoding': 'identity',
      ...(offset > 0 ? { range: `bytes=${offset}-` } : {}),
    };
    const { res, finalUrl } = await openFollowingRedirects(url, dest, headers, options);
    const status = res.statusCode ?? 0;

    if (status === 416 && offset > 0) {
      res.resume();
      // "Range not satisfiable" with `bytes */<size>` equal to what we hold: the file is complete.
      if (parseContentRange(res.headers['content-range'])?.total === offset) break;
      await restart(`HTTP 416 for a resume from byte ${offset}`);
      continue;
    }

    let start: number;
    let total: number | undefined;
    const length = parseNonNegativeInt(res.headers['content-length']);
    if (status === 206 && offset > 0) {
      const range = parseContentRange(res.headers['content-range']);
      if (range?.start !== offset) {
        res.resume();
        await restart(`asked for bytes from ${offset}, server sent Content-Range "${res.headers['content-range'] ?? ''}"`);
        continue;
      }
      start = offset;
      total = range.total ?? (length === undefined ? undefined : offset + length);
    } else if (status === 200) {
      // Also the answer of a server that ignores Range: the body is the whole file, start over.
      start = 0;
      total = length;
    } else {
      res.resume();
      const via = finalUrl === url ? '' : ` (redirected to ${finalUrl})`;
      throw new DownloadError('http', `Download of ${url}${via} failed: HTTP ${status} ${res.statusMessage ?? ''}`.trimEnd(), url, { status });
    }

    if (options.maxBytes !== undefined && total !== undefined && total > options.maxBytes) {
      res.destroy();
      await rm(part, { force: true });
      throw tooLarge(url, options.maxBytes, `the server announces ${total} bytes`);
    }
    await receiveBody(res, part, start, total, url, options.onProgress, options.maxBytes);
    break;
  }

  if (options.expectedHash) {
    const expected = options.expectedHash.hex.toLowerCase();
    const found = await hashFile(part, options.expectedHash.algorithm);
    if (found !== expected) {
      // A complete file with the wrong content cannot be repaired by resuming: drop it.
      await rm(part, { force: true });
      throw new DownloadError(
        'hash',
        `Download of ${url} has the wrong ${options.expectedHash.algorithm} hash: expected ${expected}, found ${found}. ` +
          'The downloaded file was deleted; run again to retry, and check the URL if it keeps happening.',
        url,
      );
    }
  }
  await rename(part, dest);
}

/** Bytes queued for the disk before the socket is paused (back-pressure for a slow disk). */
const MAX_QUEUED_BYTES = 8 * 1024 * 1024;

/** Streams `res` into `part` starting at byte `start` (truncating when 0). */
async function receiveBody(
  res: http.IncomingMessage,
  part: string,
  start: number,
  total: number | undefined,
  url: string,
  onProgress: DownloadOptions['onProgress'],
  maxBytes: number | undefined,
): Promise<void> {
  const file = await open(part, start === 0 ? 'w' : 'a');
  let written = start;
  let received = start;
  let overflow = false;
  let cut: unknown;
  try {
    onProgress?.({ received: written, total });
    // 'data' events with our own write queue rather than `for await`: when the connection
    // drops, the async iterator throws away chunks it has already received, and every byte
    // we keep is one the resumed download does not fetch again.
    let queued = 0;
    let writes: Promise<void> = Promise.resolve();
    let writeError: unknown;
    const ended = new Promise<void>((resolve, reject) => {
      res.on('data', (chunk: Buffer) => {
        if (overflow) return;
        received += chunk.length;
        if (maxBytes !== undefined && received > maxBytes) {
          overflow = true;
          res.destroy();
          return;
        }
        queued += chunk.length;
        if (queued > MAX_QUEUED_BYTES) res.pause();
        writes = writes.then(async () => {
          if (writeError !== undefined) return;
          try {
            await file.write(chunk);
          } catch (error) {
            writeError = error;
            res.destroy();
            return;
          }
          queued -= chunk.length;
          written += chunk.length;
          onProgress?.({ received: written, total });
          if (res.isPaused() && queued <= MAX_QUEUED_BYTES / 2) res.resume();
        });
      });
      res.on('end', resolve);
      res.on('error', reject);
      // 'close' without 'end' or 'error' (destroyed by us after a write error).
      res.on('close', () => (res.complete ? resolve() : reject(new Error('connection closed before the end of the body'))));
    });
    try {
      await ended;
    } catch (error) {
      cut = error;
    }
    await writes; // every byte received is on disk before we report or resume
    if (writeError !== undefined) throw writeError;
  } finally {
    await file.close();
  }
  if (overflow) {
    await rm(part, { force: true });
    throw tooLarge(url, maxBytes!, 'the server sent more');
  }
  if (cut !== undefined || (total !== undefined && written < total)) {
    const of = total === undefined ? '' : ` of ${total}`;
    const reason = cut === undefined ? 'connection closed early' : describe(cut);
    throw new DownloadError(
      'interrupted',
      `Download of ${url} was interrupted after ${written}${of} bytes (${reason}). ` +
        `The partial file ${part} is kept: run again to resume from where it stopped.`,
      url,
      { cause: cut },
    );
  }
}

/** The error for a body longer than the file can be. */
function tooLarge(url: string, maxBytes: number, what: string): DownloadError {
  return new DownloadError(
    'protocol',
    `Download of ${url} stopped: the file has ${maxBytes} bytes but ${what}. ` +
      'The partial file was deleted; check the URL (RESNET_LRP_WEIGHTS_URL) if it keeps happening.',
    url,
  );
}

/** GETs `url`, following redirects; connection-level failures become `offline` errors. */
async function openFollowingRedirects(
  url: string,
  dest: string,
  headers: http.OutgoingHttpHeaders,
  options: DownloadOptions,
): Promise<{ res: http.IncomingMessage; finalUrl: string }> {
  const maxRedirects = options.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  let current = url;
  for (let hops = 0; ; hops++) {
    let res: http.IncomingMessage;
    try {
      res = await get(current, headers, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    } catch (error) {
      if (error instanceof DownloadError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== undefined && OFFLINE_CODES.has(code)) throw offlineError(url, current, dest, options.expectedHash, error);
      throw new DownloadError('protocol', `Download of ${current} failed: ${describe(error)}`, url, { cause: error });
    }
    const location = res.headers.location;
    if (!REDIRECT_STATUSES.has(res.statusCode ?? 0) || location === undefined) return { res, finalUrl: current };
    res.resume();
    if (hops >= maxRedirects) {
      throw new DownloadError('http', `Download of ${url} failed: more than ${maxRedirects} redirects (last to ${location})`, url, {
        status: res.statusCode,
      });
    }
    current = new URL(location, current).href;
  }
}

/** One GET; resolves on the response headers. The idle timeout also covers the body. */
function get(url: string, headers: http.OutgoingHttpHeaders, timeoutMs: number): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const parsed = new URL(url);
    const client = parsed.protocol === 'https:' ? https : parsed.protocol === 'http:' ? http : undefined;
    if (client === undefined) {
      reject(new DownloadError('protocol', `Cannot download ${url}: only http and https URLs are supported`, url));
      return;
    }
    const req = client.get(parsed, { headers }, resolve);
    req.setTimeout(timeoutMs, () => {
      const error: NodeJS.ErrnoException = new Error(`no data for ${timeoutMs} ms`);
      error.code = 'ETIMEDOUT';
      req.destroy(error);
    });
    // After the response arrived, failures surface on the response stream; this only settles
    // the promise before that (and keeps later request errors from going unhandled).
    req.on('error', reject);
  });
}

/** The error for an unreachable server: says how to install the file by hand. */
function offlineError(url: string, current: string, dest: string, hash: ExpectedHash | undefined, cause: unknown): DownloadError {
  const via = current === url ? '' : ` (while following a redirect to ${current})`;
  const check = hash ? ` It is checked against its ${hash.algorithm} hash (${hash.hex}) before use.` : '';
  return new DownloadError(
    'offline',
    `Cannot download ${url}${via}: the server is unreachable (${describe(cause)}). ` +
      `If this machine is offline, fetch the file on another machine from\n  ${url}\n` +
      `and copy it, named exactly ${basename(dest)}, into the directory\n  ${dirname(dest)}\n` +
      `(full path ${dest}).${check}`,
    url,
    { cause },
  );
}

/** Options of {@link ensureWeightsFile}. */
export interface EnsureWeightsOptions extends Omit<DownloadOptions, 'expectedHash'> {
  /** Cache directory; default {@link weightsCacheDir}(). */
  readonly cacheDir?: string;
}

/** Options of {@link ensureImageNetWeights}. */
export interface EnsureImageNetWeightsOptions extends EnsureWeightsOptions {
  /** With (`top`, default) or without (`notop`) the classifier. */
  readonly variant?: ImageNetVariant;
  /** Replaces Keras' download base URL (a mirror, or a local server in tests); default `$RESNET_LRP_WEIGHTS_URL`. */
  readonly baseUrl?: string;
  /** Where `RESNET_LRP_WEIGHTS_URL` is read from (default `process.env`). */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Path of the ResNet50 ImageNet weights in the cache, downloading them first if needed.
 * See {@link ensureWeightsFile}.
 */
export function ensureImageNetWeights(options: EnsureImageNetWeightsOptions = {}): Promise<string> {
  const baseUrl = options.baseUrl ?? ((options.env ?? process.env)[WEIGHTS_URL_ENV] || undefined);
  return ensureWeightsFile(resnet50WeightsFile(options.variant ?? 'top', baseUrl), options);
}

/**
 * Path of `file` in the cache directory. A cached file is verified (size, then hash) the first
 * time it is seen and a `<file>.<algorithm>-ok` marker records its size and mtime, so later runs
 * skip rehashing; a missing file is downloaded (resuming any partial download).
 *
 * @throws {DownloadError} `corrupt-cache` if the cached file fails verification (it is left in
 *   place; the message says to delete it), or any {@link downloadFile} error.
 */
export async function ensureWeightsFile(file: WeightsFile, options: EnsureWeightsOptions = {}): Promise<string> {
  const path = join(options.cacheDir ?? weightsCacheDir(), file.fileName);
  const cached = await statOrUndefined(path);
  if (cached === undefined) {
    await downloadFile(file.url, path, {
      ...options,
      expectedHash: file.hash,
      ...(file.sizeBytes !== undefined ? { maxBytes: file.sizeBytes } : {}),
    });
    await writeVerifiedMarker(path, await stat(path), file.hash);
    return path;
  }
  if (await isMarkedVerified(path, cached, file.hash)) return path;

  const corrupt = (detail: string): DownloadError =>
    new DownloadError(
      'corrupt-cache',
      `Cached weights file ${path} is corrupt or incomplete (${detail}). ` +
        `Delete it and run again to download a fresh copy from ${file.url}.`,
      file.url,
    );
  if (!cached.isFile()) throw corrupt('not a regular file');
  if (file.sizeBytes !== undefined && cached.size !== file.sizeBytes) {
    throw corrupt(`${cached.size} bytes, expected ${file.sizeBytes}`);
  }
  const expected = file.hash.hex.toLowerCase();
  const found = await hashFile(path, file.hash.algorithm);
  if (found !== expected) throw corrupt(`${file.hash.algorithm} ${found}, expected ${expected}`);
  await writeVerifiedMarker(path, cached, file.hash);
  return path;
}

/**
 * What the verified marker remembers: the file is unchanged if size and mtime still match.
 * mtimes compare within 1 ms: timestamps set through `utimes` (copy tools) round-trip through
 * floating-point seconds and come back a hair off.
 */
interface VerifiedMarker {
  readonly algorithm: HashAlgorithm;
  readonly hex: string;
  readonly size: number;
  readonly mtimeMs: number;
}

function markerPathFor(path: string, hash: ExpectedHash): string {
  return `${path}.${hash.algorithm}-ok`;
}

async function isMarkedVerified(path: string, stats: Stats, hash: ExpectedHash): Promise<boolean> {
  try {
    const marker = JSON.parse(await readFile(markerPathFor(path, hash), 'utf8')) as Partial<VerifiedMarker>;
    return (
      marker.algorithm === hash.algorithm &&
      marker.hex === hash.hex.toLowerCase() &&
      marker.size === stats.size &&
      typeof marker.mtimeMs === 'number' &&
      Math.abs(marker.mtimeMs - stats.mtimeMs) < 1
    );
  } catch {
    return false; // missing or unreadable marker: just verify again
  }
}

async function writeVerifiedMarker(path: string, stats: Stats, hash: ExpectedHash): Promise<void> {
  const marker: VerifiedMarker = { algorithm: hash.algorithm, hex: hash.hex.toLowerCase(), size: stats.size, mtimeMs: stats.mtimeMs };
  try {
    await writeFileAtomic(markerPathFor(path, hash), `${JSON.stringify(marker)}\n`);
  } catch {
    // The marker only saves rehashing next time; a read-only cache (file placed by hand) is fine.
  }
}

async function statOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await stat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

// Parses `bytes <start>-<end>/<total>` or `bytes */<total>`; a total of `*` means unknown.
function parseContentRange(header: string | undefined): { start?: number; total?: number } | undefined {
  const match = header === undefined ? null : /^bytes\s+(?:(\d+)-\d+|\*)\/(\d+|\*)$/i.exec(header.trim());
  if (!match) return undefined;
  return {
    ...(match[1] !== undefined ? { start: Number(match[1]) } : {}),
    ...(match[2] !== '*' ? { total: Number(match[2]) } : {}),
  };
}

function parseNonNegativeInt(header: string | undefined): number | undefined {
  return header !== undefined && /^\d+$/.test(header.trim()) ? Number(header) : undefined;
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as NodeJS.ErrnoException).code;
  return code !== undefined && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
}
