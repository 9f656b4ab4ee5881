/**
 * The embedded engine's two transports (docs/architecture.md, "Transport"): the client reaching the
 * engine's router in-process and over loopback HTTP gets the same answers — the same result bytes and
 * dimensions, chunked uploads, the same errors — and the CLI uses the in-process one unless
 * ILOVEIMG_ENGINE_TRANSPORT=loopback, with the same files written either way.
 */
import { randomBytes } from 'node:crypto';
import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IloveimgClient, CHUNK_BYTES } from '../../src/api/client.js';
import { AuthenticationError, BadRequestError } from '../../src/api/errors.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { connect } from '../../src/account/connection.js';
import { runCli, tempDir } from '../helpers/cli.js';
import { fixture } from '../helpers/fixtures.js';

let srv: RunningServer;
let dir: string;

beforeAll(async () => {
  srv = await startServer({ host: '127.0.0.1', port: 0 });
  dir = await tempDir();
});
afterAll(async () => {
  await srv?.close();
  await rm(dir, { recursive: true, force: true });
});

function clients(): Record<'inProcess' | 'loopback', IloveimgClient> {
  const [pair] = srv.projects;
  const base = { apiUrl: srv.url, credentials: pair, retry: { retries: 0 } };
  return { inProcess: new IloveimgClient({ ...base, dispatch: srv.dispatch }), loopback: new IloveimgClient(base) };
}

/** One resize task through `client`: its downloaded bytes. */
async function resizeThrough(client: IloveimgClient, file: string, name: string): Promise<Buffer> {
  const ref = await client.start('resizeimage');
  const up = await client.upload(ref, { path: file, filename: path.basename(file) });
  await client.process(ref, { files: [{ server_filename: up.server_filename, filename: path.basename(file) }], resize_mode: 'percentage', percentage: 50 });
  const dest = path.join(dir, name);
  const res = await client.download(ref, dest);
  expect(res.filename).toBe(path.basename(file));
  return readFile(dest);
}

describe('in-process and loopback transports', () => {
  it('give the same result bytes and dimensions for a photo', async () => {
    const photo = fixture('photo-storm-1920x1280.jpg');
    const { inProcess, loopback } = clients();
    const a = await resizeThrough(inProcess, photo, 'a.jpg');
    const b = await resizeThrough(loopback, photo, 'b.jpg');
    expect(a.equals(b)).toBe(true);
    const meta = await sharp(a).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 960, 640]);
    const before = srv.log.length;
    await inProcess.info();
    // The in-process request went through the router: it is in the engine's request log.
    expect(srv.log.slice(before).map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual(['GET /v1/info 200']);
  });

  it('carry a chunked, streamed upload (a file over both the chunk size and the one-buffer size)', async () => {
    // Noise does not compress: about 6 MB of PNG, sent in 3 chunks, each a streamed multipart body.
    const raw = randomBytes(1500 * 1400 * 3);
    const big = path.join(dir, 'noise.png');
    await writeFile(big, await sharp(raw, { raw: { width: 1500, height: 1400, channels: 3 } }).png({ compressionLevel: 1 }).toBuffer());
    expect((await readFile(big)).length).toBeGreaterThan(2 * CHUNK_BYTES);
    const { inProcess, loopback } = clients();
    const a = await resizeThrough(inProcess, big, 'big-a.png');
    const b = await resizeThrough(loopback, big, 'big-b.png');
    expect(a.equals(b)).toBe(true);
    const meta = await sharp(a).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 750, 700]);
  });

  it('give the same errors: a wrong key, a bad request', async () => {
    const [pair] = srv.projects;
    for (const dispatch of [srv.dispatch, undefined]) {
      const wrong = new IloveimgClient({ apiUrl: srv.url, credentials: { publicKey: pair.publicKey, secretKey: 'secret_key_wrong_0123456789' }, retry: { retries: 0 }, dispatch });
      await expect(wrong.start('resizeimage')).rejects.toBeInstanceOf(AuthenticationError);
    }
    const { inProcess, loopback } = clients();
    const errors = [];
    for (const client of [inProcess, loopback]) {
      const ref = await client.start('resizeimage');
      errors.push(await client.process(ref, { files: [] }).catch((e: unknown) => e));
    }
    expect(errors[0]).toBeInstanceOf(BadRequestError);
    expect(errors[1]).toBeInstanceOf(BadRequestError);
    expect((errors[0] as Error).message).toBe((errors[1] as Error).message);
  });

  it('cut a request whose signal fires', async () => {
    const controller = new AbortController();
    const [pair] = srv.projects;
    const client = new IloveimgClient({ apiUrl: srv.url, credentials: pair, retry: { retries: 0 }, dispatch: srv.dispatch, signal: controller.signal });
    controller.abort();
    await expect(client.info()).rejects.toThrow();
  });
});

