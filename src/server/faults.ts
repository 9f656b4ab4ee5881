/**
 * Fault injection (`serve --faults <spec>`): makes the engine a flaky server on purpose, for testing
 * clients — ours (test/reliability/faults.test.ts) or anyone else's. Off unless a spec is given.
 *
 * Spec: comma-separated `key=value` pairs, e.g. `rate=0.2,status=500:503:429,reset=0.05,latency=80,seed=42`
 *
 * | key       | meaning                                                                                   | default        |
 * |-----------|-------------------------------------------------------------------------------------------|----------------|
 * | `rate`    | share (0–1) of requests answered with an error status instead of being handled            | 0              |
 * | `status`  | the statuses to pick from, `:`-separated; only 500, 502, 503, 504 and 429                  | 500:503:429    |
 * | `late`    | share (0–1) of the status faults on `POST /process` and `POST /task/next` that are         | 0              |
 * |           | injected AFTER the request did its work: the task is processed (or the child task made)    |                |
 * |           | and the answer is replaced by a 500 (whatever status was drawn) — an answer lost on the    |                |
 * |           | way back                                                                                   |                |
 * | `reset`   | share (0–1) of uploads and of downloads whose connection is cut mid-transfer               | 0              |
 * | `latency` | milliseconds added before every request is looked at                                     | 0              |
 * | `seed`    | seed of the PRNG that picks the faults (same seed + same request order = same faults)      | random, logged |
 * | `only`    | fault only these endpoints, `:`-separated: `start`, `upload`, `process`, `download`,       | all            |
 * |           | `task` (`/task`, `/task/{id}`), `next` (`/task/next`), `info`, `auth`                      |                |
 * | `limit`   | inject at most this many faults in all, then none (`rate=1,only=process,limit=1`: exactly  | no limit       |
 * |           | the first process fails)                                                                  |                |
 *
 * What a fault does, and what it guarantees about the server's state:
 * - **Status fault** (`rate`): decided when the request arrives, before authentication, rate
 *   limiting, reading the body or anything else, so the request has no effect at all (nothing
 *   stored, nothing processed, no task made, nothing charged). 429 and 503 carry `Retry-After: 0`
 *   or `1`. Bodies: `{"error":{"type":"ServerError"|"BadGateway"|"ServiceUnavailable"|
 *   "GatewayTimeout"|"TooManyRequests","message":"Injected fault: …","code":…}}`.
 * - **Late fault** (`late`): only on the two non-idempotent calls. The request is handled completely
 *   (a 400 it would have answered included) and the client gets a 500 instead of the real answer.
 *   A client recovers with `GET /task/{task}` (process) or by asking for a new child (task/next;
 *   the first child stays TaskWaiting until it expires).
 * - **Upload reset** (`reset`, `POST /upload*` with a body): the engine reads part of the body (10–90 %
 *   of Content-Length) and resets the connection without ever passing the request on, so nothing of
 *   it is stored. The client sees ECONNRESET/EPIPE and may send the file again.
 * - **Download reset** (`reset`, `GET /download/…` answered 200): the status line, the headers and part
 *   of the body (10–90 % of Content-Length) are sent, then the connection is closed. The client sees a
 *   body shorter than its Content-Length; the task is untouched and the download can be retried.
 *
 * Every faulted request is marked in the request log (`RecordedRequest.fault`).
 */
import { randomInt } from 'node:crypto';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { prepareEarlyAnswer, sendJson } from './http.js';
import type { RecordedRequest } from './options.js';

export interface FaultOptions {
  /** Share of requests answered with one of `statuses` instead of being handled (0–1). */
  rate: number;
  /** Statuses a status fault picks from (uniformly). */
  statuses: number[];
  /** Share of status faults on /process and /task/next injected after the work is done (0–1). */
  late: number;
  /** Share of uploads and of downloads cut mid-transfer (0–1). */
  reset: number;
  /** Milliseconds of delay before every request. */
  latencyMs: number;
  /** PRNG seed. */
  seed: number;
  /** Endpoints that may be faulted (see the module comment); all when absent. */
  only?: string[];
  /** Most faults injected in all; unlimited when absent. */
  limit?: number;
}

export const FAULT_ENDPOINTS = ['start', 'upload', 'process', 'download', 'task', 'next', 'info', 'auth'] as const;

/** `/v1/task/next` → `next`; otherwise the first segment after `/v1` (`/v1/upload/delete` → `upload`). */
function endpointOf(path: string): string {
  const [, v1, first, second] = path.split('/');
  if (v1 !== 'v1') return '';
  return first === 'task' && second === 'next' ? 'next' : (first ?? '');
}

export const FAULT_STATUSES = [500, 502, 503, 504, 429] as const;

