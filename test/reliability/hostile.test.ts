/**
 * The hostile-input suite: everything a malicious or broken client may send the engine, in one place.
 * Each case asserts the status code and the error shape, and then that a normal request still
 * succeeds (`healthy()`: a whole start → upload → process → download on the same server).
 *
 * Some cases are also covered, one aspect each, in test/server/*.test.ts (auth, bodies, uploads,
 * errors); here they are listed together and each one is followed by a normal request.
 *
 * Nothing here connects anywhere but 127.0.0.1: the private-address cases are refused by
 * `checkUrl` (src/server/urls.ts) before any connection, from the literal address or from the
 * resolution of `localhost`; `http.request`/`https.request` are spied on to prove no request was
 * attempted.
 */
import { unzipSync } from 'fflate';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { isNonPublicAddress } from '../../src/server/urls.js';
import { Harness, corpus, localServer, noneToken, signToken, sleep } from '../server/helpers.js';

const alice = { publicKey: 'project_public_alice_hostile', secretKey: 'secret_key_alice_hostile_0123456789' };
const bob = { publicKey: 'project_public_bob_hostile', secretKey: 'secret_key_bob_hostile_0123456789ab' };
const TIFF = corpus('tiff-video-001-150x103.tiff');
const JPG = corpus('cmyk-video-001-150x103.jpg');

// Small node:http limits so that slow-loris clients are cut quickly.
const HEADERS_TIMEOUT_S = 1;
const REQUEST_TIMEOUT_S = 2;

let h: Harness;
let parent: string;
let dataDir: string;

beforeAll(async () => {
  parent = await mkdtemp(path.join(tmpdir(), 'iloveimg-hostile-'));
  dataDir = path.join(parent, 'data');
  h = await Harness.start({
    projects: [alice, bob],
    dataDir,
    limits: { requestTimeoutSeconds: REQUEST_TIMEOUT_S, headersTimeoutSeconds: HEADERS_TIMEOUT_S, maxUploadBytes: 5_000_000 },
  });
});
afterAll(async () => {
  await h?.close();
  await rm(parent, { recursive: true, force: true });
});

/** A normal request still succeeds: a whole task, checked down to the pixels. */
async function healthy(): Promise<void> {
  const { task, files } = await h.prepare('rotateimage', [['ok.tiff', TIFF]]);
  expect((await h.process({ task, tool: 'rotateimage', files: files.map((f) => ({ ...f, rotate: 90 })) })).status).toBe('TaskSuccess');
  const { res, bytes } = await h.download(task);
  expect(res.status).toBe(200);
  expect(await sharp(bytes).metadata()).toMatchObject({ width: 103, height: 150 });
  expect(await readdir(path.join(dataDir, '.tmp'))).toEqual([]);
}

interface RawAnswer {
  status?: number;
  head: string;
  body: string;
  /** Milliseconds until the server closed the connection. */
  ms: number;
}

/**
 * Sends bytes on a raw socket (optionally a few at a time, `trickle` ms apart, at most `maxWrites`
 * writes) and reads until the server closes the connection, or `giveUpMs`.
 */
function raw(
  payload: string | Buffer,
  opts: { trickleMs?: number; chunk?: number; maxWrites?: number; giveUpMs?: number; stopAfter?: number; atOnce?: number } = {},
): Promise<RawAnswer> {
  const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect(h.srv.port, '127.0.0.1');
    const got: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    const giveUp = setTimeout(() => socket.destroy(), opts.giveUpMs ?? 10_000);
    socket.on('data', (c: Buffer) => got.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(giveUp);
      clearInterval(timer);
      const text = Buffer.concat(got).toString('utf8');
      const [head, ...rest] = text.split('\r\n\r\n');
      const status = /^HTTP\/1\.1 (\d{3})/.exec(head)?.[1];
      resolve({ status: status ? Number(status) : undefined, head, body: rest.join('\r\n\r\n'), ms: Date.now() - started });
    });
    if (!opts.trickleMs) {
      socket.write(opts.stopAfter !== undefined ? data.subarray(0, opts.stopAfter) : data);
      // The client goes away mid-body.
      if (opts.stopAfter !== undefined) setTimeout(() => socket.destroy(), 100);
      return;
    }
    // The first `atOnce` bytes (the headers, say) go at once, the rest a few at a time.
    let at = opts.atOnce ?? 0;
    if (at > 0) socket.write(data.subarray(0, at));
    let writes = 0;
    const step = opts.chunk ?? 1;
    timer = setInterval(() => {
      if (socket.destroyed || at >= data.length || writes >= (opts.maxWrites ?? 1000)) return clearInterval(timer);
      socket.write(data.subarray(at, at + step));
      at += step;
      writes++;
    }, opts.trickleMs);
  });
}

