/** Task resources: lifecycle, status, deletion, the list, connected tasks, expiry, limits, webhooks. */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineOutput } from '../../src/engine/types.js';
import { Harness, corpus, fakeEngine, localServer, sleep, waitFor } from './helpers.js';

const TIFF = corpus('tiff-video-001-150x103.tiff');
const JPG = corpus('icc-adobergb-rocket-640x427.jpg');

let h: Harness;
beforeAll(async () => {
  h = await Harness.start();
});
afterAll(() => h.close());

/** An engine whose files finish only when the test says so. */
function gatedEngine() {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const engine = fakeEngine(async (input): Promise<EngineOutput> => {
    await gate;
    return { data: input.data, ext: 'jpg' };
  });
  return { engine, open };
}

describe('lifecycle', () => {
  it('TaskWaiting → TaskProcessing → TaskSuccess, then UploadDeleted/TaskDeleted → TaskNotFound', async () => {
    const { engine, open } = gatedEngine();
    const g = await Harness.start({ engine });
    try {
      const task = await g.startTask('compressimage');
      expect((await g.json('GET', `/task/${task}`)).status).toBe('TaskWaiting');
      const sf = await g.upload(task, 'a.jpg', JPG);
      const waiting = await g.json('GET', `/task/${task}`);
      expect(waiting).toMatchObject({ status: 'TaskWaiting', file_number: '1', files: [{ server_filename: sf, status: 'FileWaiting' }] });

      // webhook "" → answer at once, the client polls /task.
      const answer = await g.process({ task, tool: 'compressimage', files: [{ server_filename: sf, filename: 'a.jpg' }], webhook: '' });
      expect(answer).toEqual({ status: 'TaskProcessing', task });
      expect((await g.json('GET', `/task/${task}`)).status).toBe('TaskProcessing');
      const early = await g.json('GET', `/download/${task}`, {}, 400);
      expect(early.error.type).toBe('DownloadError');
      const twice = await g.process({ task, tool: 'compressimage', files: [{ server_filename: sf, filename: 'a.jpg' }] }, 400);
      expect(twice.error).toMatchObject({ type: 'ProcessingError', param: { task: [expect.stringMatching(/already/)] } });

      open();
      const done = await waitFor(async () => {
        const r = await g.json('GET', `/task/${task}`);
        return r.status === 'TaskProcessing' ? undefined : r;
      });
      expect(done).toMatchObject({
        tool: 'compressimage',
        status: 'TaskSuccess',
        status_message: '',
        task,
        server: `127.0.0.1:${g.srv.port}`,
        file_number: '1',
        download_filename: 'a.jpg',
        filesize: JPG.length,
        output_filesize: JPG.length,
        output_filenumber: 1,
        output_extensions: ['jpg'],
        custom_int: null,
        custom_string: null,
        files: [{ server_filename: sf, status: 'FileSuccess', status_message: '', filename: 'a.jpg', filesize: JPG.length, output_filesize: JPG.length }],
      });
      expect(done.process_start).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
      expect(typeof done.files[0].timer).toBe('number');
      const again = await g.process({ task, tool: 'compressimage', files: [{ server_filename: sf, filename: 'a.jpg' }] }, 400);
      expect(again.error.type).toBe('ProcessingError');

      const deleted = await g.json('DELETE', `/task/${task}`);
      expect(deleted).toMatchObject({ task, status: 'TaskDeleted', download_filename: 'a.jpg' });
      for (const [method, path] of [
        ['GET', `/task/${task}`],
        ['GET', `/download/${task}`],
        ['DELETE', `/task/${task}`],
      ]) {
        const res = await g.json(method, path, {}, 404);
        expect(res).toEqual({ error: { type: 'TaskNotFound', message: 'Task not found', code: 404 } });
      }

      const unprocessed = await g.startTask('compressimage');
      await g.upload(unprocessed, 'b.jpg', JPG);
      expect((await g.json('DELETE', `/task/${unprocessed}`)).status).toBe('UploadDeleted');
    } finally {
      await g.close();
    }
  });

  it('TaskSuccessWithWarnings and TaskError from file failures, ignore_errors both ways', async () => {
    const bad = corpus('broken-not-an-image.png');
    const mixed = await h.prepare('compressimage', [
      ['good.tiff', TIFF],
      ['bad.png', bad],
    ]);
    const warned = await h.process({ task: mixed.task, tool: 'compressimage', files: mixed.files });
    expect(warned).toMatchObject({ status: 'TaskSuccessWithWarnings', output_filenumber: 1, download_filename: 'good.tiff' });
    expect(warned.status_message).toMatch(/bad\.png \(DamagedFile\)/);
    const resource = await h.json('GET', `/task/${mixed.task}`);
    expect(resource.files.map((f: { status: string }) => f.status)).toEqual(['FileSuccess', 'DamagedFile']);

    const strict = await h.prepare('compressimage', [
      ['bad.png', bad],
      ['good.tiff', TIFF],
    ]);
    const failed = await h.process({ task: strict.task, tool: 'compressimage', files: strict.files, ignore_errors: 'false' }, 400);
    expect(failed.error.type).toBe('ProcessingError');
    expect(failed.error.param).toContainEqual(expect.objectContaining({ filename: 'bad.png', error: 'DamagedFile' }));
    const strictResource = await h.json('GET', `/task/${strict.task}`);
    expect(strictResource).toMatchObject({ status: 'TaskError', output_filenumber: 0, download_filename: '' });
    expect((await h.json('GET', `/download/${strict.task}`, {}, 400)).error.type).toBe('DownloadError');
  });
});

