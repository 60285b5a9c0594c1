/**
 * `resnet-lrp serve`: the browser page on a local web server, with the headers that
 * onnxruntime-web needs for multi-threaded WebAssembly (cross-origin isolation). Everything it
 * serves is static (dist/web, built by `npm run build`); with `--weights` it also serves that
 * one model file and names it in `config.json`, so the page starts with it.
 */
import { constants, createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { basename, dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HDF5_SIGNATURE, isOnnxBytes } from '../weights/from-bytes.js';
import { parseWeights } from './explain-options.js';
import { printable } from './printable.js';
import { optionValues } from './option-values.js';
import { formatHelp, parseCommandLine, type CliIO, type CommandSpec } from './usage.js';
import { resolveWeights } from './weights.js';

export const SERVE_COMMAND: CommandSpec = {
  name: 'serve',
  usage: 'serve [--port 8080] [--weights <file.h5|file.onnx|imagenet>]',
  summary:
    'Serves the web page locally: drop a photo and see what the network looked at, computed in\n' +
    'the browser (onnxruntime-web); nothing is uploaded. Sends the COOP/COEP headers that\n' +
    'multi-threaded WebAssembly needs.',
  options: [
    { name: 'port', short: 'p', type: 'string', value: '<n>', default: '8080', description: 'TCP port (0 = any free port)' },
    { name: 'host', type: 'string', value: '<address>', default: '127.0.0.1', description: 'address to listen on (0.0.0.0 for the whole network)' },
    { name: 'weights', short: 'w', type: 'string', value: '<file|imagenet>', default: 'the bundled reference model',
      description: 'the model the page starts with: a Keras .h5 or ONNX file, or imagenet (from the cache, downloaded once)' },
    { name: 'help', short: 'h', type: 'boolean', description: 'show this help' },
  ],
  notes: ['Static hosting: copy dist/web/ to any web server that sends Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp (without them the page runs single-threaded).'],
};

/** Headers for cross-origin isolation: SharedArrayBuffer, hence WebAssembly threads. */
export const ISOLATION_HEADERS: Readonly<Record<string, string>> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.svg': 'image/svg+xml',
  '.h5': 'application/octet-stream',
  '.onnx': 'application/octet-stream',
};

/** The built page: dist/web next to this module's dist/src. */
export function webRoot(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'web');
}

export interface ServeOptions {
  port?: number;
  host?: string;
  /** Folder of the built page (default {@link webRoot}). */
  root?: string;
  /** A model file the page starts with. */
  model?: { path: string; label: string };
}

