/**
 * The official PHP library against the engine, without PHP: every request is sent exactly as
 * iloveimg-php v1.1.17 sends it (test/server/php-client.ts), over HTTPS as the library forces it when
 * openssl is there to make a certificate. Covers the short tool names of `newTask()`/`next()`, the
 * webhook as `samples/webhook_listen.php` reads it, and the sample flows end to end.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { corpus, localServer, waitFor } from './helpers.js';
import { PHP_VERSION, PhpClient, taskProperties } from './php-client.js';

const JPG = corpus('icc-adobergb-rocket-640x427.jpg');

function selfSigned(): { cert: Buffer; key: Buffer } | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'php-tls-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'k'), '-out', join(dir, 'c'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    return { cert: readFileSync(join(dir, 'c')), key: readFileSync(join(dir, 'k')) };
  } catch {
    return undefined; // no openssl: the same requests over plain HTTP
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

let srv: RunningServer;
let php: PhpClient;
beforeAll(async () => {
  srv = await startServer({ tls: selfSigned(), limits: { allowPrivateUrls: true } });
  php = new PhpClient(srv.url, srv.projects[0]);
});
afterAll(() => srv.close());

async function taskResource(client: PhpClient, task: string): Promise<any> {
  return (await client.form('get', `task/${task}`, { v: PHP_VERSION })).json();
}

describe('short tool names, as newTask() and next() send them', () => {
  it('chained_task.php: rotate, then next("compress"), then download', async () => {
    const rotateTask = await php.start('rotateimage');
    const file = await php.upload(rotateTask, 'document.jpg', JPG);
    file.rotate = 90; // $file->setRotation(90)
    const rotated = await php.execute(taskProperties('rotateimage', rotateTask, [file]));
    expect(rotated.status).toBe(200);

    const next = await php.next(rotateTask, 'compress');
    expect(next.status, next.body.toString()).toBe(200);
    const { task: compressTask, files } = next.json();
    // next() also builds the task object with newTask('compress'), which starts one more task.
    expect((await php.form('get', 'start/compressimage', { v: PHP_VERSION }, true)).status).toBe(200);

    const chained = Object.entries(files).map(([server_filename, filename]) => ({ server_filename, filename: filename as string, rotate: 0 }));
    const compressed = await php.execute(taskProperties('compressimage', compressTask, chained, { compression_level: 'extreme' }));
    expect(compressed.json()).toMatchObject({ status: 'TaskSuccess', download_filename: 'document.jpg' });
    expect(await taskResource(php, compressTask)).toMatchObject({ tool: 'compressimage', status: 'TaskSuccess' });

    const { status, filename, bytes } = await php.download(compressTask);
    expect([status, filename]).toEqual([200, 'document.jpg']);
    const meta = await sharp(bytes).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 427, 640]);
  });

  it('every short name starts its tool, answered with the long name; list filters take them too', async () => {
    const shortToLong = {
      compress: 'compressimage',
      resize: 'resizeimage',
      crop: 'cropimage',
      convert: 'convertimage',
      watermark: 'watermarkimage',
      repair: 'repairimage',
      rotate: 'rotateimage',
      upscale: 'upscaleimage',
      removebackground: 'removebackgroundimage',
    };
    for (const [short, long] of Object.entries(shortToLong)) {
      const task = await php.start(short);
      expect((await taskResource(php, task)).tool).toBe(long);
    }
    expect(srv.log.find((e) => e.path === '/v1/start/upscale')?.tool).toBe('upscaleimage');
    const listed = (await php.form('post', 'task', { tool: 'upscale', status: null, custom_int: null, page: null, v: PHP_VERSION, secret_key: php.project.secretKey }, true)).json();
    expect(listed.length).toBeGreaterThan(0);
    expect(listed.every((t: { tool: string }) => t.tool === 'upscaleimage')).toBe(true);
    // An unknown name is still refused, by name.
    const bad = await php.form('get', 'start/merge', { v: PHP_VERSION }, true);
    expect([bad.status, bad.json().error.type]).toEqual([400, 'StartError']);
    const badNext = await php.next(await php.start('rotate'), 'merge');
    expect(badNext.json().error.param).toHaveProperty('tool');
  });

  it('a /process body naming the tool by its short name runs that tool', async () => {
    const task = await php.start('resize');
    const file = await php.upload(task, 'document.jpg', JPG);
    const res = await php.execute(taskProperties('resize', task, [file], { resize_mode: 'percentage', percentage: 25 }));
    expect(res.json()).toMatchObject({ status: 'TaskSuccess' });
    expect((await sharp((await php.download(task)).bytes).metadata()).width).toBe(160);
  });
});

describe('webhooks, read as samples/webhook_listen.php reads them', () => {
  it('the listener takes $_POST["server"] and $_POST["task"] and downloads the result', async () => {
    const downloads: { form: URLSearchParams; filename: string; bytes: Buffer; contentType?: string }[] = [];
    // The listener fixture: parses the form as PHP fills $_POST, then setWorkerServer($_POST['server']),
    // setTask($_POST['task']) and download() with a fresh ImageTask that never called start().
    const listener = await localServer((req, body, res) => {
      const form = new URLSearchParams(body.toString());
      const myTask = new PhpClient('https://start.invalid', srv.projects[0]); // never contacted: the listener never calls start()
      myTask.workerServer = form.get('server') ?? undefined;
      void myTask.download(form.get('task') ?? '').then(({ filename, bytes }) => {
        downloads.push({ form, filename, bytes, contentType: req.headers['content-type'] });
        res.end('ok');
      });
    });
    try {
      const task = await php.start('resizeimage');
      const file = await php.upload(task, 'document.jpg', JPG);
      const props = taskProperties('resizeimage', task, [file], { resize_mode: 'percentage', percentage: 50, custom_int: 7, custom_string: 'order-42', webhook: `${listener.url}/webhook_listen.php` });
      const answer = await php.execute(props);
      expect(answer.json()).toEqual({ status: 'TaskProcessing', task });

      const got = await waitFor(() => downloads[0]);
      expect(got.contentType).toBe('application/x-www-form-urlencoded');
      expect(got.form.get('server')).toBe(srv.url); // scheme included: setWorkerServer() takes it as is
      expect(Object.fromEntries(got.form)).toMatchObject({
        task,
        tool: 'resizeimage',
        status: 'TaskSuccess',
        custom_int: '7',
        custom_string: 'order-42',
        file_number: '1',
        output_filenumber: '1',
        download_filename: 'document.jpg',
        'output_extensions[0]': 'jpg',
        'files[0][server_filename]': file.server_filename,
        'files[0][status]': 'FileSuccess',
        'files[0][filename]': 'document.jpg',
      });
      expect(got.filename).toBe('document.jpg');
      expect((await sharp(got.bytes).metadata()).width).toBe(320);
    } finally {
      await listener.close();
    }
  });
});
