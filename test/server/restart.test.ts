/**
 * Tasks across restarts of a server with the same data dir: downloads after a restart, encryption at
 * rest, expiry from the original times, half-written task directories, and `serve` killed with SIGKILL
 * in the middle of an upload.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BIN } from '../helpers/cli.js';
import { Harness, corpus, signToken } from './helpers.js';

const JPG = corpus('icc-adobergb-rocket-640x427.jpg');
const PNG = corpus('alpha-yellow-rose-400x301.png');
const project = { publicKey: 'project_public_restart', secretKey: 'secret_key_restart_0123456789' };

let dataDir: string;
beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'iloveimg-restart-'));
});
afterEach(() => rm(dataDir, { recursive: true, force: true }));

const start = (limits = {}) => Harness.start({ dataDir, projects: [project], limits });
const record = async (task: string) => JSON.parse(await readFile(join(dataDir, task, 'task.json'), 'utf8'));

describe('a restarted server keeps its tasks', () => {
  it('serves the download of a task processed before the restart, and lists it as before', async () => {
    let h = await start();
    const { task, files } = await h.prepare('compressimage', [['a.jpg', JPG], ['b.png', PNG]]);
    await h.process({ task, tool: 'compressimage', files, custom_int: 5 });
    const before = await h.download(task);
    const waiting = await h.startTask('rotate');
    // The list as it was, but for `server` (the restarted server listens on another port).
    const list = async (srv: Harness) => (await srv.json('POST', '/task', { body: { json: { secret_key: project.secretKey } } })).map((t: object) => ({ ...t, server: '' }));
    const listed = await list(h);
    await h.close();

    h = await start();
    try {
      expect(await h.json('GET', `/task/${task}`)).toMatchObject({ status: 'TaskSuccess', custom_int: 5, file_number: '2', download_filename: 'iloveimg-compressed.zip' });
      const after = await h.download(task);
      expect(after.res.status).toBe(200);
      expect(after.res.headers.get('content-disposition')).toBe(before.res.headers.get('content-disposition'));
      expect(after.bytes.equals(before.bytes)).toBe(true);
      expect(await list(h)).toEqual(listed);
      // The waiting task takes uploads and processes as if nothing happened.
      const sf = await h.upload(waiting, 'c.jpg', JPG);
      expect((await h.process({ task: waiting, files: [{ server_filename: sf, filename: 'c.jpg', rotate: 90 }] })).status).toBe('TaskSuccess');
      // New tasks still sort newest first after the loaded ones.
      const fresh = await h.startTask('crop');
      expect((await h.json('POST', '/task', { body: { json: { secret_key: project.secretKey } } }))[0].task).toBe(fresh);
    } finally {
      await h.close();
    }
  });

  it('with encryption at rest: the record holds no key, the download needs the same key after the restart', async () => {
    const key = 'k'.repeat(32);
    let h = await start();
    h.token = await signToken(project, { file_encryption_key: key });
    const { task, files } = await h.prepare('rotateimage', [['a.jpg', JPG]]);
    await h.process({ task, files: [{ ...files[0], rotate: 180 }] });
    const before = await h.download(task);
    await h.close();
    const onDisk = await readFile(join(dataDir, task, 'task.json'), 'utf8');
    expect(onDisk).not.toContain(key);
    expect(JSON.parse(onDisk)).toMatchObject({ version: 1, keyFingerprint: expect.any(String), files: [{ encrypted: true }] });

    h = await start();
    try {
      expect((await h.download(task, { token: await signToken(project) })).res.status).toBe(400);
      h.token = await signToken(project, { file_encryption_key: key });
      const after = await h.download(task);
      expect(after.bytes.equals(before.bytes)).toBe(true);
    } finally {
      await h.close();
    }
  });

  it('expiry counts from the original times: a task past its TTL is gone after the restart, with its files', async () => {
    let h = await start();
    const old = await h.prepare('rotateimage', [['a.jpg', JPG]]);
    await h.process({ task: old.task, files: old.files });
    const recent = await h.startTask('rotateimage');
    await h.close();
    // Processed ten hours ago, as far as its record says (the TTL is the default two hours).
    const r = await record(old.task);
    await writeFile(join(dataDir, old.task, 'task.json'), JSON.stringify({ ...r, processedAt: Date.now() - 10 * 3600_000 }));

    h = await start();
    try {
      expect((await h.json('GET', `/task/${old.task}`, {}, 404)).error.type).toBe('TaskNotFound');
      expect((await readdir(dataDir)).sort()).toEqual(['.tmp', recent].sort());
      expect((await h.json('GET', `/task/${recent}`)).status).toBe('TaskWaiting');
    } finally {
      await h.close();
    }
  });

  it('half-written task directories are removed, never half-loaded; a task caught processing waits to be processed again', async () => {
    let h = await start();
    const whole = await h.prepare('rotateimage', [['a.jpg', JPG]]);
    const processing = await h.prepare('rotateimage', [['b.jpg', JPG]]);
    const broken = await h.prepare('rotateimage', [['c.jpg', JPG], ['d.jpg', JPG]]);
    await h.close();
    // A task directory with no record (killed while being created), a record naming a missing file
    // (killed while being deleted), a stray upload and a half-written record beside a good task,
    // a task that was processing, and a record of a future format.
    await mkdir(join(dataDir, 'a'.repeat(40)));
    await writeFile(join(dataDir, 'a'.repeat(40), 'x.jpg'), JPG);
    await rm(join(dataDir, broken.task, broken.files[1].server_filename));
    await writeFile(join(dataDir, whole.task, 'stray0123456789abcdef0123456789ab.jpg'), JPG);
    await writeFile(join(dataDir, whole.task, 'task.json.0a1b2c.tmp'), '{"format":');
    const r = await record(processing.task);
    await writeFile(join(dataDir, processing.task, 'task.json'), JSON.stringify({ ...r, status: 'TaskProcessing' }));
    await mkdir(join(dataDir, processing.task, 'out'));
    await writeFile(join(dataDir, processing.task, 'out', '1.jpg'), 'half an output');
    await mkdir(join(dataDir, 'f'.repeat(40)));
    await writeFile(join(dataDir, 'f'.repeat(40), 'task.json'), JSON.stringify({ format: 'iloveimg-engine/task', version: 99 }));

    h = await start();
    try {
      expect((await readdir(dataDir)).sort()).toEqual(['.tmp', 'f'.repeat(40), processing.task, whole.task].sort());
      expect((await h.json('GET', `/task/${broken.task}`, {}, 404)).error.type).toBe('TaskNotFound');
      expect((await readdir(join(dataDir, whole.task))).sort()).toEqual([whole.files[0].server_filename, 'task.json'].sort());
      expect(await h.process({ task: whole.task, files: whole.files })).toMatchObject({ status: 'TaskSuccess' });

      const waiting = await h.json('GET', `/task/${processing.task}`);
      expect(waiting).toMatchObject({ status: 'TaskWaiting', status_message: expect.stringMatching(/interrupted by a restart/) });
      expect(await readdir(join(dataDir, processing.task, 'out'))).toEqual([]);
      expect(await h.process({ task: processing.task, files: processing.files })).toMatchObject({ status: 'TaskSuccess' });
    } finally {
      await h.close();
    }
  });
});

/** `iloveimg serve` as a child process on a free port; resolves once it prints its URL. */
async function serve(): Promise<{ child: ChildProcess; url: string }> {
  const env = { ...process.env, ILOVEIMG_PUBLIC_KEY: project.publicKey, ILOVEIMG_SECRET_KEY: project.secretKey, NO_COLOR: '1' };
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--data-dir', dataDir], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}`)));
  });
  return { child, url };
}