describe('names', () => {
  it('output_filename and packaged_filename templates', async () => {
    const { task, files } = await h.prepare('rotateimage', [
      ['one.tiff', TIFF],
      ['two.tiff', TIFF],
    ]);
    const res = await h.process({
      task,
      tool: 'rotateimage',
      files,
      output_filename: '{n}-{filename}-{tool}',
      packaged_filename: 'pack_{date}',
      custom_int: 42,
      custom_string: 'hello',
    });
    const today = new Date().toISOString().slice(0, 10);
    expect(res.download_filename).toBe(`pack_${today}.zip`);
    const resource = await h.json('GET', `/task/${task}`);
    expect(resource).toMatchObject({ custom_int: 42, custom_string: 'hello' });
    const { res: dl } = await h.download(task);
    expect(dl.headers.get('content-disposition')).toContain(`filename="pack_${today}.zip"`);
    // Entry names: checked through task/next, which hands the outputs on under their names.
    const next = await h.json('POST', '/task/next', { body: { json: { task, tool: 'compressimage' } } });
    expect(Object.values(next.files).sort()).toEqual(['1-one-rotateimage.tiff', '2-two-rotateimage.tiff']);
  });
});

describe('connected tasks', () => {
  it('POST /task/next hands the outputs on without a new upload', async () => {
    const { task, files } = await h.prepare('resizeimage', [['rocket.jpg', JPG]]);
    await h.process({ task, tool: 'resizeimage', files, pixels_width: 200, pixels_height: 200 });
    const uploads = h.srv.log.filter((r) => r.path === '/v1/upload').length;

    const next = await h.json('POST', '/task/next', { body: { form: { task, tool: 'convertimage', v: 'php.1.1.17' } } });
    expect(next.task).toMatch(/^[0-9a-f]{40}$/);
    const entries = Object.entries(next.files);
    expect(entries).toHaveLength(1);
    const [sf, name] = entries[0];
    expect(name).toBe('rocket.jpg');
    const child = await h.json('GET', `/task/${next.task}`);
    expect(child).toMatchObject({ tool: 'convertimage', status: 'TaskWaiting', files: [{ server_filename: sf, filename: 'rocket.jpg' }] });

    const res = await h.process({ task: next.task, tool: 'convertimage', to: 'png', files: [{ server_filename: sf, filename: name }] });
    expect(res).toMatchObject({ status: 'TaskSuccess', download_filename: 'rocket.png' });
    const meta = await sharp((await h.download(next.task)).bytes).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 200, 133]);
    expect(h.srv.log.filter((r) => r.path === '/v1/upload').length).toBe(uploads);

    // The parent can go; the child's files stay.
    await h.json('DELETE', `/task/${task}`);
    expect((await h.json('GET', `/task/${next.task}`)).status).toBe('TaskSuccess');
  });

  it('needs a processed parent and a known tool', async () => {
    const task = await h.startTask('resizeimage');
    expect((await h.json('POST', '/task/next', { body: { json: { task, tool: 'compressimage' } } }, 400)).error.param).toHaveProperty('task');
    expect((await h.json('POST', '/task/next', { body: { json: { task, tool: 'nope' } } }, 400)).error.param).toHaveProperty('tool');
  });
});

