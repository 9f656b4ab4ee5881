/**
 * `serve` against hostile clients (issue 13, cases 8 and 9): tokens whose `exp` cannot be read or
 * whose `?token=` link would live too long; images that are small on the wire and huge in memory
 * (a 32 kB 1-bit PNG of 16000×16000, animations with many frames); one project flooding the
 * processing slots; more connections than the cap.
 */
import { SignJWT } from 'jose';
import net from 'node:net';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DecodeBudget } from '../../src/server/decode-budget.js';
import { Semaphore } from '../../src/concurrency/semaphore.js';
import { DEFAULT_LIMITS } from '../../src/server/options.js';
import { DOWNLOAD_TOKEN_MAX_LIFETIME } from '../../src/server/auth.js';
import { Harness, signToken } from './helpers.js';

const alice = { publicKey: 'project_public_alice_serve', secretKey: 'secret_key_alice_serve_0123456789' };
const now = () => Math.floor(Date.now() / 1000);

let h: Harness;
beforeAll(async () => {
  h = await Harness.start({ projects: [alice], limits: { maxConnections: 8 } });
});
afterAll(() => h?.close());

/** A PNG of `width`×`height` 1-bit grey pixels, all black: a few kB on the wire, width×height bytes and more decoded. */
function pngBomb(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body) >>> 0);
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.writeUInt8(1, 8); // bit depth 1
  ihdr.writeUInt8(0, 9); // greyscale
  const row = Buffer.alloc(1 + Math.ceil(width / 8)); // filter 0, then zeros
  const raw = Buffer.alloc(row.length * height); // all zeros
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}

async function processOne(harness: Harness, tool: string, name: string, data: Buffer, extra: Record<string, unknown> = {}) {
  const { task, files } = await harness.prepare(tool, [[name, data]]);
  // A task whose only file failed is answered 400; the task resource tells the file's status either way.
  const res = await harness.call('POST', '/process', { body: { json: { task, tool, files, ...extra } } });
  const resource = await harness.json('GET', `/task/${task}`);
  return { task, res, file: resource.files[0] as { status: string; status_message: string } };
}

describe('case 8: tokens', () => {
  const signed = (claims: Record<string, unknown>) =>
    new SignJWT({ jti: alice.publicKey, ...claims }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(alice.secretKey));

  it('an unreadable exp ("never") is refused, in the header and as ?token=', async () => {
    const token = await signed({ iat: now(), exp: 'never' });
    const res = await h.call('GET', '/start/rotateimage', { token });
    expect(res.status).toBe(401);
    expect((await res.json()).message).toMatch(/Unreadable exp/);
    expect((await fetch(`${h.url('/download/whatever')}?token=${token}`)).status).toBe(401);
  });

  it('a ?token= link lives at most DOWNLOAD_TOKEN_MAX_LIFETIME; one without exp is refused', async () => {
    const { task, files } = await h.prepare('rotateimage', [['a.png', await sharp({ create: { width: 8, height: 8, channels: 3, background: '#00f' } }).png().toBuffer()]]);
    await h.process({ task, tool: 'rotateimage', files });
    const link = async (token: string) => (await fetch(`${h.url(`/download/${task}`)}?token=${token}`)).status;
    expect(await link(await signToken(alice))).toBe(200); // PHP-style: back-dated iat, exp 4 h later
    expect(await link(await signed({ iat: now(), exp: now() + DOWNLOAD_TOKEN_MAX_LIFETIME }))).toBe(200);
    expect(await link(await signed({ iat: now(), exp: now() + 30 * 86400 }))).toBe(401);
    expect(await link(await signed({ iat: now() - 86400 * 365, exp: now() + 3600 }))).toBe(401);
    expect(await link(await signed({ iat: now() }))).toBe(401);
    // The header is unchanged: js-core signs without exp.
    expect((await h.call('GET', `/task/${task}`, { token: await signed({ iat: now() }) })).status).toBe(200);
  });
});

