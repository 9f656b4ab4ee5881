/** Small response helpers shared by the router and the handlers. */
import type { IncomingMessage, ServerResponse } from 'node:http';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(text)),
  });
  res.end(text);
}

/**
 * How much of an unread request body we are willing to swallow after answering early. Reading it lets
 * the client see our error instead of a reset connection; the cap stops a client from making us read
 * gigabytes we already said no to.
 */
const DRAIN_CAP_BYTES = 64 * 1024 * 1024;
const DRAIN_TIMEOUT_MS = 10_000;

/**
 * Called before answering a request whose body was not (fully) read. The connection is marked
 * `close` so it is never reused with leftover bytes in it; the rest of the body is drained up to a cap,
 * then the socket is destroyed.
 */
export function prepareEarlyAnswer(req: IncomingMessage, res: ServerResponse): void {
  if (req.complete || res.headersSent) return;
  res.setHeader('Connection', 'close');
  let drained = 0;
  const stop = (): void => {
    clearTimeout(timer);
    req.socket.destroy();
  };
  const timer = setTimeout(stop, DRAIN_TIMEOUT_MS);
  timer.unref();
  req.on('data', (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > DRAIN_CAP_BYTES) stop();
  });
  req.on('end', () => clearTimeout(timer));
  req.on('error', () => clearTimeout(timer));
  req.resume();
}
