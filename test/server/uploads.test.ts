/** `/upload`: file parts, chunks, cloud_file, size limits, deletion forms, hostile names. */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness, corpus, localServer } from './helpers.js';

const JPG = corpus('icc-adobergb-rocket-640x427.jpg');
const TIFF = corpus('tiff-video-001-150x103.tiff');

let h: Harness;
let dataParent: string;
let dataDir: string;
beforeAll(async () => {
  dataParent = await mkdtemp(join(tmpdir(), 'iloveimg-server-test-'));
  dataDir = join(dataParent, 'data');
  h = await Harness.start({ dataDir, limits: { maxUploadBytes: 200_000 } });
});
afterAll(async () => {
  await h.close();
  await rm(dataParent, { recursive: true, force: true });
});

async function fileCount(task: string): Promise<string> {
  return (await h.json('GET', `/task/${task}`)).file_number;
}

describe('upload', () => {
  it('answers a random server_filename that keeps the extension', async () => {
    const task = await h.startTask('compressimage');
    const sf = await h.upload(task, 'Rocket Photo.JPG', JPG);
    expect(sf).toMatch(/^[0-9a-f]{32}\.jpg$/);
    const resource = await h.json('GET', `/task/${task}`);
    expect(resource).toMatchObject({ status: 'TaskWaiting', file_number: '1' });
    expect(resource.files[0]).toMatchObject({ server_filename: sf, filename: 'Rocket Photo.JPG', status: 'FileWaiting', filesize: JPG.length });
  });

  it('needs a file or a cloud_file, and an existing task', async () => {
    const task = await h.startTask('compressimage');
    const none = await h.json('POST', '/upload', { body: { json: { task } } }, 400);
    expect(none.error).toMatchObject({ type: 'UploadError', param: { file: [expect.any(String)] } });
    const missing = await h.json('POST', '/upload', { body: { multipart: [['task', 'f'.repeat(40)], ['file', { data: TIFF, filename: 'a.tiff' }]] } }, 404);
    expect(missing.error.type).toBe('TaskNotFound');
  });

  it('refuses a file over maxUploadBytes with UploadError and keeps serving', async () => {
    const task = await h.startTask('compressimage');
    const big = corpus('png-photo-coffee-600x400.png'); // 466 kB > 200 kB
    const res = await h.call('POST', '/upload', { body: { multipart: [['task', task], ['file', { data: big, filename: 'big.png' }]] } });
    expect(res.status).toBe(400);
    expect((await res.json()).error).toMatchObject({ type: 'UploadError', param: { file: [expect.stringMatching(/200000/)] } });
    expect(await fileCount(task)).toBe('0');
    expect(await readdir(join(dataDir, '.tmp'))).toEqual([]);
    expect((await h.json('GET', '/info')).remaining_files).toBeGreaterThan(0);
  });

  it('answers early, closing the connection, when the body is far over every limit', async () => {
    const task = await h.startTask('compressimage');
    const huge = Buffer.alloc(16 * 1024 * 1024, 1);
    const res = await h.call('POST', '/upload', { body: { multipart: [['task', task], ['file', { data: huge, filename: 'huge.jpg' }]] } });
    expect(res.status).toBe(400);
    expect(res.headers.get('connection')).toBe('close');
    expect((await res.json()).error).toMatchObject({ type: 'UploadError', param: { file: [expect.stringMatching(/200000/)] } });
    expect(await h.upload(task, 'ok.tiff', TIFF)).toMatch(/\.tiff$/);
  });

  it('refuses uploads once the task is processed', async () => {
    const { task, files } = await h.prepare('rotateimage', [['v.tiff', TIFF]]);
    await h.process({ task, tool: 'rotateimage', files });
    const res = await h.call('POST', '/upload', { body: { multipart: [['task', task], ['file', { data: TIFF, filename: 'late.tiff' }]] } });
    expect(res.status).toBe(400);
    expect((await res.json()).error.type).toBe('UploadError');
  });
});