describe('case 9: decode memory, fairness, connections', () => {
  it('a 32 kB PNG of 16000×16000 is refused before decoding, under the stated cap; the server stays well', async () => {
    const bomb = pngBomb(16000, 16000);
    expect(bomb.length).toBeLessThan(40_000);
    const before = process.resourceUsage().maxRSS;
    const { file } = await processOne(h, 'rotateimage', 'bomb.png', bomb, { rotate: 90 });
    expect(file.status).toBe('DamagedFile');
    expect(file.status_message).toMatch(/would need about 2048 MB to decode, more than this server's decode memory cap of 1000 MB/);
    // Not decoded: the peak RSS of this process grew by far less than the image's decoded size.
    expect((process.resourceUsage().maxRSS - before) / 1024).toBeLessThan(200);
    // A normal image on the same server still succeeds.
    const ok = await processOne(h, 'rotateimage', 'ok.png', await sharp({ create: { width: 64, height: 48, channels: 3, background: '#0f0' } }).png().toBuffer());
    expect(ok.file.status).toBe('FileSuccess');
  });

  it("an animation's frames are counted: the same frame size passes alone and is refused ×30", async () => {
    const small = await Harness.start({ projects: [alice], limits: { maxDecodeBytes: 50_000_000 } });
    try {
      const frame = { width: 500, height: 500, channels: 3 as const, background: '#f80' };
      const still = await sharp({ create: frame }).gif().toBuffer();
      // Each frame a different grey, so that no encoder merges them.
      const pixels = Buffer.concat(Array.from({ length: 30 }, (_, i) => Buffer.alloc(500 * 500 * 3, i * 8)));
      const anim = await sharp(pixels, { raw: { width: 500, height: 500 * 30, channels: 3, pageHeight: 500 } }).gif().toBuffer();
      expect((await sharp(anim).metadata()).pages).toBe(30);
      expect((await processOne(small, 'compressimage', 'still.gif', still)).file.status).toBe('FileSuccess');
      const refused = await processOne(small, 'compressimage', 'anim.gif', anim);
      expect(refused.file).toMatchObject({ status: 'DamagedFile', status_message: expect.stringMatching(/decode memory cap of 50 MB/) });
    } finally {
      await small.close();
    }
  });

  it('decode memory is reserved first come, first served, never over the budget', async () => {
    const budget = new DecodeBudget(100);
    const order: string[] = [];
    const a = await budget.reserve(60, 'a');
    const b = budget.reserve(60, 'b').then((release) => (order.push('b'), release));
    const c = budget.reserve(30, 'c').then((release) => (order.push('c'), release));
    await new Promise((r) => setTimeout(r, 20));
    expect(order).toEqual([]); // c would fit, but b came first
    a();
    (await b)();
    (await c)();
    expect(order).toEqual(['b', 'c']);
    await expect(budget.reserve(101, 'huge.png')).rejects.toThrow(/huge.png would need/);
  });

  it('processing slots go to the projects in turn: a flood from one does not starve another', async () => {
    const slots = new Semaphore(1);
    const served: string[] = [];
    const first = await slots.acquire('flood');
    const jobs = [...Array.from({ length: 5 }, (_, i) => ['flood', i] as const), ['other', 0] as const].map(async ([who, i]) => {
      const release = await slots.acquire(who);
      served.push(`${who}${i}`);
      await new Promise((r) => setTimeout(r, 1));
      release();
    });
    first();
    await Promise.all(jobs);
    expect(served.indexOf('other0')).toBeLessThanOrEqual(1);
  });

  it('connections past the cap are closed at once; the shorter timeouts are the defaults', async () => {
    expect(DEFAULT_LIMITS).toMatchObject({ headersTimeoutSeconds: 20, requestTimeoutSeconds: 300, maxConnections: 512, maxDecodeBytes: 1_000_000_000 });
    const idle: net.Socket[] = [];
    for (let i = 0; i < 8; i++) {
      const s = net.connect(h.srv.port, '127.0.0.1');
      await new Promise((r) => s.once('connect', r));
      idle.push(s);
    }
    try {
      const extra = net.connect(h.srv.port, '127.0.0.1');
      const closed = await new Promise<boolean>((resolve) => {
        extra.on('error', () => undefined);
        extra.once('close', () => resolve(true));
        setTimeout(() => resolve(false), 5000);
      });
      expect(closed).toBe(true);
    } finally {
      for (const s of idle) s.destroy();
    }
    // Once they are gone, requests are served again.
    await new Promise((r) => setTimeout(r, 100));
    expect((await h.call('GET', '/start/rotateimage')).status).toBe(200);
  });
});