/** Starts the server; resolves once it listens. */
export async function startServer(options: ServeOptions = {}): Promise<{ url: string; server: Server; close: () => Promise<void> }> {
  const root = options.root ?? webRoot();
  const index = await stat(join(root, 'index.html')).catch(() => undefined);
  if (!index?.isFile()) throw new Error(`${root}: the web page is not built (run npm run build)`);
  const model = options.model;
  const allowedHosts = hostNames(options.host ?? '127.0.0.1');
  const modelUrl = model ? `/model/${encodeURIComponent(basename(model.path))}` : undefined;
  const server = createServer((request, response) => {
    const send = (status: number, body: string, type = 'text/plain; charset=utf-8'): void => {
      response.writeHead(status, { ...ISOLATION_HEADERS, 'Content-Type': type, 'Cache-Control': 'no-cache' });
      response.end(request.method === 'HEAD' ? undefined : body);
    };
    if (request.method !== 'GET' && request.method !== 'HEAD') return send(405, 'method not allowed');
    // DNS rebinding: a page of another site whose name resolves to this address must not read the model.
    if (!isAllowedHost(request.headers.host, allowedHosts)) return send(421, 'unknown host: this server answers only for the names it listens on');
    let path: string;
    try {
      path = decodeURIComponent(new URL(request.url ?? '/', 'http://localhost').pathname);
    } catch {
      return send(400, 'bad request');
    }
    if (path === '/config.json') {
      return send(200, JSON.stringify(model ? { model: { url: modelUrl, label: model.label } } : {}), CONTENT_TYPES['.json']);
    }
    let file: string;
    if (model && path === decodeURIComponent(modelUrl!)) file = model.path;
    else {
      file = normalize(join(root, path.endsWith('/') ? `${path}index.html` : path));
      // Nothing outside the page's folder.
      if (file !== root && !file.startsWith(root + sep)) return send(403, 'forbidden');
    }
    stat(file).then((info) => {
      if (!info.isFile()) return send(404, 'not found');
      response.writeHead(200, {
        ...ISOLATION_HEADERS,
        'Content-Type': CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
        'Content-Length': String(info.size),
        'Cache-Control': 'no-cache',
      });
      if (request.method === 'HEAD') return response.end();
      createReadStream(file).on('error', () => response.destroy()).pipe(response);
    }, () => send(404, 'not found'));
  });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, options.host ?? '127.0.0.1', () => resolveListen());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const host = options.host && options.host !== '0.0.0.0' ? options.host : '127.0.0.1';
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/`,
    server,
    close: () => new Promise((done) => {
      server.closeAllConnections();
      server.close(() => done());
    }),
  };
}

/**
 * The host names a request may address: the listening address itself, and for a loopback or
 * wildcard address `localhost` and the loopback addresses; for the wildcard also this machine's
 * name and any IP address (what others on the network type). A DNS name someone else controls
 * is never among them.
 */
export function hostNames(listen: string): Set<string> {
  const names = new Set([listen.toLowerCase()]);
  const loopback = ['localhost', '127.0.0.1', '::1'];
  if (listen === '0.0.0.0' || listen === '::' || loopback.includes(listen.toLowerCase()) || listen.startsWith('127.')) {
    for (const name of loopback) names.add(name);
  }
  if (listen === '0.0.0.0' || listen === '::') {
    names.add(hostname().toLowerCase());
    names.add('*ip');
  }
  return names;
}

/** True when the Host header (name and optional port) names one of `allowed` ({@link hostNames}). */
export function isAllowedHost(header: string | undefined, allowed: ReadonlySet<string>): boolean {
  if (!header) return false;
  const match = /^(?:\[([0-9a-f:.]+)\]|([^:\[\]]+))(?::\d+)?$/i.exec(header.trim());
  if (!match) return false;
  const name = (match[1] ?? match[2]!).toLowerCase().replace(/\.$/, '');
  return allowed.has(name) || (allowed.has('*ip') && isIP(name) !== 0);
}

/** True when the file starts like a Keras HDF5 or an ONNX file (what the page can load). */
async function isModelFile(path: string): Promise<boolean> {
  const file = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const head = new Uint8Array(HDF5_SIGNATURE.length);
    const { bytesRead } = await file.read(head, 0, head.length, 0);
    const bytes = head.subarray(0, bytesRead);
    return (bytesRead === HDF5_SIGNATURE.length && HDF5_SIGNATURE.every((b, i) => bytes[i] === b)) || isOnnxBytes(bytes);
  } finally {
    await file.close();
  }
}

/** Runs `serve` until interrupted. */
export async function serveCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommandLine(SERVE_COMMAND, argv);
  if (values.help) {
    io.stdout.write(formatHelp(SERVE_COMMAND));
    return 0;
  }
  const { fail: usage, integer } = optionValues(SERVE_COMMAND.name);
  if (positionals.length > 0) usage(`unexpected argument "${positionals[0]}" (serve takes options only)`);
  const port = integer('port', (values.port as string | undefined) ?? '8080', 0, 'an integer from 0 to 65535', 65535);
  let model: ServeOptions['model'];
  const weights = values.weights as string | undefined;
  if (weights !== undefined) {
    const choice = parseWeights(weights);
    if (choice.kind === 'random') usage('--weights random cannot be served: give a .h5 or .onnx file, or imagenet');
    const resolved = await resolveWeights(choice, { stderr: io.stderr, env: io.env, quiet: false, command: SERVE_COMMAND.name });
    const path = resolve(resolved.source as string);
    if (!(await isModelFile(path))) usage(`--weights ${printable(weights)} is not a model file (neither HDF5 nor ONNX): serve shares only model files`);
    model = { path, label: resolved.label === 'imagenet' ? 'ImageNet ResNet50 (Keras)' : basename(resolved.label) };
  }
  const { url, close } = await startServer({ port, host: (values.host as string | undefined) ?? '127.0.0.1', ...(model ? { model } : {}) });
  io.stdout.write(`Serving the resnet-lrp page on ${url} (cross-origin isolated: WebAssembly threads on)${model ? `, model ${printable(model.label)}` : ''}. Ctrl-C stops.\n`);
  await new Promise<void>((done) => {
    const stop = (): void => {
      io.stdout.write('Stopped.\n');
      void close().then(done);
    };
    // serve writes no files: the CLI's handlers (temp-file cleanup, "rerun with --resume") do not apply.
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.removeAllListeners(signal);
      process.once(signal, stop);
    }
  });
  return 0;
}