const ERROR_TYPES: Record<number, string> = {
  429: 'TooManyRequests',
  500: 'ServerError',
  502: 'BadGateway',
  503: 'ServiceUnavailable',
  504: 'GatewayTimeout',
};

/** A bad `--faults` spec; the message names the part that is wrong. */
export class FaultSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FaultSpecError';
  }
}

function share(key: string, raw: string): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new FaultSpecError(`faults: ${key} must be a number from 0 to 1, not "${raw}"`);
  return n;
}

function whole(key: string, raw: string, max: number): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || n > max) throw new FaultSpecError(`faults: ${key} must be a whole number from 0 to ${max}, not "${raw}"`);
  return n;
}

/** Parses a spec such as `rate=0.2,status=500:503:429,reset=0.05,latency=80,seed=42` (see the module comment). */
export function parseFaults(spec: string): FaultOptions {
  const opts: FaultOptions = { rate: 0, statuses: [500, 503, 429], late: 0, reset: 0, latencyMs: 0, seed: randomInt(0, 2 ** 32) };
  const seen = new Set<string>();
  for (const part of spec.split(',')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) throw new FaultSpecError(`faults: expected key=value, not "${part.trim()}"`);
    const key = part.slice(0, eq).trim().toLowerCase();
    const value = part.slice(eq + 1).trim();
    if (seen.has(key)) throw new FaultSpecError(`faults: ${key} is given twice`);
    seen.add(key);
    switch (key) {
      case 'rate':
        opts.rate = share(key, value);
        break;
      case 'late':
        opts.late = share(key, value);
        break;
      case 'reset':
        opts.reset = share(key, value);
        break;
      case 'latency':
        opts.latencyMs = whole(key, value, 60_000);
        break;
      case 'seed':
        opts.seed = whole(key, value, 2 ** 32 - 1);
        break;
      case 'limit':
        opts.limit = whole(key, value, Number.MAX_SAFE_INTEGER);
        break;
      case 'only': {
        const list = value.split(':').map((s) => s.trim().toLowerCase());
        const bad = list.find((s) => !(FAULT_ENDPOINTS as readonly string[]).includes(s));
        if (bad !== undefined) throw new FaultSpecError(`faults: only must name endpoints among ${FAULT_ENDPOINTS.join(', ')} separated by ':', not "${value}"`);
        opts.only = [...new Set(list)];
        break;
      }
      case 'status': {
        const list = value.split(':').map((s) => Number(s.trim()));
        const bad = list.find((s) => !(FAULT_STATUSES as readonly number[]).includes(s));
        if (list.length === 0 || bad !== undefined) {
          throw new FaultSpecError(`faults: status must be ${FAULT_STATUSES.join(', ')} separated by ':', not "${value}"`);
        }
        opts.statuses = [...new Set(list)];
        break;
      }
      default:
        throw new FaultSpecError(`faults: unknown key "${key}" (known: rate, status, late, reset, latency, seed, only, limit)`);
    }
  }
  return opts;
}

/** `rate=0.2,status=500:503:429,late=0,reset=0.05,latency=80,seed=42`: the full spec, for logs. */
export function formatFaults(o: FaultOptions): string {
  const only = o.only ? `,only=${o.only.join(':')}` : '';
  const limit = o.limit !== undefined ? `,limit=${o.limit}` : '';
  return `rate=${o.rate},status=${o.statuses.join(':')},late=${o.late},reset=${o.reset},latency=${o.latencyMs},seed=${o.seed}${only}${limit}`;
}

