/**
 * Failure paths: parameter errors, damaged inputs, decompression bombs, timeouts, crashes, rate
 * limits, routing — and that the server keeps serving after each. Plus encryption at rest,
 * `?token=` downloads and the concurrency bound.
 */
import { readFile } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineError } from '../../src/engine/types.js';
import { Harness, corpus, fakeEngine, signToken, sleep } from './helpers.js';

const TIFF = corpus('tiff-video-001-150x103.tiff');

let h: Harness;
beforeAll(async () => {
  h = await Harness.start({ limits: { maxInputPixels: 50_000_000 } });
});
afterAll(() => h.close());

describe('parameter errors → 400 ProcessingError with param', () => {
  it('reports every bad value by name, and leaves the task waiting', async () => {
    const { task, files } = await h.prepare('resizeimage', [['v.tiff', TIFF]]);
    const res = await h.process({
      task,
      tool: 'resizeimage',
      files: [{ ...files[0], rotate: 45 }],
      resize_mode: 'sideways',
      pixels_width: 'wide',
      maintain_ratio: 'perhaps',
      file_encryption_key: 'short',
    }, 400);
    expect(res.error).toMatchObject({ type: 'ProcessingError', code: 400, message: expect.stringMatching(/params/) });
    expect(Object.keys(res.error.param).sort()).toEqual(['file_encryption_key', 'files[0][rotate]', 'maintain_ratio', 'pixels_width', 'resize_mode']);
    expect(res.error.param.resize_mode[0]).toMatch(/pixels, percentage/);
    expect((await h.json('GET', `/task/${task}`)).status).toBe('TaskWaiting');
  });

  it('files, elements and required values', async () => {
    const task = await h.startTask('watermarkimage');
    const sf = await h.upload(task, 'v.tiff', TIFF);
    const noFiles = await h.process({ task, tool: 'watermarkimage', files: [], elements: [{ text: 'x' }] }, 400);
    expect(noFiles.error.param.files).toEqual(['Files cannot be blank.']);
    const noElements = await h.process({ task, tool: 'watermarkimage', files: [{ server_filename: sf, filename: 'v.tiff' }] }, 400);
    expect(noElements.error.param.elements).toEqual(['Elements cannot be blank.']);
    const badElement = await h.process(
      { task, tool: 'watermarkimage', files: [{ server_filename: sf, filename: 'v.tiff' }], elements: [{ type: 'text', gravity: 'Up', font_color: 'red' }] },
      400,
    );
    expect(Object.keys(badElement.error.param).sort()).toEqual(['elements[0][font_color]', 'elements[0][gravity]', 'elements[0][text]']);
    const crop = await h.process({ task, tool: 'cropimage', files: [{ server_filename: sf, filename: 'v.tiff' }], width: 10 }, 400);
    expect(crop.error.param).toHaveProperty('height');
    const tool = await h.process({ task, tool: 'paintimage', files: [{ server_filename: sf, filename: 'v.tiff' }] }, 400);
    expect(tool.error.param).toHaveProperty('tool');
    expect((await h.process({ tool: 'cropimage', files: [] }, 404)).error.type).toBe('TaskNotFound');
  });
});

describe('damaged inputs → per-file DamagedFile, and the server keeps serving', () => {
  it('the broken corpus files, without repair', async () => {
    const names = ['broken-empty.jpg', 'broken-not-an-image.png', 'broken-truncated-half-wood.jpg', 'broken-corrupt-idat-coffee.png', 'broken-truncated-camera.png'];
    const { task, files } = await h.prepare('compressimage', [...names.map((n): [string, Buffer] => [n, corpus(n)]), ['good.tiff', TIFF]]);
    const res = await h.process({ task, tool: 'compressimage', files, try_image_repair: false });
    expect(res).toMatchObject({ status: 'TaskSuccessWithWarnings', output_filenumber: 1 });
    const resource = await h.json('GET', `/task/${task}`);
    const statuses = resource.files.map((f: { filename: string; status: string }) => [f.filename, f.status]);
    expect(statuses, JSON.stringify(resource.files)).toEqual([...names.map((n) => [n, 'DamagedFile']), ['good.tiff', 'FileSuccess']]);
  });

  it('empty and non-image files stay damaged with repair on; all failed → 400 with the failed files', async () => {
    const { task, files } = await h.prepare('compressimage', [
      ['broken-empty.jpg', corpus('broken-empty.jpg')],
      ['broken-not-an-image.png', corpus('broken-not-an-image.png')],
    ]);
    const res = await h.process({ task, tool: 'compressimage', files }, 400);
    expect(res.error.type).toBe('ProcessingError');
    expect(res.error.param).toEqual([
      expect.objectContaining({ filename: 'broken-empty.jpg', error: 'DamagedFile', server_filename: files[0].server_filename }),
      expect.objectContaining({ filename: 'broken-not-an-image.png', error: 'DamagedFile' }),
    ]);
    expect((await h.json('GET', `/task/${task}`)).status).toBe('TaskError');
  });

  it('a decompression bomb is refused by maxInputPixels', async () => {
    const { task, files } = await h.prepare('resizeimage', [['bomb.png', corpus('bomb-1bit-30000x30000.png')]]);
    const res = await h.process({ task, tool: 'resizeimage', files, percentage: 10 }, 400);
    expect(res.error.param[0]).toMatchObject({ error: 'DamagedFile' });
    // still serving, real work included
    const ok = await h.prepare('resizeimage', [['v.tiff', TIFF]]);
    expect((await h.process({ task: ok.task, tool: 'resizeimage', files: ok.files, percentage: 50 })).status).toBe('TaskSuccess');
  });
});

