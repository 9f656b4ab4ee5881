/**
 * Test harness for the engine server: a real server on 127.0.0.1 port 0 per test (or per file), real
 * HTTP through Node's fetch, tokens signed with jose exactly as the official clients sign them.
 */
import { SignJWT, type JWTPayload } from 'jose';
import { readFileSync } from 'node:fs';
import { FIXTURES } from '../helpers/fixtures.js';
import { startServer, type RunningServer, type ServeOptions } from '../../src/server/index.js';
import type { EngineTools, ProjectKeys } from '../../src/server/options.js';
import type { ToolImpl } from '../../src/engine/types.js';
import { TOOL_NAMES } from '../../src/protocol/tools.js';

export const CORPUS_DIR = FIXTURES + '/';

const corpusCache = new Map<string, Buffer>();
export function corpus(name: string): Buffer {
  let bytes = corpusCache.get(name);
  if (!bytes) corpusCache.set(name, (bytes = readFileSync(CORPUS_DIR + name)));
  return bytes;
}

/** A token as PHP/Ruby/.NET sign it: HS256, jti = public key, iat/nbf back-dated 5400 s. */
export async function signToken(project: ProjectKeys, claims: JWTPayload = {}, alg = 'HS256'): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: '', aud: '', iat: now - 5400, nbf: now - 5400, exp: now + 3600 + 5400, jti: project.publicKey, ...claims })
    .setProtectedHeader({ alg, typ: 'JWT' })
    .sign(new TextEncoder().encode(project.secretKey));
}

/** An unsigned `alg: none` token. */
export function noneToken(claims: JWTPayload): string {
  const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${enc({ alg: 'none', typ: 'JWT' })}.${enc(claims)}.`;
}

export type Body =
  | { json: unknown }
  | { form: Record<string, string> | [string, string][] }
  | { multipart: [string, string | { data: Buffer; filename: string }][] };

export interface CallOptions {
  token?: string | null;
  body?: Body;
  headers?: Record<string, string>;
}

export class Harness {
  token = '';
  constructor(
    readonly srv: RunningServer,
    readonly project: ProjectKeys,
  ) {}

  static async start(opts: ServeOptions = {}): Promise<Harness> {
    const srv = await startServer({ host: '127.0.0.1', port: 0, ...opts });
    const h = new Harness(srv, srv.projects[0]);
    h.token = await signToken(h.project);
    return h;
  }

  close(): Promise<void> {
    return this.srv.close();
  }

  url(path: string): string {
    return `${this.srv.url}/v1${path}`;
  }

  async call(method: string, path: string, opts: CallOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { Accept: 'application/json', ...opts.headers };
    const token = opts.token === undefined ? this.token : opts.token;
    if (token) headers.Authorization = `Bearer ${token}`;
    let body: BodyInit | undefined;
    const b = opts.body;
    if (b && 'json' in b) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(b.json);
    } else if (b && 'form' in b) {
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(b.form as Record<string, string>).toString();
    } else if (b && 'multipart' in b) {
      const fd = new FormData();
      for (const [name, value] of b.multipart) {
        if (typeof value === 'string') fd.append(name, value);
        else fd.append(name, new Blob([new Uint8Array(value.data)]), value.filename);
      }
      body = fd;
    }
    return fetch(this.url(path), { method, headers, body });
  }

  async json<T = any>(method: string, path: string, opts: CallOptions = {}, expectStatus = 200): Promise<T> {
    const res = await this.call(method, path, opts);
    const text = await res.text();
    if (res.status !== expectStatus) throw new Error(`${method} ${path}: expected ${expectStatus}, got ${res.status}: ${text}`);
    return JSON.parse(text) as T;
  }

  async startTask(tool: string): Promise<string> {
    const r = await this.json<{ task: string }>('GET', `/start/${tool}`);
    return r.task;
  }

  async upload(task: string, filename: string, data: Buffer): Promise<string> {
    const r = await this.json<{ server_filename: string }>('POST', '/upload', {
      body: { multipart: [['task', task], ['file', { data, filename }]] },
    });
    return r.server_filename;
  }

  /** start + upload each file; returns the task and the process `files` array. */
  async prepare(tool: string, files: [string, Buffer][]): Promise<{ task: string; files: { server_filename: string; filename: string }[] }> {
    const task = await this.startTask(tool);
    const list = [];
    for (const [filename, data] of files) list.push({ server_filename: await this.upload(task, filename, data), filename });
    return { task, files: list };
  }

  async process(body: Record<string, unknown>, expectStatus = 200): Promise<any> {
    return this.json('POST', '/process', { body: { json: body } }, expectStatus);
  }

  async download(task: string, opts: CallOptions = {}): Promise<{ res: Response; bytes: Buffer }> {
    const res = await this.call('GET', `/download/${task}`, opts);
    return { res, bytes: Buffer.from(await res.arrayBuffer()) };
  }
}

/** A tiny local HTTP server for cloud_file and webhook tests (127.0.0.1 only). */
export async function localServer(
  handler: (req: import('node:http').IncomingMessage, body: Buffer, res: import('node:http').ServerResponse) => void,
): Promise<{ url: string; close: () => Promise<void> }> {
  const { createServer } = await import('node:http');
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handler(req, Buffer.concat(chunks), res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as import('node:net').AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The same fake tool for every tool name, for tests about the HTTP layer rather than the images. */
export function fakeEngine(run: ToolImpl['run'], extra: Omit<Partial<ToolImpl>, 'run'> = {}): EngineTools {
  const impl: ToolImpl = { run, ...extra };
  return Object.fromEntries(TOOL_NAMES.map((t) => [t, impl])) as EngineTools;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `check` returns a value other than undefined, or fails after `ms`. */
export async function waitFor<T>(check: () => Promise<T | undefined> | T | undefined, ms = 10_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error('waitFor: timed out');
    await sleep(25);
  }
}
