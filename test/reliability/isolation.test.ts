/**
 * Isolation: two key pairs on one engine. Neither can list, read, download, chain, upload into,
 * process or delete the other's tasks, nor use the other's server filenames — through real HTTP
 * (both ways round) and through the CLI (`tasks list/show/download/delete` with the other pair's
 * keys). Another project's task answers exactly like a task that never existed, so there is not even
 * an existence oracle.
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startEngine, tempDir } from '../helpers/cli.js';
import { Harness, corpus, signToken, type Body } from '../server/helpers.js';
import type { ProjectKeys } from '../../src/server/options.js';

const alice: ProjectKeys = { publicKey: 'project_public_alice_iso', secretKey: 'secret_key_alice_iso_0123456789abcd' };
const bob: ProjectKeys = { publicKey: 'project_public_bob_iso', secretKey: 'secret_key_bob_iso_0123456789abcdef' };
const TIFF = corpus('tiff-video-001-150x103.tiff');

interface Owned {
  keys: ProjectKeys;
  token: string;
  /** Started, one file uploaded, never processed. */
  waiting: { task: string; sf: string };
  /** Processed, with an output. */
  done: { task: string; sf: string };
}

let engine: Awaited<ReturnType<typeof startEngine>>;
let h: Harness;
let dir: string;
const owners: Record<'alice' | 'bob', Owned> = {} as never;

async function own(keys: ProjectKeys): Promise<Owned> {
  const token = await signToken(keys);
  const as = { token };
  const waiting = (await h.json('GET', '/start/rotateimage', as)).task as string;
  const upload = async (task: string) =>
    (await h.json('POST', '/upload', { ...as, body: { multipart: [['task', task], ['file', { data: TIFF, filename: `${keys.publicKey}.tiff` }]] } })).server_filename as string;
  const waitingSf = await upload(waiting);
  const done = (await h.json('GET', '/start/rotateimage', as)).task as string;
  const doneSf = await upload(done);
  await h.json('POST', '/process', { ...as, body: { json: { task: done, tool: 'rotateimage', files: [{ server_filename: doneSf, filename: 'x.tiff', rotate: 90 }] } } });
  return { keys, token, waiting: { task: waiting, sf: waitingSf }, done: { task: done, sf: doneSf } };
}

