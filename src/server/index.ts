/**
 * The engine: an iLoveIMG-compatible API server (node:http + busboy) that runs the image tools of
 * src/engine locally. `startServer` is the whole public surface; see README.md in this directory for
 * the wire decisions the reference leaves open.
 */
import { STATUS_CODES, createServer, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServerContext } from './context.js';
import { formatFaults } from './fault-spec.js';
import { FaultInjector } from './faults.js';
import { Semaphore } from '../concurrency/semaphore.js';
import { DecodeBudget } from './decode-budget.js';
import { resolveOptions, type EngineTools, type RecordedRequest, type RunningServer, type ServeOptions } from './options.js';
import { RateLimiter } from './ratelimit.js';
import { handleRequest } from './router.js';
import { injector } from './inject.js';
import { TaskStore } from './store.js';
import { MemoryPool } from './memory.js';

export type { FaultOptions } from './fault-spec.js';
export { parseFaults } from './fault-spec.js';
export type { Dispatch, InjectRequest, InjectResponse } from './inject.js';
export { EMBEDDED_MEMORY_BYTES } from './memory.js';
export type { EngineTools, ProjectKeys, RecordedRequest, RunningServer, ServeOptions, ServerLimits, ServerLogger } from './options.js';

/** `host:port` as a URL authority (IPv6 literals in brackets); wildcard binds are reached via loopback. */
function authority(host: string, port: number): string {
  const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return reachable.includes(':') ? `[${reachable}]:${port}` : `${reachable}:${port}`;
}

async function loadEngineModule(): Promise<EngineTools> {
  const mod = await import('../engine/index.js');
  return mod.ENGINE_TOOLS;
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export async function startServer(options: ServeOptions = {}): Promise<RunningServer> {
  const opts = resolveOptions(options);
  const { limits, logger } = opts;
  const ownDataDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'iloveimg-engine-')));
  if (!ownDataDir) await mkdir(dataDir, { recursive: true });

  // A data dir of the caller's (`serve --data-dir`) keeps tasks across restarts; a temporary one does not.
  const persistent = !ownDataDir && options.keepTasks !== false;
  const memory = !persistent && options.memoryBytes ? new MemoryPool(options.memoryBytes) : undefined;
  const store = new TaskStore(dataDir, limits, logger, persistent, memory);
  await store.init();

  // Background work (processing, webhooks) and requests in flight, for close() to wait for.
  const jobs = new Set<Promise<unknown>>();
  const inFlight = new Set<Promise<unknown>>();
  const trackIn = (set: Set<Promise<unknown>>, work: Promise<unknown>): void => {
    set.add(work);
    const forget = (): void => void set.delete(work);
    work.then(forget, forget);
  };
  let closing = false;
  let engine: Promise<EngineTools> | undefined;
  let publicHost = ''; // known once listening
  const log: RecordedRequest[] = [];
  const ctx: ServerContext = {
    limits,
    store,
    projects: new Map(opts.projects.map((p) => [p.publicKey, p])),
    get publicHost() {
      return publicHost;
    },
    get publicUrl() {
      return `${opts.tls ? 'https' : 'http'}://${publicHost}`;
    },
    slots: new Semaphore(opts.concurrency),
    decodeBudget: new DecodeBudget(limits.maxDecodeBytes),
    rateLimiter: limits.rateLimit > 0 ? new RateLimiter(limits.rateLimit) : undefined,
    faults: opts.faults ? new FaultInjector(opts.faults) : undefined,
    log,
    logger,
    loadEngine: () => {
      // A failed import is not cached, so a later request can succeed once src/engine is fixed.
      engine ??= opts.engine ? Promise.resolve(opts.engine) : loadEngineModule().catch((err: Error) => {
        engine = undefined;
        throw err;
      });
      return engine;
    },
    track: (work) => trackIn(jobs, work),
    get closing() {
      return closing;
    },
  };

  // node:http only looks for timed-out requests every `connectionsCheckingInterval` (30 s by default),
  // so a 2 s limit would let a slow-loris client hold a connection for 30 s: check at a quarter of
  // the shortest limit instead (between 0.1 s and the default).
  const shortest = Math.min(...[limits.headersTimeoutSeconds, limits.requestTimeoutSeconds].filter((s) => s > 0), 120);
  const serverOptions = {
    requestTimeout: limits.requestTimeoutSeconds * 1000,
    headersTimeout: limits.headersTimeoutSeconds * 1000,
    connectionsCheckingInterval: Math.max(100, Math.min(30_000, (shortest * 1000) / 4)),
  };
  const onRequest = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => trackIn(inFlight, handleRequest(ctx, req, res));
  // An https.Server is an http.Server underneath (same events, timeouts and connection tracking).
  const server: Server = opts.tls ? (createTlsServer({ ...serverOptions, cert: opts.tls.cert, key: opts.tls.key }, onRequest) as unknown as Server) : createServer(serverOptions, onRequest);
  const scheme = opts.tls ? 'https' : 'http';
  // A client error (malformed request, headers over node's 16 KB limit, a timeout) must not reach the
  // process as an exception. It is answered in the API's error shape, unless a response is already
  // under way on that connection (writing a second one into it would corrupt it).
  // Each connection costs a socket and buffers: past the cap, node:http drops new ones at once.
  if (limits.maxConnections > 0) server.maxConnections = limits.maxConnections;
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    const inProgress = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
    if (socket.writable && !inProgress && err.code !== 'ECONNRESET') {
      const message = status === 408 ? 'The request took too long to arrive' : status === 431 ? 'The request headers are too large' : 'Malformed HTTP request';
      const body = JSON.stringify({ error: { type: 'HTTP Error', message, code: status } });
      socket.end(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
    } else socket.destroy();
    logger('warn', `client error: ${err.message}`);
  });

  let port: number;
  try {
    port = await listen(server, opts.port, opts.host);
  } catch (err) {
    if (ownDataDir) await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  publicHost = opts.publicHost ?? authority(opts.host, port);

  const sweepEvery = Math.min(60_000, Math.max(1_000, (limits.taskTtlSeconds * 1000) / 2));
  const sweeper = setInterval(() => void store.sweep(), sweepEvery);
  sweeper.unref();

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closed ??= (async () => {
      closing = true;
      clearInterval(sweeper);
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // Processing stops starting new files once `closing` is set; let the running ones finish so
      // their (synchronous) callers still get an answer, then cut what is left.
      await Promise.allSettled([...jobs]);
      await new Promise((resolve) => setImmediate(resolve));
      server.closeAllConnections();
      // Handlers of cut requests fail fast; wait for them so none writes into the data dir after it is gone.
      await Promise.allSettled([...inFlight]);
      await stopped;
      await store.clear();
      if (ownDataDir) await rm(dataDir, { recursive: true, force: true });
    })());

  logger('info', `engine listening on ${scheme}://${authority(opts.host, port)} (data in ${dataDir})`);
  if (opts.faults) logger('warn', `fault injection is on: ${formatFaults(opts.faults)}`);
  // The in-process transport (inject.ts): the same pipeline as onRequest, without the socket.
  const dispatch = injector(async (req, res) => {
    if (closing) throw Object.assign(new Error('The engine is shutting down (connection refused)'), { code: 'ECONNREFUSED' });
    const work = handleRequest(ctx, req, res);
    trackIn(inFlight, work);
    return work;
  });
  return { url: `${scheme}://${authority(opts.host, port)}`, port, projects: opts.projects, close, log, dispatch };
}
