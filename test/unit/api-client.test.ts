import { writeFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import { jwtVerify, decodeJwt } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IloveimgClient, CHUNK_BYTES } from '../../src/api/client.js';
import { filenameFromDisposition } from '../../src/api/http-helpers.js';
import { AuthenticationError, BadRequestError, ConnectionError, RateLimitError } from '../../src/api/errors.js';
import { TokenSigner } from '../../src/api/auth.js';
import { startFakeApi, type FakeApi } from '../helpers/fake-api.js';
import { tempDir } from '../helpers/cli.js';

const keys = { publicKey: 'project_public_test', secretKey: 'secret_key_test_0123456789' };
let api: FakeApi;
let client: IloveimgClient;

beforeEach(async () => {
  api = await startFakeApi();
  client = new IloveimgClient({ apiUrl: api.url, credentials: keys, retry: { baseDelayMs: 5, maxDelayMs: 50 } });
});
afterEach(() => api.close());

describe('TokenSigner', () => {
  it('signs HS256 tokens the way the official libraries do', async () => {
    const now = 1_800_000_000;
    const token = await new TokenSigner({ ...keys, fileEncryptionKey: 'k'.repeat(16) }, () => now).get();
    const { payload, protectedHeader } = await jwtVerify(token, new TextEncoder().encode(keys.secretKey), { currentDate: new Date(now * 1000) });
    expect(protectedHeader.alg).toBe('HS256');
    expect(payload.jti).toBe(keys.publicKey);
    expect(payload.iss).toBe('');
    expect(payload.aud).toBe('');
    expect(payload.iat).toBe(now - 5400);
    expect(payload.nbf).toBe(now - 5400);
    expect(payload.exp).toBe(now + 3600 + 5400);
    expect(payload.file_encryption_key).toBe('k'.repeat(16));
  });

  it('reuses a token for 30 minutes, then signs a new one', async () => {
    let now = 1_800_000_000;
    const signer = new TokenSigner(keys, () => now);
    const a = await signer.get();
    now += 1799;
    expect(await signer.get()).toBe(a);
    now += 2;
    const b = await signer.get();
    expect(b).not.toBe(a);
    expect(decodeJwt(b).iat).toBe(now - 5400);
  });
});