describe('in-process downloads', () => {
  it('a reader that stops mid-download (a bound hit) does not hold the engine open', async () => {
    const own = await startServer({ host: '127.0.0.1', port: 0 });
    try {
      const client = new IloveimgClient({ apiUrl: own.url, credentials: own.projects[0], retry: { retries: 0 }, dispatch: own.dispatch });
      const ref = await client.start('resizeimage');
      const file = fixture('photo-wood-2560x1920.jpg');
      const up = await client.upload(ref, { path: file, filename: 'wood.jpg' });
      await client.process(ref, { files: [{ server_filename: up.server_filename, filename: 'wood.jpg' }], resize_mode: 'percentage', percentage: 90 });
      const err = await client.download(ref, path.join(dir, 'cut.jpg'), { maxBytes: 1000 }).catch((e: unknown) => e);
      expect((err as { type?: string }).type).toBe('ResultTooLarge');
      // The download handler's write failed with the reader gone, so close() has nothing to wait for.
      const log = own.log.filter((r) => r.path.startsWith('/v1/download/'));
      expect(log).toHaveLength(1);
    } finally {
      await own.close();
    }
  }, 30_000);
});

describe('the embedded engine of the CLI', () => {
  it('is reached in-process by default and over loopback with ILOVEIMG_ENGINE_TRANSPORT=loopback', async () => {
    const io = { verbose: false, interactive: false, info: () => undefined, warn: () => undefined } as never;
    const a = await connect({ local: true, configDir: path.join(dir, 'cfg') }, { io, env: {} });
    const b = await connect({ local: true, configDir: path.join(dir, 'cfg') }, { io, env: { ILOVEIMG_ENGINE_TRANSPORT: 'loopback' } });
    try {
      expect([a.transport, b.transport]).toEqual(['in-process', 'loopback']);
      expect((await a.client.info()).remaining_files).toBe((await b.client.info()).remaining_files);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('writes the same files through both transports (several files: a zip per task)', async () => {
    const inputs = ['photo-storm-1920x1280.jpg', 'photo-wood-2560x1920.jpg', 'png-photo-coffee-600x400.png'].map(fixture);
    const outputs: Record<string, Buffer[]> = {};
    for (const transport of ['in-process', 'loopback']) {
      const out = path.join(dir, `cli-${transport}`);
      const env = transport === 'loopback' ? { ILOVEIMG_ENGINE_TRANSPORT: 'loopback' } : {};
      const r = await runCli(['resize', ...inputs, '--percentage', '50', '-o', out, '--flat', '--local', '--json'], { cwd: dir, env });
      expect(r.code, r.stderr).toBe(0);
      const names = (await readdir(out)).filter((n) => !n.startsWith('.')).sort();
      expect(names).toEqual(['photo-storm-1920x1280.jpg', 'photo-wood-2560x1920.jpg', 'png-photo-coffee-600x400.png']);
      outputs[transport] = await Promise.all(names.map((n) => readFile(path.join(out, n))));
    }
    for (const [i, bytes] of outputs['in-process'].entries()) expect(bytes.equals(outputs.loopback[i])).toBe(true);
    const dims = await Promise.all(outputs['in-process'].map(async (b) => (({ width, height }) => [width, height])(await sharp(b).metadata())));
    expect(dims).toEqual([[960, 640], [1280, 960], [300, 200]]);
  });
});