describe('serve killed with SIGKILL', () => {
  it('in the middle of an upload: restarts clean, the task takes the upload again', async () => {
    let { child, url } = await serve();
    const h = new Harness({ url, port: 0, projects: [project], close: async () => {}, log: [] }, project);
    h.token = await signToken(project);
    const task = await h.startTask('compressimage');
    const first = await h.upload(task, 'first.jpg', JPG);

    // An upload whose body stops halfway; the server is killed while it waits for the rest.
    const boundary = 'sigkill';
    const head = `--${boundary}\r\nContent-Disposition: form-data; name="task"\r\n\r\n${task}\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="second.jpg"\r\n\r\n`;
    const req = request(`${url}/v1/upload`, { method: 'POST', headers: { Authorization: `Bearer ${h.token}`, 'Content-Type': `multipart/form-data; boundary=${boundary}`, 'Content-Length': String(head.length + JPG.length + 100) } });
    req.on('error', () => {});
    req.write(head);
    req.write(JPG.subarray(0, JPG.length / 2));
    await new Promise<void>((resolve) => {
      const look = async () => ((await readdir(join(dataDir, '.tmp'))).length > 0 ? resolve() : setTimeout(look, 20));
      void look();
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    expect((await readdir(join(dataDir, '.tmp'))).length).toBe(1); // the half upload, as the kill left it

    ({ child, url } = await serve());
    try {
      const h2 = new Harness({ url, port: 0, projects: [project], close: async () => {}, log: [] }, project);
      h2.token = h.token;
      expect(await readdir(join(dataDir, '.tmp'))).toEqual([]);
      expect((await readdir(join(dataDir, task))).sort()).toEqual([first, 'task.json'].sort());
      const resource = await h2.json('GET', `/task/${task}`);
      expect(resource).toMatchObject({ status: 'TaskWaiting', file_number: '1', files: [{ server_filename: first, filename: 'first.jpg' }] });
      const second = await h2.upload(task, 'second.jpg', JPG);
      const done = await h2.process({ task, files: [{ server_filename: first, filename: 'first.jpg' }, { server_filename: second, filename: 'second.jpg' }] });
      expect(done).toMatchObject({ status: 'TaskSuccess', output_filenumber: 2 });
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  });
});
