/**
 * Fault injection (`serve --faults <spec>`, the spec in src/server/fault-spec.ts): makes the engine a
 * flaky server on purpose, for testing clients — ours (test/reliability/faults.test.ts) or anyone
 * else's.
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
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FaultOptions } from './fault-spec.js';
import { prepareEarlyAnswer, sendJson } from './http.js';
import type { RecordedRequest } from './options.js';

/** `/v1/task/next` → `next`; otherwise the first segment after `/v1` (`/v1/upload/delete` → `upload`). */
function endpointOf(path: string): string {
  const [, v1, first, second] = path.split('/');
  if (v1 !== 'v1') return '';
  return first === 'task' && second === 'next' ? 'next' : (first ?? '');
}

const ERROR_TYPES: Record<number, string> = {
  429: 'TooManyRequests',
  500: 'ServerError',
  502: 'BadGateway',
  503: 'ServiceUnavailable',
  504: 'GatewayTimeout',
};

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
