/**
 * A malicious stand-in for the iLoveIMG API, on 127.0.0.1 (port 0): just enough of the protocol
 * (`/v1/start`, `/v1/upload`, `/v1/process`, `/v1/task/next`, `/v1/task[/{id}]`, `/v1/download`) for
 * the CLI to run a whole batch against it, plus switchable evil behaviours (`evil`). By default it
 * behaves: each uploaded file is its own output, sent back as the single file or in a stored zip.
 *
 * Tests flip one behaviour at a time and assert the CLI's safe outcome (test/reliability/hostile-client.test.ts).
 */
import busboy from 'busboy';
import { zipSync } from 'fflate';
import http from 'node:http';
import { readdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

export interface EvilTask {
  id: string;
  tool: string;
  status: string;
  /** server_filename → { filename, bytes } */
  files: Map<string, { filename: string; bytes: Buffer }>;
  /** Outputs after process: filename → bytes. */
  outputs: Map<string, Buffer>;
  deleted: boolean;
}

/** What GET /v1/download answers instead of the outputs. */
export type EvilDownload =
  | { kind: 'zip'; entries: Record<string, Buffer> }
  | { kind: 'raw'; body: Buffer; headers?: Record<string, string> }
  | { kind: 'redirect'; location: string }
  | { kind: 'stall'; head: Buffer };

export interface Evil {
  download?: EvilDownload;
  /** GET /v1/start answers this body (with these headers): a gzip bomb. */
  start?: { body: Buffer; headers: Record<string, string> };
  /** POST /v1/process answers 500 whenever files[] holds a file of this name. */
  processFailsFor?: string;
  /** The next N task/next requests make their child, then drop the connection (a lost answer). */
  loseNext?: number;
  /** Every error answer's message (and `param`) is this text: escape sequences, say. */
  errorText?: string;
  /** Answer this route (`METHOD /v1/x`) with a 400 carrying errorText. */
  failRoute?: string;
  /** POST /v1/task echoes the posted secret_key in each task's status_message. */
  echoSecret?: boolean;
  /** Every request is answered 401 with a message echoing the Authorization header. */
  echoAuthorization?: boolean;
}

export interface EvilApi {
  url: string;
  host: string;
  evil: Evil;
  tasks: Map<string, EvilTask>;
  requests: string[];
  /** A processed task of `tool` (for `tasks download`); its download follows `evil.download`. */
  makeTask(tool: string): EvilTask;
  close(): Promise<void>;
}

function json(res: http.ServerResponse, body: unknown, status = 200): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function resource(t: EvilTask, host: string, statusMessage = '') {
  return {
    task: t.id,
    tool: t.tool,
    status: t.status,
    status_message: statusMessage,
    server: host,
    process_start: '2026-01-01 00:00:00',
    file_number: String(t.files.size),
    filesize: [...t.files.values()].reduce((a, f) => a + f.bytes.length, 0),
    files: [...t.files].map(([server_filename, f]) => ({ server_filename, filename: f.filename, status: t.status === 'TaskSuccess' ? 'FileSuccess' : 'FileWaiting', status_message: '' })),
  };
}

async function readBody(req: http.IncomingMessage): Promise<{ fields: Record<string, unknown>; file?: { filename: string; bytes: Buffer } }> {
  if ((req.headers['content-type'] ?? '').startsWith('multipart/')) {
    return new Promise((resolve, reject) => {
      const fields: Record<string, unknown> = {};
      let file: { filename: string; bytes: Buffer } | undefined;
      const bb = busboy({ headers: req.headers });
      bb.on('field', (k, v) => (fields[k] = v));
      bb.on('file', (_k, stream, info) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => (file = { filename: info.filename ?? 'file', bytes: Buffer.concat(chunks) }));
      });
      bb.on('close', () => resolve({ fields, file }));
      bb.on('error', reject);
      req.pipe(bb);
    });
  }
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return { fields: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

export async function startEvilApi(): Promise<EvilApi> {
  const evil: Evil = {};
  const tasks = new Map<string, EvilTask>();
  const requests: string[] = [];
  let counter = 0;
  let host = '';
  const newTask = (tool: string): EvilTask => {
    const t: EvilTask = { id: `evil${++counter}`, tool, status: 'TaskWaiting', files: new Map(), outputs: new Map(), deleted: false };
    tasks.set(t.id, t);
    return t;
  };
  const fail = (res: http.ServerResponse, status: number) => json(res, { error: { type: 'ProcessingError', message: evil.errorText ?? 'no', param: evil.errorText ? { file: [evil.errorText] } : undefined } }, status);

  const server = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const p = url.pathname.split('/').filter(Boolean); // ['v1', ...]
      const route = `${req.method} /${p.slice(0, 2).join('/')}`;
      requests.push(`${req.method} ${url.pathname}`);
      const { fields, file } = await readBody(req);
      if (evil.echoAuthorization) return json(res, { name: 'Unauthorized', message: `invalid token: ${req.headers.authorization}`, code: 401, status: 401 }, 401);
      if (evil.failRoute === route) return fail(res, 400);
      if (p[1] === 'start') {
        if (evil.start) {
          res.writeHead(200, { 'content-type': 'application/json', ...evil.start.headers });
          return res.end(evil.start.body);
        }
        return json(res, { server: host, task: newTask(p[2]).id, remaining_files: 1000 });
      }
      const task = tasks.get(String(fields.task ?? p[2] ?? ''));
      if (p[1] === 'upload' && task && file) {
        const sf = `sf${counter}_${task.files.size}.bin`;
        task.files.set(sf, file);
        return json(res, { server_filename: sf });
      }
      if (p[1] === 'process' && task) {
        const files = (fields.files as { server_filename: string; filename: string }[]) ?? [];
        if (evil.processFailsFor && files.some((f) => f.filename === evil.processFailsFor)) return fail(res, 500);
        for (const f of files) task.outputs.set(f.filename, task.files.get(f.server_filename)?.bytes ?? Buffer.alloc(0));
        task.status = 'TaskSuccess';
        return json(res, { status: 'TaskSuccess', download_filename: 'out', filesize: 1, output_filesize: 1, output_filenumber: files.length, output_extensions: ['jpg'], timer: '0.1' });
      }
      if (p[1] === 'task' && p[2] === 'next' && task) {
        const child = newTask(String(fields.tool));
        let i = 0;
        for (const [filename, bytes] of task.outputs) child.files.set(`next${child.id}_${i++}`, { filename, bytes });
        if (evil.loseNext && evil.loseNext-- > 0) return req.socket.destroy();
        return json(res, { task: child.id, files: Object.fromEntries([...child.files].map(([sf, f]) => [sf, f.filename])) });
      }
      if (p[1] === 'task' && !p[2] && req.method === 'POST') {
        const echo = evil.echoSecret ? `you sent ${String(fields.secret_key)}` : '';
        const list = [...tasks.values()].filter((t) => !t.deleted && (!fields.tool || t.tool === fields.tool) && (!fields.status || t.status === fields.status));
        return json(res, list.map((t) => resource(t, host, echo)));
      }
      if (p[1] === 'task' && task && req.method === 'DELETE') {
        task.deleted = true;
        return json(res, { task: task.id, status: 'TaskDeleted' });
      }
      if (p[1] === 'task' && task) return json(res, resource(task, host));
      if (p[1] === 'download' && task) return download(res, task);
      json(res, { error: { type: 'NotFound', message: evil.errorText ?? `${route} not found` } }, 404);
    })().catch((e: Error) => json(res, { error: { type: 'FixtureError', message: e.message } }, 500));
  });

  function download(res: http.ServerResponse, task: EvilTask): void {
    const d = evil.download;
    if (d?.kind === 'redirect') {
      res.writeHead(302, { location: d.location, 'content-length': 0 });
      return void res.end();
    }
    if (d?.kind === 'stall') {
      res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': d.head.length * 1000 });
      return void res.write(d.head); // and never another byte
    }
    if (d?.kind === 'raw') {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': d.body.length, ...d.headers });
      return void res.end(d.body);
    }
    const entries = d?.kind === 'zip' ? d.entries : Object.fromEntries(task.outputs);
    const names = Object.keys(entries);
    if (names.length === 1 && d?.kind !== 'zip') {
      const body = entries[names[0]];
      res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': body.length, 'content-disposition': `attachment; filename="${names[0]}"` });
      return void res.end(body);
    }
    const zip = Buffer.from(zipSync(Object.fromEntries(names.map((n) => [n, new Uint8Array(entries[n])])), { level: 0 }));
    res.writeHead(200, { 'content-type': 'application/zip', 'content-length': zip.length, 'content-disposition': 'attachment; filename="out.zip"' });
    res.end(zip);
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `http://${host}`,
    host,
    evil,
    tasks,
    requests,
    makeTask(tool) {
      const t = newTask(tool);
      t.status = 'TaskSuccess';
      return t;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Every file and folder under `root`, relative, sorted (links listed, never followed). */
export async function tree(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(path.join(root, rel), { withFileTypes: true }).catch(() => [])) {
    const r = path.join(rel, e.name);
    out.push(e.isDirectory() ? `${r}/` : r);
    if (e.isDirectory()) out.push(...(await tree(root, r)));
  }
  return out.sort();
}
