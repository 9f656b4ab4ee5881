/**
 * A tiny scripted HTTP server on 127.0.0.1 (port 0) for testing the API client's wire behaviour:
 * each test queues answers per route and reads back exactly what arrived. Unscripted routes answer
 * 500 with a message naming the route, so a surprise request fails loudly.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export type Answer = { status?: number; headers?: Record<string, string>; body?: unknown; destroy?: boolean };

export interface FakeApi {
  url: string;
  host: string;
  received: Received[];
  /** Queue answers for `METHOD /path` (consumed in order; the last one repeats). */
  on(route: string, ...answers: Answer[]): void;
  close(): Promise<void>;
}

export async function startFakeApi(): Promise<FakeApi> {
  const routes = new Map<string, Answer[]>();
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0];
      received.push({ method: req.method ?? 'GET', path, headers: req.headers, body: Buffer.concat(chunks) });
      const key = `${req.method} ${path}`;
      const queue = routes.get(key);
      const answer = queue && queue.length > 1 ? queue.shift()! : queue?.[0];
      if (!answer) {
        res.writeHead(500, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ error: { type: 'FakeApi', message: `${key} was not scripted` } }));
      }
      if (answer.destroy) return req.socket.destroy();
      const body = Buffer.isBuffer(answer.body) ? answer.body : Buffer.from(typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body ?? {}));
      res.writeHead(answer.status ?? 200, { 'content-type': 'application/json', ...answer.headers });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    received,
    on(route, ...answers) {
      routes.set(route, answers);
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