function multipartRequest(contentType: string, body: string | Buffer, extraHeaders = ''): Buffer {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const head =
    `POST /v1/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAuthorization: Bearer ${h.token}\r\n` +
    `Content-Type: ${contentType}\r\nContent-Length: ${bytes.length}\r\n${extraHeaders}\r\n`;
  return Buffer.concat([Buffer.from(head), bytes]);
}

function multipartBody(task: string, boundary: string, file: Buffer, filename = 'a.jpg'): Buffer {
  return Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="task"\r\n\r\n${task}\r\n`),
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: image/jpeg\r\n\r\n`),
    file,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
}

const apiError = (type: string, message?: RegExp, code = 400) => ({
  error: expect.objectContaining({ type, code, ...(message ? { message: expect.stringMatching(message) } : {}) }),
});

describe('malformed multipart', () => {
  it('no boundary → 400 UploadError', async () => {
    const task = await h.startTask('compressimage');
    const res = await raw(multipartRequest('multipart/form-data', multipartBody(task, 'XYZ', JPG)));
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toEqual(apiError('UploadError', /Malformed multipart/));
    expect((await h.json('GET', `/task/${task}`)).files).toEqual([]);
    await healthy();
  });

  it('a boundary the body does not use → 400, nothing stored', async () => {
    const task = await h.startTask('compressimage');
    const res = await raw(multipartRequest('multipart/form-data; boundary=OTHER', multipartBody(task, 'XYZ', JPG)));
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toEqual(apiError('UploadError', /Malformed multipart/));
    expect((await h.json('GET', `/task/${task}`)).files).toEqual([]);
    await healthy();
  });

  it('a body cut short (honest Content-Length) → 400, the partial file removed', async () => {
    const task = await h.startTask('compressimage');
    const body = multipartBody(task, 'XYZ', JPG);
    const res = await raw(multipartRequest('multipart/form-data; boundary=XYZ', body.subarray(0, body.length - 2000)));
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toEqual(apiError('UploadError', /Malformed multipart/));
    expect((await h.json('GET', `/task/${task}`)).files).toEqual([]);
    await healthy();
  });

  it('a client that goes away mid-body gets no answer, and leaves nothing behind', async () => {
    const task = await h.startTask('compressimage');
    const big = corpus('icc-adobergb-rocket-640x427.jpg');
    const request = multipartRequest('multipart/form-data; boundary=XYZ', multipartBody(task, 'XYZ', big));
    const res = await raw(request, { stopAfter: Math.floor(request.length / 2) });
    expect(res.status).toBeUndefined();
    await sleep(200);
    expect((await h.json('GET', `/task/${task}`)).files).toEqual([]);
    await healthy(); // includes: the temp dir is empty
  });

  it('a body declared far over every limit is refused before it is read', async () => {
    const res = await raw(
      `POST /v1/upload HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer ${h.token}\r\n` +
        `Content-Type: multipart/form-data; boundary=XYZ\r\nContent-Length: 9000000000\r\n\r\n--XYZ\r\n`,
    );
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toEqual(apiError('UploadError', /larger than the maximum upload size/));
    await healthy();
  });
});