describe('the task list', () => {
  it('filters by tool, status and custom_int, 50 per page, newest first; needs the secret key', async () => {
    const l = await Harness.start({ engine: fakeEngine(async (input) => ({ data: input.data, ext: 'jpg' })) });
    try {
      const started: string[] = [];
      for (let i = 0; i < 53; i++) started.push(await l.startTask(i % 2 ? 'cropimage' : 'rotateimage'));
      const processed = started[52];
      const sf = await l.upload(processed, 'a.jpg', TIFF);
      await l.process({ task: processed, tool: 'rotateimage', files: [{ server_filename: sf, filename: 'a.jpg' }], custom_int: 7 });

      const secret = l.project.secretKey;
      const page1 = await l.json('POST', '/task', { body: { json: { secret_key: secret } } });
      expect(page1).toHaveLength(50);
      expect(page1[0].task).toBe(started[52]);
      expect(page1[49].task).toBe(started[3]);
      const page2 = await l.json('POST', '/task', { body: { form: { secret_key: secret, page: '2', v: 'php.1.1.17' } } });
      expect(page2.map((t: { task: string }) => t.task)).toEqual([started[2], started[1], started[0]]);
      const viaGet = await l.json('GET', `/task?secret_key=${secret}&tool=cropimage`);
      expect(viaGet).toHaveLength(26);
      expect(viaGet.every((t: { tool: string }) => t.tool === 'cropimage')).toBe(true);
      const done = await l.json('POST', '/task', { body: { json: { secret_key: secret, status: 'TaskSuccess' } } });
      expect(done.map((t: { task: string }) => t.task)).toEqual([processed]);
      expect(await l.json('POST', '/task', { body: { json: { secret_key: secret, custom_int: 7 } } })).toHaveLength(1);
      expect(await l.json('POST', '/task', { body: { json: { secret_key: secret, custom_int: 8 } } })).toEqual([]);
      expect(await l.json('POST', '/task', { body: { json: { secret_key: secret, page: 9 } } })).toEqual([]);
      expect((await l.json('POST', '/task', { body: { json: { secret_key: secret, page: 0 } } }, 400)).error.type).toBe('TaskError');
      for (const body of [{}, { secret_key: 'secret_key_wrong' }]) {
        expect((await l.json('POST', '/task', { body: { json: body } }, 401)).name).toBe('Unauthorized');
      }
    } finally {
      await l.close();
    }
  });
});

