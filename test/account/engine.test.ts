/**
 * Against real engines started in-process: login refuses keys the server rejects (401, exit 4, nothing
 * saved) and saves the ones it accepts; switching profiles switches the server a command talks to;
 * quota reads /v1/info (and says so when it is the embedded engine). No secret reaches any output.
 */
import { copyFile, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../src/server/index.js';
import type { RunningServer } from '../../src/server/index.js';
import { readStoredConfig } from '../../src/account/profile-settings.js';
import { expectNoSecretIn, printed, publicKey, removeDir, runCli, secretKey, tempDir } from './helpers.js';
import { fixture } from '../helpers/fixtures.js';

const A = { publicKey: publicKey(), secretKey: secretKey() };
const B = { publicKey: publicKey(), secretKey: secretKey() };
const WRONG = secretKey();
let one: RunningServer;
let two: RunningServer;
let root: string;

const CORPUS = fixture('exif-orient6-iphone4s-205x102.jpg');

beforeAll(async () => {
  root = await tempDir();
  [one, two] = await Promise.all([
    startServer({ host: '127.0.0.1', port: 0, projects: [A] }),
    startServer({ host: '127.0.0.1', port: 0, projects: [B] }),
  ]);
});

afterAll(async () => {
  await Promise.all([one?.close(), two?.close()]);
  expectNoSecretIn(printed, [A.secretKey, B.secretKey, WRONG]);
  await removeDir(root);
});

const starts = (s: RunningServer) => s.log.filter((r) => r.path === '/v1/start/compressimage').length;

describe('login checks the keys with a real /start', () => {
  it('refuses keys the engine rejects: exit 4, nothing saved, the secret in no output (even --verbose)', async () => {
    const env = { ILOVEIMG_CONFIG_DIR: path.join(root, 'refused') };
    const before = starts(one);
    for (const extra of [[], ['--verbose'], ['--json']]) {
      const r = await runCli(['login', '--api-url', one.url, '--public-key', A.publicKey, '--secret-key', WRONG, ...extra], { env });
      expect(r.code).toBe(4);
      expect(r.stderr).toMatch(/rejected these keys \(HTTP 401/);
      expect(r.stderr).toContain('nothing was saved');
      expect(r.stdout).toBe('');
    }
    expect(starts(one)).toBeGreaterThan(before);
    expect(existsSync(path.join(root, 'refused', 'config.json'))).toBe(false);
    expect(await readStoredConfig(path.join(root, 'refused'))).toBeUndefined();
  });

  it('refuses a public key the engine does not know', async () => {
    const env = { ILOVEIMG_CONFIG_DIR: path.join(root, 'unknown') };
    const r = await runCli(['login', '--api-url', one.url, '--public-key', 'project_public_nobody', '--secret-key', A.secretKey], { env });
    expect(r.code).toBe(4);
    expect(await readStoredConfig(path.join(root, 'unknown'))).toBeUndefined();
  });

  it('saves keys the engine accepts, with the API URL, and reports the remaining files', async () => {
    const env = { ILOVEIMG_CONFIG_DIR: path.join(root, 'saved') };
    const before = starts(one);
    const r = await runCli(['login', '--api-url', one.url, '--public-key', A.publicKey, '--secret-key', A.secretKey, '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(starts(one)).toBe(before + 1);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ profile: 'default', current: true, verified: true, api_url: one.url, public_key: A.publicKey });
    expect(doc.remaining_files).toBeGreaterThan(0);
    expect((await readStoredConfig(path.join(root, 'saved')))?.profiles?.default).toEqual({ publicKey: A.publicKey, secretKey: A.secretKey, apiUrl: one.url });
  });

  it('a server that cannot be reached: exit 1, nothing saved, --no-verify suggested', async () => {
    const env = { ILOVEIMG_CONFIG_DIR: path.join(root, 'down') };
    const r = await runCli(['login', '--api-url', 'http://127.0.0.1:1', '--retries', '0', '--public-key', A.publicKey, '--secret-key', A.secretKey], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--no-verify');
    expect(await readStoredConfig(path.join(root, 'down'))).toBeUndefined();
  });
});

describe('a profile switch changes the server used', () => {
  const env = () => ({ ILOVEIMG_CONFIG_DIR: path.join(root, 'switch') });

  beforeAll(async () => {
    expect((await runCli(['login', '--profile', 'one', '--api-url', one.url, '--public-key', A.publicKey, '--secret-key', A.secretKey], { env: env() })).code).toBe(0);
    expect((await runCli(['login', '--profile', 'two', '--api-url', two.url, '--public-key', B.publicKey, '--secret-key', B.secretKey], { env: env() })).code).toBe(0);
  });

  it('quota asks the server of the profile in use', async () => {
    const info = (s: RunningServer) => s.log.filter((r) => r.path === '/v1/info').length;
    const [i1, i2] = [info(one), info(two)];
    let r = await runCli(['quota', '--json'], { env: env() }); // 'one' became current: it was saved first
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ embedded: false, server: one.url });
    expect([info(one), info(two)]).toEqual([i1 + 1, i2]);

    r = await runCli(['quota'], { env: { ...env(), ILOVEIMG_PROFILE: 'two' } });
    expect(r.stdout).toMatch(new RegExp(`^\\d+ files remaining \\(${two.url.replace(/[.]/g, '\\.')}\\)\\n$`));
    expect([info(one), info(two)]).toEqual([i1 + 1, i2 + 1]);
  });

  it('compress starts its task on the server of the selected profile, then of the new current one', async () => {
    if (!existsSync(CORPUS)) throw new Error(`missing test image ${CORPUS}`);
    const work = path.join(root, 'work');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(work, { recursive: true });
    await copyFile(CORPUS, path.join(work, 'photo.jpg'));

    const [s1, s2] = [starts(one), starts(two)];
    let r = await runCli(['compress', 'photo.jpg', '-o', 'out1', '--profile', 'two', '--json'], { env: env(), cwd: work });
    expect(r.code, r.stderr).toBe(0);
    expect([starts(one), starts(two)]).toEqual([s1, s2 + 1]);

    expect((await runCli(['profiles', 'use', 'two'], { env: env() })).code).toBe(0);
    r = await runCli(['compress', 'photo.jpg', '-o', 'out2'], { env: env(), cwd: work });
    expect(r.code, r.stderr).toBe(0);
    expect([starts(one), starts(two)]).toEqual([s1, s2 + 2]);

    expect((await runCli(['profiles', 'use', 'one'], { env: env() })).code).toBe(0);
    r = await runCli(['compress', 'photo.jpg', '-o', 'out3'], { env: env(), cwd: work });
    expect(r.code, r.stderr).toBe(0);
    expect([starts(one), starts(two)]).toEqual([s1 + 1, s2 + 2]);
    const jpeg = await readFile(path.join(work, 'out3', 'photo.jpg'));
    expect(jpeg.subarray(0, 3)).toEqual(Buffer.from([0xff, 0xd8, 0xff]));
  });
});

describe('keys the server rejects later', () => {
  it('a command with a rejected saved secret exits 4 and prints no part of it (also with --verbose and --json)', async () => {
    const env = { ILOVEIMG_CONFIG_DIR: path.join(root, 'stale') };
    expect((await runCli(['login', '--no-verify', '--api-url', one.url, '--public-key', A.publicKey, '--secret-key', WRONG], { env })).code).toBe(0);
    for (const extra of [[], ['--verbose'], ['--json']]) {
      // (the engine says "Signature verification failed", which the client retries: not here)
      const r = await runCli(['quota', '--retries', '0', ...extra], { env });
      expect(r.code).toBe(4);
      expect(r.stderr).toMatch(/401/);
    }
  });
});

describe('quota on the embedded engine', () => {
  it('says it is the embedded engine and prints its number', async () => {
    const env = { ILOVEIMG_CONFIG_DIR: path.join(root, 'none') };
    let r = await runCli(['quota'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^\d+ files remaining on the embedded engine/);
    r = await runCli(['quota', '--json'], { env });
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ embedded: true, server: null });
    expect(doc.remaining_files).toBeGreaterThan(0);
  });
});