beforeAll(async () => {
  engine = await startEngine({ projects: [alice, bob], limits: { allowPrivateUrls: true } });
  h = new Harness(engine.server, alice);
  owners.alice = await own(alice);
  owners.bob = await own(bob);
  dir = await tempDir('iloveimg-isolation-');
});
afterAll(async () => {
  await engine.server.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** What the task looks like to its owner; must not change whatever the other project tries. */
async function snapshot(o: Owned) {
  const read = async (task: string) => {
    const t = await h.json('GET', `/task/${task}`, { token: o.token });
    return { status: t.status, files: t.files.map((f: { server_filename: string; status: string }) => `${f.server_filename} ${f.status}`) };
  };
  return { waiting: await read(o.waiting.task), done: await read(o.done.task) };
}

describe.each([
  ['bob', 'alice'],
  ['alice', 'bob'],
] as const)('%s against the tasks of %s, over HTTP', (attackerName, victimName) => {
  it('every endpoint answers 404 TaskNotFound, exactly as for a task that never existed, and changes nothing', async () => {
    const attacker = owners[attackerName];
    const victim = owners[victimName];
    const before = await snapshot(victim);
    const unknown = 'f'.repeat(40);
    const as = { token: attacker.token };
    const call = async (method: string, p: string, body?: Body) => {
      const res = await h.call(method, p, { ...as, body });
      return { status: res.status, body: await res.json() };
    };
    // Each request is tried on the victim's task and on an unknown id: the answers must be identical.
    const probes: [string, (task: string, sf: string) => Promise<{ status: number; body: unknown }>][] = [
      ['read', (t) => call('GET', `/task/${t}`)],
      ['download', (t) => call('GET', `/download/${t}`)],
      ['download ?token=', async (t) => {
        const res = await fetch(`${engine.server.url}/v1/download/${t}?token=${encodeURIComponent(attacker.token)}`);
        return { status: res.status, body: await res.json() };
      }],
      ['chain', (t) => call('POST', '/task/next', { json: { task: t, tool: 'compressimage' } })],
      ['upload', (t) => call('POST', '/upload', { multipart: [['task', t], ['file', { data: TIFF, filename: 'intruder.tiff' }]] })],
      ['upload a chunk', (t) => call('POST', '/upload', { multipart: [['task', t], ['chunk', '0'], ['chunks', '2'], ['file', { data: TIFF, filename: 'intruder.tiff' }]] })],
      ['upload a cloud file', (t) => call('POST', '/upload', { json: { task: t, cloud_file: `${engine.server.url}/v1/info` } })],
      ['process', (t, sf) => call('POST', '/process', { json: { task: t, tool: 'rotateimage', files: [{ server_filename: sf, filename: 'x.tiff' }] } })],
      ['delete a file', (t, sf) => call('DELETE', `/upload/${t}/${sf}`)],
      ['delete a file (POST /upload/delete)', (t, sf) => call('POST', '/upload/delete', { json: { task: t, server_filename: sf } })],
      ['delete a file (DELETE /upload)', (t, sf) => call('DELETE', '/upload', { json: { task: t, server_filename: sf } })],
      ['delete the task', (t) => call('DELETE', `/task/${t}`)],
    ];
    for (const [what, probe] of probes) {
      for (const target of [victim.waiting, victim.done]) {
        const theirs = await probe(target.task, target.sf);
        const nobody = await probe(unknown, target.sf);
        expect(theirs, `${what} ${target.task}`).toEqual({ status: 404, body: { error: expect.objectContaining({ type: 'TaskNotFound', message: 'Task not found', code: 404 }) } });
        expect(theirs, what).toEqual(nobody);
      }
    }
    // The list: the attacker's own secret lists only the attacker's tasks; the victim's secret is refused.
    const mine = await call('POST', '/task', { json: { secret_key: attacker.keys.secretKey } });
    expect(mine.status).toBe(200);
    const listed = (mine.body as { task: string }[]).map((t) => t.task);
    expect(listed).toEqual(expect.arrayContaining([attacker.waiting.task, attacker.done.task]));
    expect(listed).not.toContain(victim.waiting.task);
    expect(listed).not.toContain(victim.done.task);
    const stolen = await call('POST', '/task', { json: { secret_key: victim.keys.secretKey } });
    expect(stolen.status).toBe(401);
    expect(stolen.body).toMatchObject({ name: 'Unauthorized', status: 401 });
    // The victim's server filenames mean nothing in the attacker's own task (no cross-task file access).
    const t = (await h.json('GET', '/start/rotateimage', as)).task as string;
    const borrowed = await call('POST', '/process', { json: { task: t, tool: 'rotateimage', files: [{ server_filename: victim.waiting.sf, filename: 'x.tiff' }] } });
    expect(borrowed.status).toBe(400);
    expect(borrowed.body).toMatchObject({ error: { type: 'ProcessingError', param: [expect.objectContaining({ error: 'ServerFileNotFound' })] } });
    const stamp = (await h.json('GET', '/start/watermarkimage', as)).task as string;
    const ownSf = (await h.json('POST', '/upload', { ...as, body: { multipart: [['task', stamp], ['file', { data: TIFF, filename: 'a.tiff' }]] } })).server_filename;
    const stamped = await call('POST', '/process', {
      json: { task: stamp, tool: 'watermarkimage', files: [{ server_filename: ownSf, filename: 'a.tiff' }], elements: [{ type: 'image', image: victim.waiting.sf }] },
    });
    expect(stamped.status).toBe(400);
    // Nothing of the victim's changed, and the victim still has it all.
    expect(await snapshot(victim)).toEqual(before);
    const dl = await h.download(victim.done.task, { token: victim.token });
    expect(dl.res.status).toBe(200);
  });
});

describe('through the CLI with the other pair', () => {
  const envOf = (o: Owned) => ({ ILOVEIMG_API_URL: engine.server.url, ILOVEIMG_PUBLIC_KEY: o.keys.publicKey, ILOVEIMG_SECRET_KEY: o.keys.secretKey });

  it('tasks show/download/delete of the other project fail with TaskNotFound and reveal nothing; tasks list shows only its own', async () => {
    const bobEnv = envOf(owners.bob);
    const target = owners.alice.done.task;
    const secrets = [owners.alice.done.sf, owners.alice.keys.publicKey, 'x.tiff', 'TaskSuccess'];
    const before = await snapshot(owners.alice);

    const show = await runCli(['tasks', 'show', target], { cwd: dir, env: bobEnv });
    const showJson = await runCli(['tasks', 'show', target, '--json'], { cwd: dir, env: bobEnv });
    const out = path.join(dir, 'stolen');
    await mkdir(out);
    const download = await runCli(['tasks', 'download', target, '-o', out], { cwd: dir, env: bobEnv });
    const del = await runCli(['tasks', 'delete', target], { cwd: dir, env: bobEnv });
    const wait = await runCli(['tasks', 'wait', target, '--max-wait', '5'], { cwd: dir, env: bobEnv });
    for (const [name, res] of Object.entries({ show, showJson, download, del, wait })) {
      expect(res.code, `${name}: ${res.stderr}`).not.toBe(0);
      expect(res.stderr, name).toMatch(/not found/i);
      for (const s of secrets) {
        expect(res.stdout, name).not.toContain(s);
        expect(res.stderr, name).not.toContain(s);
      }
    }
    expect(await readdir(out)).toEqual([]);

    const list = await runCli(['tasks', 'list', '--json'], { cwd: dir, env: bobEnv });
    expect(list.code, list.stderr).toBe(0);
    const ids = (JSON.parse(list.stdout) as { task: string }[]).map((t) => t.task);
    expect(ids).toEqual(expect.arrayContaining([owners.bob.waiting.task, owners.bob.done.task]));
    expect(ids).not.toContain(owners.alice.waiting.task);
    expect(ids).not.toContain(owners.alice.done.task);

    // Alice's task is untouched, and her own CLI still reaches it.
    expect(await snapshot(owners.alice)).toEqual(before);
    const mine = await runCli(['tasks', 'show', target, '--json'], { cwd: dir, env: envOf(owners.alice) });
    expect(mine.code, mine.stderr).toBe(0);
    expect(JSON.parse(mine.stdout)).toMatchObject({ task: target, status: 'TaskSuccess' });
  });
});