describe('time budget, crashes, concurrency', () => {
  it('a file past fileTimeoutSeconds is TimeOut; the others finish', async () => {
    const engine = fakeEngine(async (input) => {
      if (input.filename === 'slow.jpg') await sleep(1500);
      return { data: input.data, ext: 'jpg' };
    });
    const t = await Harness.start({ engine, limits: { fileTimeoutSeconds: 1 } });
    try {
      const { task, files } = await t.prepare('compressimage', [
        ['slow.jpg', TIFF],
        ['fast.jpg', TIFF],
      ]);
      const res = await t.process({ task, tool: 'compressimage', files });
      expect(res.status).toBe('TaskSuccessWithWarnings');
      const resource = await t.json('GET', `/task/${task}`);
      expect(resource.files.map((f: { status: string }) => f.status)).toEqual(['TimeOut', 'FileSuccess']);
    } finally {
      await t.close();
    }
  });

  it('an exception inside a handler → 500 JSON, and the server keeps serving', async () => {
    const engine = fakeEngine(async (input) => ({ data: input.data, ext: 'jpg' }), {
      joins: () => {
        throw new TypeError('boom');
      },
    });
    const logged: string[] = [];
    const t = await Harness.start({ engine, logger: (level, message) => logged.push(`${level} ${message}`) });
    try {
      const { task, files } = await t.prepare('compressimage', [['a.jpg', TIFF]]);
      const res = await t.call('POST', '/process', { body: { json: { task, tool: 'compressimage', files } } });
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({ error: { type: 'ServerError', message: expect.any(String), code: 500 } });
      expect(logged.some((l) => l.startsWith('error') && l.includes('boom'))).toBe(true);
      expect((await t.json('GET', `/task/${task}`)).status).toBe('TaskError');
      expect((await t.json('GET', '/info')).remaining_files).toBe(1_000_000);
    } finally {
      await t.close();
    }
  });

  it('an EngineError carries its status; at most `concurrency` files run at once', async () => {
    let running = 0;
    let peak = 0;
    const engine = fakeEngine(async (input) => {
      running++;
      peak = Math.max(peak, running);
      await sleep(30);
      running--;
      if (input.filename === 'x.jpg') throw new EngineError('NonConformant', 'not today');
      return { data: input.data, ext: 'jpg' };
    });
    const t = await Harness.start({ engine, concurrency: 2 });
    try {
      const { task, files } = await t.prepare(
        'compressimage',
        ['a', 'b', 'c', 'd', 'e', 'x'].map((n): [string, Buffer] => [`${n}.jpg`, TIFF]),
      );
      await t.process({ task, tool: 'compressimage', files });
      expect(peak).toBe(2);
      const resource = await t.json('GET', `/task/${task}`);
      expect(resource.files[5]).toMatchObject({ status: 'NonConformant', status_message: 'not today' });
    } finally {
      await t.close();
    }
  });
});