describe('chunked upload (chunk/chunks, keyed by task + filename)', () => {
  const parts = (bytes: Buffer, n: number) => Array.from({ length: n }, (_, i) => bytes.subarray(Math.floor((i * bytes.length) / n), Math.floor(((i + 1) * bytes.length) / n)));
  const sendChunk = (task: string, filename: string, data: Buffer, chunk: number, chunks: number) =>
    h.call('POST', '/upload', {
      body: { multipart: [['task', task], ['chunk', String(chunk)], ['chunks', String(chunks)], ['file', { data, filename }]] },
    });

  it('reassembles chunks sent in order; every chunk answers the same server_filename', async () => {
    const task = await h.startTask('resizeimage');
    const names = [];
    for (const [i, data] of parts(JPG, 4).entries()) {
      const res = await sendChunk(task, 'rocket.jpg', data, i, 4);
      expect(res.status).toBe(200);
      names.push((await res.json()).server_filename);
    }
    expect(new Set(names).size).toBe(1);
    const res = await h.process({ task, tool: 'resizeimage', files: [{ server_filename: names[0], filename: 'rocket.jpg' }], percentage: 50 });
    expect(res.status).toBe('TaskSuccess');
    const meta = await sharp((await h.download(task)).bytes).metadata();
    expect([meta.width, meta.height]).toEqual([320, 214]);
  });

  it('fails the last chunk when an earlier one is missing, and completes once it is sent', async () => {
    const task = await h.startTask('compressimage');
    const [c0, c1, c2] = parts(TIFF, 3);
    expect((await sendChunk(task, 'v.tiff', c0, 0, 3)).status).toBe(200);
    const last = await sendChunk(task, 'v.tiff', c2, 2, 3);
    expect(last.status).toBe(400);
    expect((await last.json()).error).toMatchObject({ type: 'UploadError', param: { chunk: ['Missing chunks: 1'] } });
    expect(await fileCount(task)).toBe('0');
    const done = await sendChunk(task, 'v.tiff', c1, 1, 3);
    expect(done.status).toBe(200);
    const sf = (await done.json()).server_filename;
    const resource = await h.json('GET', `/task/${task}`);
    expect(resource.files).toMatchObject([{ server_filename: sf, filesize: TIFF.length }]);
  });

  it('refuses bad chunk numbers and a chunked file over the limit', async () => {
    const task = await h.startTask('compressimage');
    expect((await sendChunk(task, 'a.jpg', TIFF, 3, 3)).status).toBe(400);
    const bad = await h.call('POST', '/upload', { body: { multipart: [['task', task], ['chunk', 'x'], ['chunks', '2'], ['file', { data: TIFF, filename: 'a.jpg' }]] } });
    expect((await bad.json()).error.param).toHaveProperty('chunk');
    const big = Buffer.alloc(150_000, 7);
    expect((await sendChunk(task, 'big.jpg', big, 0, 2)).status).toBe(200);
    const over = await sendChunk(task, 'big.jpg', big, 1, 2);
    expect(over.status).toBe(400);
    expect((await over.json()).error.param).toHaveProperty('file');
  });
});

describe('the three delete forms', () => {
  it('DELETE /upload/{task}/{sf}, POST /upload/delete, DELETE /upload with JSON', async () => {
    const task = await h.startTask('compressimage');
    const [a, b, c] = [await h.upload(task, 'a.tiff', TIFF), await h.upload(task, 'b.tiff', TIFF), await h.upload(task, 'c.tiff', TIFF)];
    expect(await fileCount(task)).toBe('3');
    expect(await h.json('DELETE', `/upload/${task}/${a}`, { body: { form: { task, server_filename: a, v: 'php.1.1.17' } } })).toEqual({ success: true });
    expect(await h.json('POST', '/upload/delete', { body: { multipart: [['task', task], ['server_filename', b]] } })).toEqual({ success: true });
    expect(await h.json('DELETE', '/upload', { body: { json: { task, server_filename: c } } })).toEqual({ success: true });
    expect(await fileCount(task)).toBe('0');
    expect(await readdir(join(dataDir, task))).toEqual(['task.json']); // only the task's record is left
    const again = await h.json('DELETE', `/upload/${task}/${a}`, {}, 400);
    expect(again.error).toMatchObject({ type: 'UploadError', param: { server_filename: [expect.any(String)] } });
  });
});

