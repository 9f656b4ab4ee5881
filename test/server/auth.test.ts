/** Authentication (docs/protocol.md §2) and project isolation. */
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimSeconds } from '../../src/server/auth.js';
import { Harness, corpus, noneToken, signToken } from './helpers.js';

const alice = { publicKey: 'project_public_alice', secretKey: 'secret_key_alice_0123456789abcdef' };
const bob = { publicKey: 'project_public_bob', secretKey: 'secret_key_bob_0123456789abcdef00' };

let h: Harness;
beforeAll(async () => {
  h = await Harness.start({ projects: [alice, bob] });
});
afterAll(() => h.close());

const now = () => Math.floor(Date.now() / 1000);

async function expect401(token: string | null, message: RegExp): Promise<void> {
  const res = await h.call('GET', '/start/compressimage', { token });
  expect(res.status).toBe(401);
  const body = await res.json();
  expect(body).toEqual({ name: 'Unauthorized', message: expect.stringMatching(message), code: 0, status: 401 });
}

describe('refused tokens → 401 in the framework shape', () => {
  it('no token', () => expect401(null, /credentials/));
  it('garbage', () => expect401('not-a-jwt', /segments/));
  it('wrong secret', async () => expect401(await signToken({ ...alice, secretKey: 'secret_key_wrong' }), /^Signature verification failed$/));
  it('unknown public key in jti', async () => expect401(await signToken({ ...alice, publicKey: 'project_public_nobody' }), /public key/));
  it('alg none', () => expect401(noneToken({ jti: alice.publicKey }), /Algorithm/));
  it('another algorithm (HS512)', async () => expect401(await signToken(alice, {}, 'HS512'), /Algorithm/));
  it('expired', async () => expect401(await signToken(alice, { exp: now() - 10 }), /^Expired token$/));
  it('issued clearly in the future', async () => expect401(await signToken(alice, { iat: now() + 3600, nbf: undefined }), /prior to/));
  it('not valid before a future nbf', async () => expect401(await signToken(alice, { nbf: now() + 3600 }), /prior to/));
});

describe('accepted tokens', () => {
  const ok = async (token: string) => expect((await h.call('GET', '/start/compressimage', { token })).status).toBe(200);

  it('PHP style: back-dated iat/nbf, empty iss/aud', async () => ok(await signToken(alice)));
  it('js-core style: float iat, no exp, iss api.ilovepdf.com', async () =>
    ok(await signToken(alice, { iat: Date.now() / 1000 - 5, nbf: undefined, exp: undefined, iss: 'api.ilovepdf.com', aud: undefined })));
  it('.NET style: ISO date strings for iat/nbf/exp', async () => {
    const iso = (s: number) => new Date(s * 1000).toISOString();
    await ok(await signToken(alice, { iat: iso(now() - 60) as never, nbf: iso(now() - 60) as never, exp: iso(now() + 5400) as never }));
  });
  it('iss = public key when jti is absent', async () =>
    ok(
      await new SignJWT({ iss: alice.publicKey, iat: now() })
        .setProtectedHeader({ alg: 'HS256' })
        .sign(new TextEncoder().encode(alice.secretKey)),
    ));
  it('a small future skew is tolerated', async () => ok(await signToken(alice, { iat: now() + 60, nbf: now() + 60 })));

  it('reads date claims in every spelling', () => {
    expect(claimSeconds(1700000000.5)).toBe(1700000000.5);
    expect(claimSeconds('1700000000')).toBe(1700000000);
    expect(claimSeconds('2023-11-14T22:13:20Z')).toBe(1700000000);
    expect(claimSeconds('/Date(1700000000000)/')).toBe(1700000000);
    expect(claimSeconds('soon')).toBeUndefined();
  });
});

describe('POST /auth', () => {
  it('issues a token that works, signed for that project, valid for 2 h', async () => {
    const { token } = await h.json('POST', '/auth', { token: null, body: { json: { public_key: bob.publicKey } } });
    const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
    expect(claims.jti).toBe(bob.publicKey);
    expect(claims.exp - claims.iat).toBe(7200);
    const task = await h.json('GET', '/start/rotateimage', { token });
    expect(task.task).toBeTruthy();
  });

  it('also takes a form body, and refuses an unknown public key with 401', async () => {
    expect((await h.json('POST', '/auth', { token: null, body: { form: { public_key: alice.publicKey } } })).token).toBeTruthy();
    const res = await h.call('POST', '/auth', { token: null, body: { json: { public_key: 'project_public_nobody' } } });
    expect(res.status).toBe(401);
    expect((await res.json()).name).toBe('Unauthorized');
  });
});

describe('isolation: another project sees nothing of a task', () => {
  it('404 TaskNotFound on every endpoint', async () => {
    const { task, files } = await h.prepare('resizeimage', [['a.jpg', corpus('tiff-video-001-150x103.tiff')]]);
    await h.process({ task, tool: 'resizeimage', files, percentage: 50 });
    const bobToken = await signToken(bob);
    const asBob = async (method: string, path: string, body?: unknown) => {
      const res = await h.call(method, path, { token: bobToken, body: body ? { json: body } : undefined });
      return { status: res.status, body: await res.json() };
    };
    const notFound = { status: 404, body: { error: expect.objectContaining({ type: 'TaskNotFound', code: 404 }) } };
    expect(await asBob('GET', `/task/${task}`)).toEqual(notFound);
    expect(await asBob('GET', `/download/${task}`)).toEqual(notFound);
    expect(await asBob('POST', '/process', { task, tool: 'resizeimage', files, percentage: 50 })).toEqual(notFound);
    expect(await asBob('POST', '/task/next', { task, tool: 'compressimage' })).toEqual(notFound);
    expect(await asBob('DELETE', `/upload/${task}/${files[0].server_filename}`)).toEqual(notFound);
    expect(await asBob('DELETE', `/task/${task}`)).toEqual(notFound);
    const upload = await h.call('POST', '/upload', {
      token: bobToken,
      body: { multipart: [['task', task], ['file', { data: Buffer.from('x'), filename: 'x.jpg' }]] },
    });
    expect(upload.status).toBe(404);
    const list = await asBob('POST', '/task', { secret_key: bob.secretKey });
    expect(list.body.map((t: { task: string }) => t.task)).not.toContain(task);
    // Bob cannot list with Alice's secret either.
    expect((await asBob('POST', '/task', { secret_key: alice.secretKey })).status).toBe(401);
    // And Alice still has it all.
    expect((await h.json('GET', `/task/${task}`)).status).toBe('TaskSuccess');
  });
});

describe('remembered signatures (a batch sends one token thousands of times)', () => {
  it('a token accepted once is accepted again, and still refused by a project with another secret', async () => {
    const { verifyToken } = await import('../../src/server/auth.js');
    const token = await signToken(alice);
    const projects = new Map([[alice.publicKey, alice]]);
    expect((await verifyToken(token, projects)).project).toBe(alice);
    expect((await verifyToken(token, projects)).project).toBe(alice);
    const impostor = new Map([[alice.publicKey, { ...alice, secretKey: 'secret_key_other_0123456789abcd' }]]);
    await expect(verifyToken(token, impostor)).rejects.toThrow(/^Signature verification failed$/);
  });

  it('checks the time claims on every request: a remembered token that has since expired is refused', async () => {
    const { verifyToken } = await import('../../src/server/auth.js');
    const exp = now() + 60;
    const token = await signToken(alice, { exp });
    const projects = new Map([[alice.publicKey, alice]]);
    await verifyToken(token, projects);
    await expect(verifyToken(token, projects, exp + 1)).rejects.toThrow(/^Expired token$/);
  });
});
