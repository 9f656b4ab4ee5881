/**
 * Zip-slip against the CLIENT: a tiny hostile server on 127.0.0.1 speaks just enough of the API
 * (start, upload, process, task, download, delete) and answers downloads with zips whose entry names
 * are absolute paths, `../` paths, drive letters, NUL and control characters, or with a single file
 * whose Content-Disposition says `filename*=utf-8''..%2F..%2Fevil.jpg`.
 *
 * The built binary runs `tasks download <id> -o out` and a tool command against it. The output
 * directory sits two levels down in a work tree the test owns, so that `../` and `../../` would land
 * in directories whose contents are compared before and after: nothing may appear outside `out/`,
 * and every name written inside it must be a safe one.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { zipSync } from 'fflate';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/cli.js';
import { tree } from '../helpers/evil-api.js';

type Answer = { zip: Record<string, Buffer> } | { file: Buffer; disposition: string };

let jpeg: Buffer;
let server: ReturnType<typeof createServer>;
let base: string;
/** What GET /download/{task} answers, by task id. */
const downloads = new Map<string, Answer>();
const requests: string[] = [];
let work: string;
let taskCounter = 0;
/** The answer for tasks the tool command starts. */
let toolAnswer: Answer | undefined;

function json(res: ServerResponse, body: unknown, status = 200): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', base);
  requests.push(`${req.method} ${url.pathname}`);
  req.resume();
  req.on('end', () => {
    const host = new URL(base).host;
    const p = url.pathname.split('/').filter(Boolean); // ['v1', ...]
    if (p[1] === 'start') {
      const task = `hostile${++taskCounter}`;
      if (toolAnswer) downloads.set(task, toolAnswer);
      return json(res, { server: host, task, remaining_files: 100 });
    }
    if (p[1] === 'upload') return json(res, { server_filename: `sf${Math.random().toString(16).slice(2)}.jpg` });
    if (p[1] === 'process') return json(res, { status: 'TaskSuccess', download_filename: 'x', filesize: 1, output_filesize: 1, output_filenumber: 2, output_extensions: ['jpg'], timer: '0.1' });
    if (p[1] === 'task' && req.method === 'DELETE') return json(res, { task: p[2], status: 'TaskDeleted' });
    if (p[1] === 'task' && p[2]) return json(res, { task: p[2], tool: 'rotateimage', status: 'TaskSuccess', server: host, files: [] });
    if (p[1] === 'download' && p[2]) {
      const answer = downloads.get(p[2]);
      if (!answer) return json(res, { error: { type: 'DownloadError', message: 'no', code: 404 } }, 404);
      if ('zip' in answer) {
        const zip = Buffer.from(zipSync(Object.fromEntries(Object.entries(answer.zip).map(([k, v]) => [k, new Uint8Array(v)])), { level: 0 }));
        res.writeHead(200, { 'Content-Type': 'application/zip', 'Content-Length': zip.length, 'Content-Disposition': "attachment; filename*=utf-8''..%2F..%2Fevil.zip" });
        return res.end(zip);
      }
      res.writeHead(200, { 'Content-Type': 'image/jpeg', 'Content-Length': answer.file.length, 'Content-Disposition': answer.disposition });
      return res.end(answer.file);
    }
    json(res, { error: { type: 'NotFound', message: 'no', code: 404 } }, 404);
  });
}