describe('cloud_file', () => {
  it('fetches a URL server-side (multipart, urlencoded and JSON) when private URLs are allowed', async () => {
    const remote = await localServer((req, _body, res) => {
      if (req.url === '/redirect') {
        res.writeHead(302, { Location: '/files/rocket.jpg' }).end();
        return;
      }
      res.writeHead(200, { 'Content-Type': 'image/jpeg', 'Content-Length': String(JPG.length) }).end(JPG);
    });
    const open = await Harness.start({ limits: { allowPrivateUrls: true } });
    try {
      const task = await open.startTask('compressimage');
      const bodies = [
        { multipart: [['task', task], ['cloud_file', `${remote.url}/files/rocket.jpg`]] as [string, string][] },
        { form: { task, cloud_file: `${remote.url}/redirect` } },
        { json: { task, cloud_file: `${remote.url}/x`, filename: 'named.jpg' } },
      ];
      for (const body of bodies) {
        const { server_filename } = await open.json('POST', '/upload', { body });
        expect(server_filename).toMatch(/\.jpg$/);
      }
      const resource = await open.json('GET', `/task/${task}`);
      expect(resource.files.map((f: { filename: string }) => f.filename)).toEqual(['rocket.jpg', 'rocket.jpg', 'named.jpg']);
      expect(resource.files.every((f: { filesize: number }) => f.filesize === JPG.length)).toBe(true);
    } finally {
      await open.close();
      await remote.close();
    }
  });

  it('refuses loopback, private and non-http URLs by default', async () => {
    const remote = await localServer((_req, _body, res) => res.end(JPG));
    try {
      const task = await h.startTask('compressimage');
      for (const url of [`${remote.url}/a.jpg`, 'http://10.0.0.1/a.jpg', 'http://[::1]/a.jpg', 'http://169.254.169.254/latest', 'file:///etc/passwd', 'not a url']) {
        const res = await h.json('POST', '/upload', { body: { json: { task, cloud_file: url } } }, 400);
        expect(res.error).toMatchObject({ type: 'UploadError', param: { cloud_file: [expect.any(String)] } });
      }
      expect(await fileCount(task)).toBe('0');
    } finally {
      await remote.close();
    }
  });

  it('caps the size of a fetched file', async () => {
    const big = Buffer.alloc(300_000, 1);
    const remote = await localServer((_req, _body, res) => {
      res.writeHead(200); // no Content-Length: the cap must apply while streaming
      res.end(big);
    });
    const open = await Harness.start({ limits: { allowPrivateUrls: true, maxUploadBytes: 100_000 } });
    try {
      const task = await open.startTask('compressimage');
      const res = await open.json('POST', '/upload', { body: { json: { task, cloud_file: `${remote.url}/big.jpg` } } }, 400);
      expect(res.error.param.cloud_file[0]).toMatch(/larger than 100000/);
    } finally {
      await open.close();
      await remote.close();
    }
  });
});

describe('hostile names never escape the data directory', () => {
  it('path-traversal file names, server_filenames, task ids and output templates', async () => {
    const before = await readdir(dataParent);
    const task = await h.startTask('compressimage');
    const sfA = await h.upload(task, '../../../../etc/passwd.tiff', TIFF);
    const sfB = await h.upload(task, '..\\..\\windows\\win.tiff', TIFF);
    expect(sfA).toMatch(/^[0-9a-f]{32}\.tiff$/);
    expect(sfB).toMatch(/^[0-9a-f]{32}\.tiff$/);
    const res = await h.process({
      task,
      tool: 'compressimage',
      output_filename: '../{filename}/..',
      files: [
        { server_filename: sfA, filename: '../../etc/passwd.tiff' },
        { server_filename: sfB, filename: '..\\..\\boot.ini.tiff' },
        { server_filename: '../../../../etc/passwd', filename: 'x.jpg' },
      ],
    });
    expect(res.status).toBe('TaskSuccessWithWarnings');
    const resource = await h.json('GET', `/task/${task}`);
    expect(resource.files[2]).toMatchObject({ status: 'ServerFileNotFound' });
    const entries = Object.keys(unzipSync((await h.download(task)).bytes));
    expect(entries).toHaveLength(2);
    for (const name of entries) {
      expect(name).not.toMatch(/[/\\]/);
      expect(name).not.toContain('..');
    }
    expect(await readdir(dataParent)).toEqual(before);
    for (const id of ['..', '..%2F..%2Fetc', '.tmp']) {
      expect((await h.call('GET', `/task/${id}`)).status).toBe(404);
    }
    expect((await h.call('DELETE', `/upload/${task}/..%2F..%2F${sfA}`)).status).toBe(400);
  });

  it('non-ASCII names: an ASCII fallback and the UTF-8 name in Content-Disposition', async () => {
    const { task, files } = await h.prepare('rotateimage', [['café ☕ "x".tiff', TIFF]]);
    await h.process({ task, tool: 'rotateimage', files });
    const { res } = await h.download(task);
    expect(res.headers.get('content-disposition')).toBe(
      // `"` is one of the characters a file name may not hold on Windows: it became `_` in both.
      `attachment; filename="cafe _ _x_.tiff"; filename*=utf-8''caf%C3%A9%20%E2%98%95%20_x_.tiff`,
    );
  });
});