describe('IloveimgClient', () => {
  it('starts on the API URL and sends later calls to the worker with the same scheme', async () => {
    api.on('GET /v1/start/compressimage', { body: { server: api.host, task: 't1', remaining_files: 240 } });
    api.on('GET /v1/task/t1', { body: { task: 't1', status: 'TaskWaiting', files: [] } });
    const ref = await client.start('compressimage');
    expect(ref).toMatchObject({ task: 't1', server: api.host, remainingFiles: 240 });
    await client.getTask(ref);
    expect(api.received.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /v1/start/compressimage', 'GET /v1/task/t1']);
    const auth = api.received[0].headers.authorization!;
    expect(auth).toMatch(/^Bearer /);
    const { payload } = await jwtVerify(auth.slice(7), new TextEncoder().encode(keys.secretKey));
    expect(payload.jti).toBe(keys.publicKey);
  });

  it('keeps the server type, message and param of a 400', async () => {
    api.on('POST /v1/process', {
      status: 400,
      body: { error: { type: 'ProcessingError', message: "This task can't be processed. Check why in the params.", code: 400, param: { elements: ['Elements cannot be blank.'] } } },
    });
    const err = await client.process({ task: 't', server: api.host, tool: 'watermarkimage' }, { files: [] }).catch((e) => e);
    expect(err).toBeInstanceOf(BadRequestError);
    expect(err.type).toBe('ProcessingError');
    expect(err.status).toBe(400);
    expect(err.step).toBe('process');
    expect(err.message).toContain('elements: Elements cannot be blank.');
    expect(api.received).toHaveLength(1); // a 400 is never retried
  });

  it('reads the 401 shape and does not retry a rejected key', async () => {
    api.on('GET /v1/start/compressimage', { status: 401, body: { name: 'Unauthorized', message: 'Expired token', code: 0, status: 401 } });
    const err = await client.start('compressimage').catch((e) => e);
    expect(err).toBeInstanceOf(AuthenticationError);
    expect(err.message).toBe('Expired token');
    expect(api.received).toHaveLength(1);
    expect(String(err.message) + String(err.stack)).not.toContain(keys.secretKey);
  });

  it('re-signs and retries a 401 "Signature verification failed" from a bad node', async () => {
    api.on(
      'GET /v1/start/compressimage',
      { status: 401, body: { name: 'Unauthorized', message: 'Signature verification failed', code: 0, status: 401 } },
      { body: { server: api.host, task: 't2', remaining_files: 1 } },
    );
    expect((await client.start('compressimage')).task).toBe('t2');
    expect(api.received).toHaveLength(2);
  });

  it('honours Retry-After on 429 and succeeds', async () => {
    api.on('GET /v1/info', { status: 429, headers: { 'retry-after': '0' }, body: { error: { type: 'HTTP Error', message: 'Too Many Requests' } } }, { body: { remaining_files: 7 } });
    expect((await client.info()).remaining_files).toBe(7);
    expect(api.received).toHaveLength(2);
  });

  it('gives up after the retry limit with a RateLimitError', async () => {
    const c = new IloveimgClient({ apiUrl: api.url, credentials: keys, retry: { retries: 2, baseDelayMs: 1, maxDelayMs: 2 } });
    api.on('GET /v1/info', { status: 429, headers: { 'retry-after': '0' }, body: {} });
    await expect(c.info()).rejects.toBeInstanceOf(RateLimitError);
    expect(api.received).toHaveLength(3);
  });

  it('does not send process again after a 500 (it may have run)', async () => {
    api.on('POST /v1/process', { status: 500, body: 'oops' });
    await expect(client.process({ task: 't', server: api.host, tool: 'compressimage' }, {})).rejects.toMatchObject({ status: 500 });
    expect(api.received).toHaveLength(1);
  });

  it('rebuilds the multipart body when an upload is retried', async () => {
    const dir = await tempDir('iloveimg-client-');
    const file = path.join(dir, 'a.jpg');
    await writeFile(file, Buffer.alloc(1000, 7));
    api.on('POST /v1/upload', { status: 503, body: {} }, { body: { server_filename: 'srv.jpg' } });
    const res = await client.upload({ task: 't', server: api.host, tool: 'compressimage' }, { path: file, filename: 'a.jpg' });
    expect(res.server_filename).toBe('srv.jpg');
    expect(api.received).toHaveLength(2);
    for (const r of api.received) {
      expect(r.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
      expect(r.body.includes(Buffer.alloc(1000, 7))).toBe(true);
      expect(r.body.toString('latin1')).toContain('name="task"');
      expect(r.body.toString('latin1')).toContain('filename="a.jpg"');
    }
  });

  it('uploads a large file in 2,000,000-byte chunks with chunk and chunks', async () => {
    const dir = await tempDir('iloveimg-client-');
    const file = path.join(dir, 'big.png');
    const size = CHUNK_BYTES * 2 + 123;
    await writeFile(file, Buffer.alloc(size, 1));
    api.on('POST /v1/upload', { body: { server_filename: 'big.png' } });
    let progress = 0;
    await client.upload({ task: 't', server: api.host, tool: 'compressimage' }, { path: file, filename: 'big.png' }, (n) => (progress += n));
    expect(api.received).toHaveLength(3);
    const fields = api.received.map((r) => {
      const text = r.body.toString('latin1');
      return [/name="chunk"\r\n\r\n(\d+)/.exec(text)?.[1], /name="chunks"\r\n\r\n(\d+)/.exec(text)?.[1]];
    });
    expect(fields).toEqual([
      ['0', '3'],
      ['1', '3'],
      ['2', '3'],
    ]);
    expect(progress).toBe(size);
  });

  it('retries a failed chunk alone', async () => {
    const dir = await tempDir('iloveimg-client-');
    const file = path.join(dir, 'big.png');
    await writeFile(file, Buffer.alloc(CHUNK_BYTES * 2 + 10, 2));
    api.on('POST /v1/upload', { body: { server_filename: 'big.png' } }, { destroy: true }, { body: { server_filename: 'big.png' } });
    await client.upload({ task: 't', server: api.host, tool: 'compressimage' }, { path: file, filename: 'big.png' });
    const chunks = api.received.map((r) => /name="chunk"\r\n\r\n(\d+)/.exec(r.body.toString('latin1'))?.[1]);
    expect(chunks).toEqual(['0', '1', '1', '2']);
  });

  it('turns a dropped connection into a ConnectionError after retrying', async () => {
    const c = new IloveimgClient({ apiUrl: api.url, credentials: keys, retry: { retries: 1, baseDelayMs: 1, maxDelayMs: 2 } });
    api.on('GET /v1/info', { destroy: true });
    const err = await c.info().catch((e) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err.message).toContain('/v1/info');
    expect(api.received).toHaveLength(2);
  });

  it('streams a download to disk and names it from Content-Disposition', async () => {
    const dir = await tempDir('iloveimg-client-');
    api.on('GET /v1/download/t', { headers: { 'content-type': 'image/jpeg', 'content-disposition': `attachment; filename="caf_.jpg"; filename*=utf-8''caf%C3%A9.jpg` }, body: Buffer.from('jpegbytes') });
    const res = await client.download({ task: 't', server: api.host, tool: 'compressimage' }, path.join(dir, 'out'));
    expect(res.filename).toBe('café.jpg');
    expect(await readFile(path.join(dir, 'out'), 'utf8')).toBe('jpegbytes');
  });
});

describe('filenameFromDisposition', () => {
  it.each([
    [`attachment; filename="a.jpg"`, 'a.jpg'],
    [`attachment; filename=plain.png`, 'plain.png'],
    [`attachment; filename="x.jpg"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.jpg`, '日本.jpg'],
    [`attachment; filename*=utf-8''out.zip; filename="out.zip"`, 'out.zip'],
    [`attachment; filename="q\\"uote.jpg"`, 'q"uote.jpg'],
    ['inline', undefined],
  ])('%s', (header, expected) => {
    expect(filenameFromDisposition(header)).toBe(expected);
  });
});