describe('limits and quotas', () => {
  it('open-task limit → StartError; processing closes a task', async () => {
    const l = await Harness.start({ limits: { maxOpenTasks: 2 }, engine: fakeEngine(async (i) => ({ data: i.data, ext: 'jpg' })) });
    try {
      const first = await l.startTask('rotateimage');
      await l.startTask('rotateimage');
      const refused = await l.json('GET', '/start/rotateimage', {}, 400);
      expect(refused.error.type).toBe('StartError');
      const sf = await l.upload(first, 'a.jpg', TIFF);
      await l.process({ task: first, tool: 'rotateimage', files: [{ server_filename: sf, filename: 'a.jpg' }] });
      expect(await l.startTask('rotateimage')).toBeTruthy();
      expect((await l.json('GET', '/info')).open_tasks).toBe(2);
    } finally {
      await l.close();
    }
  });

  it('remaining_files goes down per processed file and is reported by /start and /info', async () => {
    const l = await Harness.start({ limits: { remainingFiles: 3 }, engine: fakeEngine(async (i) => ({ data: i.data, ext: 'jpg' })) });
    try {
      const task = await l.startTask('rotateimage');
      const files = [
        { server_filename: await l.upload(task, 'a.jpg', TIFF), filename: 'a.jpg' },
        { server_filename: await l.upload(task, 'b.jpg', TIFF), filename: 'b.jpg' },
      ];
      await l.process({ task, tool: 'rotateimage', files });
      expect((await l.json('GET', '/info')).remaining_files).toBe(1);
      expect((await l.json('GET', '/start/rotateimage')).remaining_files).toBe(1);
    } finally {
      await l.close();
    }
  });

  it('tasks expire taskTtlSeconds after processing', async () => {
    const l = await Harness.start({ limits: { taskTtlSeconds: 1 }, engine: fakeEngine(async (i) => ({ data: i.data, ext: 'jpg' })) });
    try {
      const task = await l.startTask('rotateimage');
      const sf = await l.upload(task, 'a.jpg', TIFF);
      await l.process({ task, tool: 'rotateimage', files: [{ server_filename: sf, filename: 'a.jpg' }] });
      expect((await l.json('GET', `/task/${task}`)).status).toBe('TaskSuccess');
      await sleep(1100);
      expect((await l.json('GET', `/download/${task}`, {}, 404)).error.type).toBe('TaskNotFound');
    } finally {
      await l.close();
    }
  });
});

describe('webhook', () => {
  it('answers at once and POSTs the task resource (form-encoded) to the URL when done', async () => {
    const received: { method?: string; type?: string; body: any }[] = [];
    const listener = await localServer((req, body, res) => {
      received.push({ method: req.method, type: req.headers['content-type'], body: Object.fromEntries(new URLSearchParams(body.toString())) });
      res.end('ok');
    });
    const w = await Harness.start({ limits: { allowPrivateUrls: true } });
    try {
      const { task, files } = await w.prepare('resizeimage', [['rocket.jpg', JPG]]);
      const answer = await w.process({ task, tool: 'resizeimage', files, percentage: 25, webhook: `${listener.url}/hook` });
      expect(answer).toEqual({ status: 'TaskProcessing', task });
      const call = await waitFor(() => received[0]);
      expect(call).toMatchObject({ method: 'POST', type: 'application/x-www-form-urlencoded' });
      expect(call.body).toMatchObject({ task, tool: 'resizeimage', status: 'TaskSuccess', download_filename: 'rocket.jpg', 'files[0][status]': 'FileSuccess' });
      const meta = await sharp((await w.download(task)).bytes).metadata();
      expect([meta.width, meta.height]).toEqual([160, 107]);
    } finally {
      await w.close();
      await listener.close();
    }
  });

  it('refuses a loopback webhook unless private URLs are allowed', async () => {
    const { task, files } = await h.prepare('rotateimage', [['a.tiff', TIFF]]);
    const res = await h.process({ task, tool: 'rotateimage', files, webhook: 'http://127.0.0.1:9/hook' }, 400);
    expect(res.error).toMatchObject({ type: 'ProcessingError', param: { webhook: [expect.stringMatching(/private|loopback/)] } });
    expect((await h.json('GET', `/task/${task}`)).status).toBe('TaskWaiting');
  });
});