describe('malformed HTTP', () => {
  it('headers over 16 KB → 431 in the API error shape', async () => {
    const res = await raw(`GET /v1/info HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${h.token}\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(res.status).toBe(431);
    expect(JSON.parse(res.body)).toEqual({ error: { type: 'HTTP Error', message: expect.any(String), code: 431 } });
    await healthy();
  });

  it('a garbage request line → 400 in the API error shape', async () => {
    const res = await raw('HELLO THERE\r\n\r\n');
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toEqual({ error: { type: 'HTTP Error', message: 'Malformed HTTP request', code: 400 } });
    await healthy();
  });

  it('slow-loris headers: 408 and closed within the headers timeout', async () => {
    const request = `GET /v1/info HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${h.token}\r\nX-Slow: ${'s'.repeat(400)}\r\n\r\n`;
    // One byte every 50 ms would take ~25 s; at most 200 writes are made in any case.
    const res = await raw(request, { trickleMs: 50, maxWrites: 200, giveUpMs: 8_000 });
    expect(res.status).toBe(408);
    expect(JSON.parse(res.body)).toMatchObject({ error: { code: 408 } });
    // headersTimeout + the checking interval (a quarter of it) + slack for a loaded machine.
    expect(res.ms).toBeLessThan(HEADERS_TIMEOUT_S * 1000 + 2_500);
    await healthy();
  });

  it('slow-loris body: 408 and closed within the request timeout, the partial upload removed', async () => {
    const task = await h.startTask('compressimage');
    const body = multipartBody(task, 'XYZ', corpus('icc-adobergb-rocket-640x427.jpg'));
    const request = multipartRequest('multipart/form-data; boundary=XYZ', body);
    // Headers at once, then 100 bytes every 50 ms (the body would take ~1 min); at most 200 writes.
    const res = await raw(request, { atOnce: request.indexOf('\r\n\r\n') + 4, trickleMs: 50, chunk: 100, maxWrites: 200, giveUpMs: 8_000 });
    expect(res.status).toBe(408);
    expect(res.ms).toBeLessThan(REQUEST_TIMEOUT_S * 1000 + 2_500);
    await sleep(200);
    expect((await h.json('GET', `/task/${task}`)).files).toEqual([]);
    await healthy();
  });
});

describe('hostile content', () => {
  it('a pixel bomb (30000×30000 PNG) → per-file DamagedFile, 400 ProcessingError', async () => {
    const { task, files } = await h.prepare('resizeimage', [['bomb.png', corpus('bomb-1bit-30000x30000.png')]]);
    const res = await h.json('POST', '/process', { body: { json: { task, tool: 'resizeimage', files, percentage: 10 } } }, 400);
    expect(res).toEqual(apiError('ProcessingError'));
    expect(res.error.param).toEqual([expect.objectContaining({ server_filename: files[0].server_filename, filename: 'bomb.png', error: 'DamagedFile' })]);
    await healthy();
  });

  it('deeply nested JSON (100 and 1,000,000 levels) → 400 with the endpoint type, no recursion', async () => {
    for (const depth of [100, 1_000_000]) {
      const body = '['.repeat(depth) + ']'.repeat(depth);
      for (const [p, type] of [
        ['/process', 'ProcessingError'],
        ['/task/next', 'TaskError'],
      ] as const) {
        const res = await fetch(h.url(p), { method: 'POST', headers: { Authorization: `Bearer ${h.token}`, 'Content-Type': 'application/json' }, body });
        expect(res.status).toBe(400);
        expect(await res.json()).toEqual(apiError(type, /nested deeper/));
      }
    }
    await healthy();
  });

  it('bracket keys: too deep → 400; huge indexes and prototype keys are harmless', async () => {
    const deep = await h.call('POST', '/process', { body: { form: { 'a[1][2][3][4][5][6][7][8][9]': 'x' } } });
    expect(deep.status).toBe(400);
    expect(await deep.json()).toEqual(apiError('ProcessingError', /nested too deeply/));
    const deepMultipart = await h.call('POST', '/upload', { body: { multipart: [['a[1][2][3][4][5][6][7][8][9]', 'x']] } });
    expect(deepMultipart.status).toBe(400);
    expect(await deepMultipart.json()).toEqual(apiError('UploadError', /nested too deeply/));
    // An index of 999999999 must not allocate a sparse array; __proto__ keys are dropped.
    const { task, files } = await h.prepare('rotateimage', [['a.tiff', TIFF]]);
    const res = await h.call('POST', '/process', {
      body: {
        form: [
          ['task', task],
          ['tool', 'rotateimage'],
          ['files[999999999][server_filename]', files[0].server_filename],
          ['files[999999999][filename]', 'a.tiff'],
          ['__proto__[polluted]', 'yes'],
          ['files[0][__proto__][polluted]', 'yes'],
          ['constructor[prototype][polluted]', 'yes'],
        ],
      },
    });
    expect(res.status).toBe(200);
    expect((await res.json()).status).toBe('TaskSuccess');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const json = await h.call('POST', '/process', { body: { json: JSON.parse('{"__proto__":{"polluted":"yes"},"task":"nope"}') } });
    expect(json.status).toBe(404);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    await healthy();
  });

  it('path traversal in every name field stays inside the data directory', async () => {
    const outside = async () => (await readdir(parent)).sort();
    const before = await outside();
    const task = await h.startTask('compressimage');
    // multipart filename
    const names = ['../../../../etc/passwd.tiff', '..\\..\\windows\\win.tiff', '/abs/olute.tiff', 'C:\\evil\\c.tiff'];
    // Raw control characters (NUL included) in a part header are refused outright...
    for (const bad of ['nul\u0000byte.tiff', 'esc\u001b[2J.tiff']) {
      const res = await h.call('POST', '/upload', { body: { multipart: [['task', task], ['file', { data: TIFF, filename: bad }]] } });
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual(apiError('UploadError', /Malformed/));
    }
    const sfs: string[] = [];
    for (const name of names) {
      const sf = await h.upload(task, name, TIFF);
      expect(sf).toMatch(/^[0-9a-f]{32}\.tiff$/);
      sfs.push(sf);
    }
    // ...and percent-encoded in `filename*` they arrive, but only as a name shown back.
    const encoded = Buffer.concat([
      Buffer.from(`--XYZ\r\nContent-Disposition: form-data; name="task"\r\n\r\n${task}\r\n`),
      Buffer.from(`--XYZ\r\nContent-Disposition: form-data; name="file"; filename*=utf-8''..%2F..%2Fnul%00%07%1B.tiff\r\nContent-Type: image/tiff\r\n\r\n`),
      TIFF,
      Buffer.from('\r\n--XYZ--\r\n'),
    ]);
    const viaStar = await raw(multipartRequest('multipart/form-data; boundary=XYZ', encoded));
    expect(viaStar.status).toBe(200);
    const starSf = JSON.parse(viaStar.body).server_filename as string;
    expect(starSf).toMatch(/^[0-9a-f]{32}\.tiff$/);
    names.push('../../nul\u0000\u0007\u001b.tiff');
    sfs.push(starSf);
    // chunked upload: the chunks are keyed by the client's name but stored under a generated one
    const chunked = await h.json('POST', '/upload', {
      body: { multipart: [['task', task], ['chunk', '0'], ['chunks', '1'], ['file', { data: TIFF, filename: '../../chunk/../../c.tiff' }]] },
    });
    expect(chunked.server_filename).toMatch(/^[0-9a-f]{32}\.tiff$/);
    // server_filename with ../ in the three delete forms
    const del1 = await h.call('DELETE', `/upload/${task}/..%2F..%2F${sfs[0]}`);
    expect(del1.status).toBe(400);
    expect(await del1.json()).toEqual(apiError('UploadError', /No such file/));
    for (const [method, p] of [
      ['POST', '/upload/delete'],
      ['DELETE', '/upload'],
    ] as const) {
      const res = await h.call(method, p, { body: { json: { task, server_filename: `../${task}/${sfs[0]}` } } });
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual(apiError('UploadError', /No such file/));
    }
    // task ids with ../ on every endpoint
    for (const [method, p, body] of [
      ['GET', '/task/..%2F..%2Fetc', undefined],
      ['GET', '/download/..%2F..', undefined],
      ['DELETE', '/task/..%2F', undefined],
      ['POST', '/process', { task: '../..', tool: 'compressimage', files: [] }],
      ['POST', '/task/next', { task: `../${task}`, tool: 'compressimage' }],
    ] as const) {
      const res = await h.call(method, p, { body: body ? { json: body } : undefined });
      expect(res.status, `${method} ${p}`).toBe(404);
      expect((await res.json()).error.type).toBe('TaskNotFound');
    }
    // A literal `..` segment (fetch would have resolved it): the server's URL parser resolves it too,
    // to a route that does not exist.
    for (const line of ['GET /v1/task/.. HTTP/1.1', 'DELETE /v1/task/../../etc HTTP/1.1', 'GET /v1/download/%2e%2e/%2e%2e HTTP/1.1']) {
      const res = await raw(`${line}\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer ${h.token}\r\n\r\n`);
      expect(res.status, line).toBe(404);
      expect(JSON.parse(res.body).error.type, line).toMatch(/^(TaskNotFound|NotFound)$/);
    }
    // files[].filename, output_filename and packaged_filename templates, server_filename in process
    const res = await h.process({
      task,
      tool: 'compressimage',
      output_filename: '../../{filename}/../x{n}',
      packaged_filename: '../../../evil/{filename}/..',
      files: [
        ...sfs.map((server_filename, i) => ({ server_filename, filename: names[i] })),
        { server_filename: chunked.server_filename, filename: '../../c.tiff' },
        { server_filename: '../../../../etc/passwd', filename: 'x.jpg' },
      ],
    });
    expect(res.status).toBe('TaskSuccessWithWarnings');
    const resource = await h.json('GET', `/task/${task}`);
    expect(resource.files.at(-1)).toMatchObject({ status: 'ServerFileNotFound' });
    const { res: dl, bytes } = await h.download(task);
    const disposition = dl.headers.get('content-disposition')!;
    const shown = /filename="([^"]*)"/.exec(disposition)![1];
    const star = decodeURIComponent(/filename\*=utf-8''(.*)$/.exec(disposition)![1]);
    for (const name of [shown, star, ...Object.keys(unzipSync(bytes))]) {
      expect(name).not.toMatch(/[/\\\u0000-\u001f]/);
      expect(name).not.toContain('..');
    }
    expect(Object.keys(unzipSync(bytes))).toHaveLength(names.length + 1);
    // watermark stamps named by a path
    const wm = await h.prepare('watermarkimage', [['w.tiff', TIFF]]);
    const stamp = await h.call('POST', '/process', {
      body: { json: { task: wm.task, tool: 'watermarkimage', files: wm.files, elements: [{ type: 'image', image: '../../../../etc/passwd' }] } },
    });
    expect(stamp.status).toBe(400);
    expect(await stamp.json()).toEqual(apiError('ProcessingError'));
    // Nothing appeared beside the data directory; inside it, only generated names.
    expect(await outside()).toEqual(before);
    for (const rel of await walk(dataDir)) {
      expect(rel).toMatch(/^(\.tmp|[0-9a-f]{40})(\/(chunks|out))?(\/[0-9a-f]{32}(\.[a-z0-9]+)?|\/\d+\.[a-z0-9]+|\/package\.zip|\/task\.json|\/[0-9a-f]{32}\.[a-z0-9]+\/\d+)?$/);
      expect(rel).not.toMatch(/passwd|evil|win|olute/);
    }
    await healthy();
  });

  it('a cloud file whose server names it ../../evil.jpg is stored and served under safe names', async () => {
    const remote = await localServer((_req, _body, res) => {
      res.writeHead(200, { 'Content-Type': 'image/jpeg', 'Content-Disposition': "attachment; filename*=utf-8''..%2F..%2Fevil.jpg" });
      res.end(JPG);
    });
    const open = await Harness.start({ dataDir: path.join(parent, 'open'), limits: { allowPrivateUrls: true } });
    try {
      const before = (await readdir(parent)).sort();
      const task = await open.startTask('compressimage');
      const { server_filename } = await open.json('POST', '/upload', { body: { json: { task, cloud_file: `${remote.url}/x/..%2F..%2Fother.jpg` } } });
      expect(server_filename).toMatch(/^[0-9a-f]{32}\.jpg$/);
      await open.process({ task, tool: 'compressimage', files: [{ server_filename, filename: '../../evil.jpg' }] });
      const { res } = await open.download(task);
      expect(res.headers.get('content-disposition')).toBe(`attachment; filename="evil.jpg"; filename*=utf-8''evil.jpg`);
      expect((await readdir(parent)).sort()).toEqual(before);
    } finally {
      await open.close();
      await remote.close();
    }
    await healthy();
  });
});

describe('tokens', () => {
  const expect401 = async (token: string | null, message: RegExp, p = '/info') => {
    const res = await h.call('GET', p, { token });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ name: 'Unauthorized', message: expect.stringMatching(message), code: 0, status: 401 });
    await healthy();
  };
  const now = () => Math.floor(Date.now() / 1000);

  it('no token, garbage, alg none, other algorithms', async () => {
    await expect401(null, /credentials/);
    await expect401('a.b', /segments/);
    await expect401('not.a.jwt', /Malformed/);
    await expect401(noneToken({ jti: alice.publicKey, iat: now() }), /Algorithm not allowed/);
    await expect401(noneToken({ jti: alice.publicKey }).replace(/\.$/, '.c2lnbmF0dXJl'), /Algorithm not allowed/);
    await expect401(await signToken(alice, {}, 'HS512'), /Algorithm not allowed/);
  });

  it('forged: wrong secret, a payload swapped under a valid signature, expired, from the future', async () => {
    await expect401(await signToken({ ...alice, secretKey: 'secret_key_guessed' }), /^Signature verification failed$/);
    const [head, , sig] = (await signToken(alice)).split('.');
    const swapped = Buffer.from(JSON.stringify({ jti: bob.publicKey, iat: now() })).toString('base64url');
    await expect401(`${head}.${swapped}.${sig}`, /^Signature verification failed$/);
    const elevated = Buffer.from(JSON.stringify({ jti: alice.publicKey, iat: now(), file_encryption_key: 'x'.repeat(32) })).toString('base64url');
    await expect401(`${head}.${elevated}.${sig}`, /^Signature verification failed$/);
    await expect401(await signToken(alice, { exp: now() - 1 }), /^Expired token$/);
    await expect401(await signToken(alice, { iat: now() + 86_400, nbf: undefined }), /prior to/);
    // A token signed with Alice's secret that claims Bob's public key: Bob's secret does not verify it.
    await expect401(await signToken({ publicKey: bob.publicKey, secretKey: alice.secretKey }), /^Signature verification failed$/);
    await expect401(await signToken({ publicKey: 'project_public_nobody', secretKey: alice.secretKey }), /Invalid public key/);
  });

  it("another project's token: the task does not exist for it", async () => {
    const { task, files } = await h.prepare('rotateimage', [['a.tiff', TIFF]]);
    const bobToken = await signToken(bob);
    const res = await h.call('POST', '/process', { token: bobToken, body: { json: { task, tool: 'rotateimage', files } } });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual(apiError('TaskNotFound', /Task not found/, 404));
    // ?token= is only read on downloads; elsewhere it is no credential.
    const query = await fetch(`${h.url('/info')}?token=${encodeURIComponent(h.token)}`);
    expect(query.status).toBe(401);
    expect((await h.json('GET', `/task/${task}`)).status).toBe('TaskWaiting');
    await healthy();
  });
});

describe('a request flood on one key', () => {
  it('is answered 429 with Retry-After past the limit, in a bounded number of requests; the other key is not affected', async () => {
    const limited = await Harness.start({ projects: [alice, bob], limits: { rateLimit: 20 } });
    try {
      const statuses: number[] = [];
      let first429: Response | undefined;
      for (let i = 0; i < 30; i++) {
        const res = await limited.call('GET', '/info');
        statuses.push(res.status);
        if (res.status === 429 && !first429) first429 = res;
        else await res.arrayBuffer();
      }
      expect(statuses.slice(0, 20).every((s) => s === 200)).toBe(true);
      expect(statuses.slice(20).every((s) => s === 429)).toBe(true);
      expect(Number(first429!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(first429!.headers.get('x-ratelimit-remaining')).toBe('0');
      expect(await first429!.json()).toEqual(apiError('TooManyRequests', /Too Many Requests/, 429));
      // A flood of concurrent requests is bounded the same way and never crashes the server.
      const burst = await Promise.all(Array.from({ length: 50 }, () => limited.call('GET', '/start/compressimage').then((r) => r.status)));
      expect(new Set(burst)).toEqual(new Set([429]));
      const other = await limited.json('GET', '/info', { token: await signToken(bob) });
      expect(other.remaining_files).toBeGreaterThan(0);
    } finally {
      await limited.close();
    }
    await healthy();
  });
});

describe('cloud_file and webhook URLs on private addresses', () => {
  const PRIVATE = [
    'http://127.0.0.1:9/a.jpg',
    'http://10.0.0.1/a.jpg',
    'http://169.254.169.254/latest/meta-data/',
    'http://[::1]/a.jpg',
    'http://localhost/a.jpg',
    'http://2130706433/a.jpg', // 127.0.0.1 as one number
    'http://0x7f.1/a.jpg', // 127.0.0.1 in hex
    'http://0/a.jpg', // 0.0.0.0
    'http://[::ffff:169.254.169.254]/a.jpg', // IPv4-mapped
    'http://[::127.0.0.1]/a.jpg', // IPv4-compatible (deprecated)
    'http://[2002:a9fe:a9fe::1]/a.jpg', // 6to4 around 169.254.169.254
    'http://[fe80::1]/a.jpg',
    'http://[fd00::1]/a.jpg',
    'http://192.168.1.1/a.jpg',
    'http://172.16.0.1/a.jpg',
    'http://100.64.0.1/a.jpg',
  ];

  it('are refused by default, before any connection is attempted', async () => {
    const remote = await localServer((_req, _body, res) => res.end(JPG));
    let reached = 0;
    const counting = await localServer((_req, _body, res) => {
      reached++;
      res.end(JPG);
    });
    // The spy sees the engine's outbound requests: a control with private URLs allowed goes through it.
    const request = vi.spyOn(http, 'request');
    const secure = vi.spyOn(https, 'request');
    const open = await Harness.start({ limits: { allowPrivateUrls: true } });
    try {
      const task = await open.startTask('compressimage');
      expect((await open.json('POST', '/upload', { body: { json: { task, cloud_file: `${remote.url}/a.jpg` } } })).server_filename).toBeTruthy();
      expect(request).toHaveBeenCalled();
    } finally {
      await open.close();
    }
    request.mockClear();
    request.mockImplementation(() => {
      throw new Error('the engine tried to make an outbound HTTP request');
    });
    secure.mockImplementation(() => {
      throw new Error('the engine tried to make an outbound HTTPS request');
    });
    try {
      const task = await h.startTask('compressimage');
      for (const url of [...PRIVATE, `${counting.url}/a.jpg`, `https://localhost:${new URL(counting.url).port}/a.jpg`]) {
        const up = await h.call('POST', '/upload', { body: { json: { task, cloud_file: url } } });
        expect(up.status, url).toBe(400);
        expect(await up.json(), url).toEqual({
          error: { type: 'UploadError', code: 400, message: expect.any(String), param: { cloud_file: ['Cloud file rejected: The URL points to a private, loopback or link-local address'] } },
        });
      }
      const { task: t2, files } = await h.prepare('rotateimage', [['a.tiff', TIFF]]);
      for (const url of [...PRIVATE, `${counting.url}/hook`]) {
        const res = await h.call('POST', '/process', { body: { json: { task: t2, tool: 'rotateimage', files, webhook: url } } });
        expect(res.status, url).toBe(400);
        expect(await res.json(), url).toEqual({
          error: { type: 'ProcessingError', code: 400, message: expect.any(String), param: { webhook: ['Webhook rejected: The URL points to a private, loopback or link-local address'] } },
        });
      }
      expect((await h.json('GET', `/task/${t2}`)).status).toBe('TaskWaiting');
      expect(request).not.toHaveBeenCalled();
      expect(secure).not.toHaveBeenCalled();
      expect(reached).toBe(0);
    } finally {
      request.mockRestore();
      secure.mockRestore();
      await remote.close();
      await counting.close();
    }
    await healthy();
  });

  it('the address check itself', () => {
    for (const address of ['127.0.0.1', '10.0.0.1', '169.254.169.254', '::1', '::ffff:a9fe:a9fe', '::7f00:1', '2002:a9fe:a9fe::1', '2002:0a00:0001::', 'fec0::1', '0.0.0.0']) {
      expect(isNonPublicAddress(address), address).toBe(true);
    }
    for (const address of ['8.8.8.8', '2606:4700:4700::1111', '2002:0808:0808::1']) expect(isNonPublicAddress(address), address).toBe(false);
  });
});

async function walk(root: string, base = root): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(root, { withFileTypes: true }).catch(() => [])) {
    const p = path.join(root, e.name);
    if (e.isDirectory()) {
      out.push(path.relative(base, p));
      out.push(...(await walk(p, base)));
    } else out.push(path.relative(base, p));
  }
  return out;
}
