/**
 * The in-process transport of the embedded engine (docs/architecture.md, "Transport"): one HTTP
 * request handed to the very router and handlers a socket request reaches, without the socket. The
 * request is a readable stream of the same bytes a client would send (a multipart upload stays a
 * multipart upload, a JSON body stays JSON), with the method, URL and headers of an IncomingMessage;
 * the response is a writable with the ServerResponse calls the handlers make (setHeader, writeHead,
 * write, end, headersSent, destroy), whose status, headers and body stream reach the caller as soon as
 * the head is written, so a download streams as it does over a socket.
 */
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { PassThrough, Readable, Writable } from 'node:stream';

export interface InjectRequest {
  method: string;
  /** Path and query (`/v1/upload?debug=1`); a full URL's origin is ignored. */
  url: string;
  /** Lower-case names, as node:http gives them to the server. */
  headers: Record<string, string>;
  /** The raw body, in pieces. */
  body?: Buffer | Buffer[];
  /** Aborting cuts the request as a closed connection would. */
  signal?: AbortSignal;
}

export interface InjectResponse {
  statusCode: number;
  headers: IncomingHttpHeaders;
  /** The body as it is written; it errors when the handler destroys the response mid-way. */
  body: Readable;
}

export type Dispatch = (req: InjectRequest) => Promise<InjectResponse>;

/** The request side: a readable of the body with the fields of an IncomingMessage the router reads. */
class InjectedRequest extends Readable {
  complete = false;
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly socket: { remoteAddress: string; destroy: () => void };

  constructor(spec: InjectRequest) {
    super();
    this.method = spec.method;
    const url = new URL(spec.url, 'http://engine.invalid');
    this.url = `${url.pathname}${url.search}`;
    this.headers = { ...spec.headers };
    // What prepareEarlyAnswer and the fault injector do to a connection: here, cut the request.
    this.socket = { remoteAddress: '127.0.0.1', destroy: () => void this.destroy() };
    const body = spec.body;
    for (const piece of body === undefined ? [] : Array.isArray(body) ? body : [body]) if (piece.length) this.push(piece);
    // `complete` is true once the whole body has been read, as on an IncomingMessage.
    this.once('end', () => (this.complete = true));
    this.push(null);
  }

  override _read(): void {
    // The whole body was pushed at construction.
  }
}

/** The response side: the ServerResponse calls the handlers make, writing into a body stream. */
class InjectedResponse extends Writable {
  statusCode = 200;
  headersSent = false;
  readonly body = new PassThrough();
  private readonly head = new Map<string, number | string | string[]>();
  private onHead?: () => void;

  constructor(onHead: () => void) {
    super();
    this.onHead = onHead;
    // A reader that goes away mid-body (a bound hit, an abort) is a closed connection: the handler's
    // writes fail instead of waiting for a drain that never comes.
    this.body.once('close', () => {
      if (!this.body.writableFinished && !this.destroyed) this.destroy(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    });
  }

  setHeader(name: string, value: number | string | readonly string[]): this {
    this.head.set(name.toLowerCase(), typeof value === 'object' ? [...value] : value);
    return this;
  }

  getHeader(name: string): number | string | string[] | undefined {
    return this.head.get(name.toLowerCase());
  }

  removeHeader(name: string): void {
    this.head.delete(name.toLowerCase());
  }

  getHeaders(): IncomingHttpHeaders {
    const out: IncomingHttpHeaders = {};
    for (const [k, v] of this.head) out[k] = typeof v === 'number' ? String(v) : v;
    return out;
  }

  writeHead(status: number, reason?: string | OutgoingHttpHeaders, headers?: OutgoingHttpHeaders): this {
    const given = typeof reason === 'object' ? reason : headers;
    this.statusCode = status;
    for (const [k, v] of Object.entries(given ?? {})) if (v !== undefined) this.setHeader(k, v as string);
    this.sendHead();
    return this;
  }

  private sendHead(): void {
    if (this.headersSent) return;
    this.headersSent = true;
    const notify = this.onHead;
    this.onHead = undefined;
    notify?.();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.sendHead();
    if (this.body.write(chunk)) cb();
    else this.body.once('drain', () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.sendHead();
    this.body.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    // A response cut mid-way: the caller's body stream fails as a reset connection would.
    if (!this.body.writableEnded && !this.body.destroyed) this.body.destroy(err ?? Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    cb(err);
  }
}

/** A dispatcher that runs each request through `handle` (the router of a running engine). */
export function injector(handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>): Dispatch {
  return (spec) =>
    new Promise<InjectResponse>((resolve, reject) => {
      if (spec.signal?.aborted) return reject(spec.signal.reason);
      const req = new InjectedRequest(spec);
      const res: InjectedResponse = new InjectedResponse(() => {
        resolve({ statusCode: res.statusCode, headers: res.getHeaders(), body: res.body });
      });
      const onAbort = (): void => {
        req.destroy();
        res.destroy(Object.assign(new Error('The operation was aborted'), { name: 'AbortError', code: 'ABORT_ERR' }));
        if (!res.headersSent) reject(spec.signal!.reason);
      };
      spec.signal?.addEventListener('abort', onAbort, { once: true });
      res.body.once('close', () => spec.signal?.removeEventListener('abort', onAbort));
      handle(req as unknown as IncomingMessage, res as unknown as ServerResponse).then(
        () => {
          if (res.headersSent) return;
          // A handler that returned without answering: as a socket server would, end with an empty 200.
          res.end();
        },
        (err: unknown) => {
          if (!res.headersSent) reject(err);
          else res.destroy(err as Error);
        },
      );
    });
}