/** mulberry32: small, fast, good enough to pick faults, and reproducible from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function resetSocket(socket: Socket | null): void {
  if (!socket || socket.destroyed) return;
  // RST rather than FIN where Node offers it: what a crashed proxy or a dropped connection looks like.
  if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
  else socket.destroy();
}

function injectedBody(status: number, what: string) {
  return { error: { type: ERROR_TYPES[status] ?? 'ServerError', message: `Injected fault: ${what}`, code: status } };
}

export class FaultInjector {
  private readonly random: () => number;
  /** Faults injected so far (for `limit`). */
  injected = 0;

  constructor(readonly options: FaultOptions) {
    this.random = prng(options.seed);
  }

  /**
   * Called by the router for every request before anything else. Returns true when the fault has
   * answered (or cut) the request and it must not be handled; false when it is to be handled, maybe
   * with a late or download fault armed on `res`.
   */
  async apply(req: IncomingMessage, res: ServerResponse, entry: RecordedRequest): Promise<boolean> {
    const o = this.options;
    // Always five draws per request, in arrival order: the same seed and the same order of
    // requests give the same faults, whatever the latency.
    const [pick, which, lateDraw, resetDraw, where] = [this.random(), this.random(), this.random(), this.random(), this.random()];
    if (o.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, o.latencyMs));

    const method = req.method ?? 'GET';
    const path = entry.path.replace(/\/+$/, '');
    if (o.only && !o.only.includes(endpointOf(path))) return false;
    if (o.limit !== undefined && this.injected >= o.limit) return false;
    const nonIdempotent = method === 'POST' && (path === '/v1/process' || path === '/v1/task/next');
    const isUpload = method === 'POST' && path === '/v1/upload';
    const isDownload = method === 'GET' && path.startsWith('/v1/download/');

    if (o.rate > 0 && pick < o.rate) {
      const status = o.statuses[Math.min(o.statuses.length - 1, Math.floor(which * o.statuses.length))];
      if (nonIdempotent && lateDraw < o.late) {
        // A lost answer is a 500 whatever status was drawn: 429 and 503 promise that nothing happened.
        entry.fault = 'late 500';
        this.injected++;
        this.answerLate(res);
        return false;
      }
      entry.fault = `status ${status}`;
      this.injected++;
      const headers: Record<string, string> = status === 429 || status === 503 ? { 'Retry-After': String(where < 0.5 ? 0 : 1) } : {};
      prepareEarlyAnswer(req, res);
      sendJson(res, status, injectedBody(status, `HTTP ${status} before the request was handled`), headers);
      return true;
    }
    if (o.reset > 0 && resetDraw < o.reset) {
      if (isUpload) {
        entry.fault = 'reset upload';
        this.injected++;
        await this.cutUpload(req, 0.1 + 0.8 * where);
        return true;
      }
      if (isDownload) {
        entry.fault = 'reset download';
        this.injected++;
        this.cutDownload(res, 0.1 + 0.8 * where);
      }
    }
    return false;
  }

  /** Reads part of the body, then resets the connection; the request never reaches a handler. */
  private cutUpload(req: IncomingMessage, fraction: number): Promise<void> {
    const declared = Number(req.headers['content-length']);
    const limit = Number.isFinite(declared) && declared > 1 ? Math.max(1, Math.floor(declared * fraction)) : 1024;
    return new Promise((resolve) => {
      let seen = 0;
      const cut = (): void => {
        req.off('data', onData);
        resetSocket(req.socket);
        resolve();
      };
      const onData = (chunk: Buffer): void => {
        seen += chunk.length;
        if (seen >= limit) cut();
      };
      req.on('data', onData);
      // The whole body arrived before the limit (small or undeclared bodies): cut it all the same.
      req.on('end', cut);
      req.on('error', () => resolve());
      req.on('close', () => resolve());
    });
  }

  /**
   * Arms a 200 download to stop after `fraction` of its Content-Length: that much is flushed, then
   * the socket is closed. The handler's pipeline then fails and the router drops the response.
   */
  private cutDownload(res: ServerResponse, fraction: number): void {
    const writeHead = res.writeHead;
    const write = res.write;
    let limit: number | undefined;
    let sent = 0;
    let cut = false;
    res.writeHead = function (this: ServerResponse, status: number, ...rest: unknown[]) {
      const result = (writeHead as (...a: unknown[]) => ServerResponse).call(this, status, ...rest);
      const headers = rest.find((r): r is OutgoingHttpHeaders => typeof r === 'object' && r !== null && !Array.isArray(r));
      const length = Number(this.getHeader('content-length') ?? headers?.['Content-Length'] ?? headers?.['content-length']);
      if (status === 200 && Number.isFinite(length) && length > 1) limit = Math.min(length - 1, Math.max(1, Math.floor(length * fraction)));
      return result;
    } as ServerResponse['writeHead'];
    res.write = function (this: ServerResponse, chunk: unknown, encoding?: unknown, cb?: unknown) {
      if (cut) return false;
      if (limit === undefined) return (write as (...a: unknown[]) => boolean).call(this, chunk, encoding, cb);
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
      if (sent + buf.length < limit) {
        sent += buf.length;
        return (write as (...a: unknown[]) => boolean).call(this, buf, encoding, cb);
      }
      cut = true;
      const socket = this.socket;
      // Close once the part has been flushed, so the client really gets headers and a short body.
      (write as (...a: unknown[]) => boolean).call(this, buf.subarray(0, limit - sent), () => socket?.destroy());
      return false;
    } as ServerResponse['write'];
  }

  /** Lets the request be handled, and sends a 500 instead of whatever it answers. */
  private answerLate(res: ServerResponse): void {
    const writeHead = res.writeHead;
    const end = res.end;
    res.writeHead = function (this: ServerResponse) {
      return this; // the real status and headers are dropped
    } as ServerResponse['writeHead'];
    res.end = function (this: ServerResponse) {
      res.writeHead = writeHead;
      res.end = end;
      for (const name of ['content-type', 'content-length', 'content-disposition']) this.removeHeader(name);
      sendJson(this, 500, injectedBody(500, 'HTTP 500 after the request was handled (the answer was lost)'));
      return this;
    } as ServerResponse['end'];
  }
}