/** A path component a file system and a shell can hold without surprises. */
function expectSafeName(rel: string): void {
  for (const part of rel.split('/').filter(Boolean)) {
    expect(part, rel).not.toMatch(/[\u0000-\u001f\u007f<>:"|?*\\]/);
    expect(part, rel).not.toMatch(/^\.\.?$/);
    expect(part, rel).not.toMatch(/[. ]$/);
  }
}

const env = () => ({ ILOVEIMG_API_URL: base, ILOVEIMG_PUBLIC_KEY: 'project_public_x', ILOVEIMG_SECRET_KEY: 'secret_key_x' });

beforeAll(async () => {
  jpeg = await sharp({ create: { width: 8, height: 6, channels: 3, background: '#c00' } }).jpeg().toBuffer();
  server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  work = await tempDir('iloveimg-zipslip-');
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  if (work) await rm(work, { recursive: true, force: true });
});

const HOSTILE_ENTRIES = [
  '/tmp/evil-absolute.jpg',
  '../evil-parent.jpg',
  '../../evil-grandparent.jpg',
  '../../../../../../../../tmp/evil-deep.jpg',
  'sub/../../evil-mixed.jpg',
  '..\\evil-backslash.jpg',
  'C:\\Windows\\evil-drive.jpg',
  'D:evil-drive-relative.jpg',
  '\\\\server\\share\\evil-unc.jpg',
  'nul\u0000evil.jpg',
  'ctrl\u0007\u001b[31m\nevil.jpg',
  '.. /evil-dotspace.jpg',
  '.../evil-threedots.jpg',
  'ok/nested/fine.jpg',
];

describe('tasks download of a hostile zip', () => {
  it('writes every entry inside out/, under a cleaned name, and nothing anywhere else', async () => {
    const root = path.join(work, 'a');
    const out = path.join(root, 'b', 'out');
    await mkdir(out, { recursive: true });
    await writeFile(path.join(root, 'b', 'sentinel.txt'), 'keep');
    const before = await tree(work);
    const zip = Object.fromEntries(HOSTILE_ENTRIES.map((name, i) => [name, Buffer.concat([jpeg, Buffer.from([i])])]));
    downloads.set('zipslip', { zip });

    const res = await runCli(['tasks', 'download', 'zipslip', '-o', out, '--json'], { cwd: root, env: env() });
    expect(res.code, res.stderr).toBe(0);
    expect(requests).toContain('GET /v1/download/zipslip');

    const after = await tree(work);
    const added = after.filter((p) => !before.includes(p));
    // Everything new is inside out/ ...
    for (const p of added) expect(p.startsWith(path.join('a', 'b', 'out') + '/'), p).toBe(true);
    // ... nothing outside it changed ...
    expect(after.filter((p) => !p.startsWith(path.join('a', 'b', 'out') + '/'))).toEqual(before.filter((p) => !p.startsWith(path.join('a', 'b', 'out') + '/')));
    expect(await readFile(path.join(root, 'b', 'sentinel.txt'), 'utf8')).toBe('keep');
    for (const abs of ['/tmp/evil-absolute.jpg', '/tmp/evil-deep.jpg', path.resolve(out, '..', 'evil-parent.jpg')]) expect(existsSync(abs), abs).toBe(false);
    // ... every entry was written (none lost to the cleaning), each under a safe name, with its bytes.
    const files = (await tree(out)).filter((p) => !p.endsWith('/'));
    expect(files).toHaveLength(HOSTILE_ENTRIES.length);
    for (const f of files) {
      expectSafeName(f);
      expect(f).toMatch(/evil|fine/);
    }
    // One plain file per entry, directly under out/ (README "Security"): folders in names are dropped.
    expect(files).toContain('fine.jpg');
    expect(files.every((f) => !f.includes('/'))).toBe(true);
    const saved = JSON.parse(res.stdout).files as { name: string; path: string; status: string }[];
    expect(saved.every((s) => s.status === 'ok')).toBe(true);
    for (const s of saved) {
      // Names are reported without their control characters (src/lib/sanitize.ts).
      const i = HOSTILE_ENTRIES.findIndex((n) => n.replace(/[\r\n\t]+/g, ' ').replace(/[\u0000-\u001f\u007f]/g, '') === s.name);
      expect(i, s.name).toBeGreaterThanOrEqual(0);
      expect(await readFile(s.path)).toEqual(Buffer.concat([jpeg, Buffer.from([i])]));
    }
  });

  it.each([
    ["attachment; filename*=utf-8''..%2F..%2Fevil.jpg", 'evil.jpg'],
    ['attachment; filename="../../evil.jpg"', 'evil.jpg'],
    ["attachment; filename*=utf-8''%2Ftmp%2Fevil-abs.jpg", 'evil-abs.jpg'],
    ["attachment; filename*=utf-8''C%3A%5C..%5Cevil-drive.jpg", 'evil-drive.jpg'],
    ["attachment; filename*=utf-8''evil%00%0A%1B.jpg", 'evil.jpg'],
    ["attachment; filename*=utf-8''..", '<task id>.bin'], // nothing usable is left: named after the task
  ])('a single file named by %j lands inside out/ as %s', async (disposition, expected) => {
    const id = `cd${Math.random().toString(16).slice(2)}`;
    const out = path.join(work, 'c', id, 'out');
    await mkdir(out, { recursive: true });
    const before = await tree(work);
    downloads.set(id, { file: jpeg, disposition });
    const res = await runCli(['tasks', 'download', id, '-o', out], { cwd: path.dirname(out), env: env() });
    expect(res.code, res.stderr).toBe(0);
    const name = expected.replace('<task id>', id);
    const added = (await tree(work)).filter((p) => !before.includes(p) && !p.endsWith('/'));
    expect(added).toEqual([path.join('c', id, 'out', name)]);
    expect(await readFile(path.join(out, name))).toEqual(jpeg);
  });
});

describe('a tool command fed hostile names', () => {
  it('writes each result at its planned destination and ignores the names the server chose', async () => {
    const dir = path.join(work, 'tool', 'x');
    await mkdir(path.join(dir, 'in'), { recursive: true });
    for (const n of ['a', 'b']) await writeFile(path.join(dir, 'in', `${n}.jpg`), jpeg);
    const before = await tree(work);
    // Results for a.jpg and b.jpg under traversal names, plus stray entries that match no input.
    toolAnswer = {
      zip: {
        '../../a.jpg': Buffer.concat([jpeg, Buffer.from('A')]),
        'C:\\x\\..\\..\\b.jpg': Buffer.concat([jpeg, Buffer.from('B')]),
        '/tmp/evil-stray.jpg': jpeg,
        '../../../evil-stray2.jpg': jpeg,
      },
    };
    try {
      const res = await runCli(['rotate', 'in/a.jpg', 'in/b.jpg', '--rotate', '90', '-o', 'out', '-j', '1'], { cwd: dir, env: env() });
      expect(res.code, res.stderr).toBe(0);
    } finally {
      toolAnswer = undefined;
    }
    const added = (await tree(work)).filter((p) => !before.includes(p));
    const o = path.join('tool', 'x', 'out');
    expect(added).toEqual([`${o}/`, path.join(o, '.iloveimg-journal.ndjson'), path.join(o, 'a.jpg'), path.join(o, 'b.jpg')]);
    expect(await readFile(path.join(dir, 'out', 'a.jpg'))).toEqual(Buffer.concat([jpeg, Buffer.from('A')]));
    expect(await readFile(path.join(dir, 'out', 'b.jpg'))).toEqual(Buffer.concat([jpeg, Buffer.from('B')]));
    expect(existsSync('/tmp/evil-stray.jpg')).toBe(false);
  });

  it('a single result named ../../evil.jpg by Content-Disposition is written at its planned destination', async () => {
    const dir = path.join(work, 'tool1', 'x');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'a.jpg'), jpeg);
    const before = await tree(work);
    toolAnswer = { file: Buffer.concat([jpeg, Buffer.from('1')]), disposition: "attachment; filename*=utf-8''..%2F..%2Fevil.jpg" };
    try {
      const res = await runCli(['rotate', 'a.jpg', '--rotate', '90', '-o', 'out'], { cwd: dir, env: env() });
      expect(res.code, res.stderr).toBe(0);
    } finally {
      toolAnswer = undefined;
    }
    const added = (await tree(work)).filter((p) => !before.includes(p));
    expect(added).toEqual([path.join('tool1', 'x', 'out') + '/', path.join('tool1', 'x', 'out', '.iloveimg-journal.ndjson'), path.join('tool1', 'x', 'out', 'a.jpg')]);
    expect(await readFile(path.join(dir, 'out', 'a.jpg'))).toEqual(Buffer.concat([jpeg, Buffer.from('1')]));
  });
});