describe('routing and rate limits', () => {
  it('unknown routes → 404 JSON, wrong methods → 405 JSON', async () => {
    const missing = await h.json('GET', '/nothing/here', {}, 404);
    expect(missing.error).toMatchObject({ type: 'NotFound', code: 404 });
    const outside = await fetch(`${h.srv.url}/favicon.ico`);
    expect(outside.status).toBe(404);
    const wrong = await h.call('PUT', '/process');
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
  });

  it('answers CORS preflights', async () => {
    const res = await fetch(h.url('/upload'), { method: 'OPTIONS', headers: { Origin: 'https://example.test', 'Access-Control-Request-Method': 'POST' } });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-headers')).toMatch(/Authorization/);
  });

  it('429 with Retry-After past the per-minute limit, rate headers on every response, per project', async () => {
    const other = { publicKey: 'project_public_other', secretKey: 'secret_key_other_000000000000000' };
    const r = await Harness.start({ limits: { rateLimit: 3 }, projects: [{ publicKey: 'project_public_one', secretKey: 'secret_key_one_00000000000000000' }, other] });
    try {
      for (let i = 0; i < 3; i++) {
        const res = await r.call('GET', '/info');
        expect(res.status).toBe(200);
        expect(res.headers.get('x-ratelimit-limit')).toBe('3');
        expect(res.headers.get('x-ratelimit-remaining')).toBe(String(2 - i));
        expect(Number(res.headers.get('x-ratelimit-reset'))).toBeGreaterThan(Date.now() / 1000);
      }
      const limited = await r.call('POST', '/process', { body: { json: { task: 'x' } } });
      expect(limited.status).toBe(429);
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(limited.headers.get('x-ratelimit-remaining')).toBe('0');
      expect((await limited.json()).error).toMatchObject({ type: 'TooManyRequests', code: 429 });
      // Another project has its own budget.
      const res = await r.call('GET', '/info', { token: await signToken(other) });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-ratelimit-remaining')).toBe('2');
    } finally {
      await r.close();
    }
  });
});

describe('downloads', () => {
  it('?token= works instead of the header', async () => {
    const { task, files } = await h.prepare('rotateimage', [['v.tiff', TIFF]]);
    await h.process({ task, tool: 'rotateimage', files: [{ ...files[0], rotate: 90 }] });
    const res = await fetch(`${h.url(`/download/${task}`)}?token=${h.token}`);
    expect(res.status).toBe(200);
    const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
    expect([meta.width, meta.height]).toEqual([103, 150]);
    expect((await fetch(h.url(`/download/${task}`))).status).toBe(401);
    // ?token= is for downloads only
    expect((await fetch(`${h.url(`/task/${task}`)}?token=${h.token}`)).status).toBe(401);
  });
});

describe('file_encryption_key', () => {
  it('keeps uploads and outputs encrypted at rest; only the same key downloads', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'iloveimg-enc-'));
    const e = await Harness.start({ dataDir });
    try {
      const key = '0123456789abcdef0123456789abcdef';
      e.token = await signToken(e.project, { file_encryption_key: key });
      const jpg = corpus('icc-adobergb-rocket-640x427.jpg');
      const { task, files } = await e.prepare('resizeimage', [['rocket.jpg', jpg]]);
      const onDisk = await readFile(join(dataDir, task, files[0].server_filename));
      expect(onDisk.length).toBe(jpg.length + 28);
      expect(onDisk.includes(jpg.subarray(0, 64))).toBe(false);

      await e.process({ task, tool: 'resizeimage', files, percentage: 50 });
      const out = await readFile(join(dataDir, task, 'out', '1.jpg'));
      await expect(sharp(out).metadata()).rejects.toThrow();

      const { res, bytes } = await e.download(task);
      expect(res.status).toBe(200);
      const meta = await sharp(bytes).metadata();
      expect([meta.width, meta.height]).toEqual([320, 214]);

      const noKey = await e.json('GET', `/download/${task}`, { token: await signToken(e.project) }, 400);
      expect(noKey.error).toMatchObject({ type: 'DownloadError', param: { file_encryption_key: [expect.any(String)] } });
      const wrongKey = await e.json('GET', `/download/${task}`, { token: await signToken(e.project, { file_encryption_key: 'fedcba9876543210' }) }, 400);
      expect(wrongKey.error.type).toBe('DownloadError');
      const badLength = await e.json('GET', '/start/resizeimage', { token: await signToken(e.project, { file_encryption_key: 'short' }) }, 400);
      expect(badLength.error.param).toHaveProperty('file_encryption_key');
    } finally {
      await e.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('a key given only as a process param encrypts the outputs', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'iloveimg-enc-'));
    const e = await Harness.start({ dataDir });
    try {
      const key = 'abcdefghijklmnop';
      const { task, files } = await e.prepare('rotateimage', [['v.tiff', TIFF]]);
      await e.process({ task, tool: 'rotateimage', files, file_encryption_key: key });
      expect((await e.call('GET', `/download/${task}`)).status).toBe(400);
      const { res, bytes } = await e.download(task, { token: await signToken(e.project, { file_encryption_key: key }) });
      expect(res.status).toBe(200);
      expect(bytes.equals(await readFile(join(dataDir, task, 'out', '1.tiff')))).toBe(false);
      expect((await sharp(bytes).metadata()).width).toBe(150);
    } finally {
      await e.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
