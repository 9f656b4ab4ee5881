/**
 * The one precedence, case by case: flag > environment > selected profile (--profile or
 * ILOVEIMG_PROFILE) > current profile, else `default` > embedded engine. Checked through
 * resolveSettings() and through the CLI (`config list --json`, which reports each value's source).
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProfileStore, maskSecret } from '../../src/account/config.js';
import { resolveSettings, type ConnectionFlags } from '../../src/account/connection.js';
import { expectNoSecretIn, printed, removeDir, runCli, secretKey, tempDir } from './helpers.js';
import { fixture } from '../helpers/fixtures.js';

const S = { flag: secretKey(), env: secretKey(), picked: secretKey(), current: secretKey(), deflt: secretKey() };
const URL_ = { flag: 'http://127.0.0.1:1001', env: 'http://127.0.0.1:1002', picked: 'http://127.0.0.1:1003', current: 'http://127.0.0.1:1004', deflt: 'http://127.0.0.1:1005' };

let root: string;
/** default, current (the saved current one) and picked: three full profiles. */
let full: string;
/** Only a `default` profile, and no current one saved. */
let onlyDefault: string;
/** No file at all. */
let empty: string;

beforeAll(async () => {
  root = await tempDir();
  full = path.join(root, 'full');
  onlyDefault = path.join(root, 'only-default');
  empty = path.join(root, 'empty');
  const store = await ProfileStore.open({ configDir: full });
  store.update('default', { apiUrl: URL_.deflt, publicKey: 'pk_default', secretKey: S.deflt });
  store.update('current', { apiUrl: URL_.current, publicKey: 'pk_current', secretKey: S.current });
  store.update('picked', { apiUrl: URL_.picked, publicKey: 'pk_picked', secretKey: S.picked, fileEncryptionKey: 'fek_picked_0123456789ab', outputDir: 'out/picked', concurrency: 3 });
  store.setCurrent('current');
  await store.save();
  const d = await ProfileStore.open({ configDir: onlyDefault });
  d.update('default', { apiUrl: URL_.deflt, publicKey: 'pk_default', secretKey: S.deflt });
  await d.save();
});

afterAll(async () => {
  expectNoSecretIn(printed, Object.values(S));
  await removeDir(root);
});

const ENV = { ILOVEIMG_API_URL: URL_.env, ILOVEIMG_PUBLIC_KEY: 'pk_env', ILOVEIMG_SECRET_KEY: S.env };
const FLAGS: ConnectionFlags = { apiUrl: URL_.flag, publicKey: 'pk_flag', secretKey: S.flag };

interface Case {
  name: string;
  dir: () => string;
  flags?: ConnectionFlags;
  env?: NodeJS.ProcessEnv;
  /** Expected [apiUrl, publicKey, secretKey] and their source, and the profile consulted. */
  want: { apiUrl?: string; publicKey?: string; secretKey?: string; source?: 'flag' | 'env' | 'profile'; profile: string; profileSource: string };
}

const cases: Case[] = [
  { name: 'flags beat everything', dir: () => full, flags: FLAGS, env: { ...ENV, ILOVEIMG_PROFILE: 'picked' }, want: { apiUrl: URL_.flag, publicKey: 'pk_flag', secretKey: S.flag, source: 'flag', profile: 'picked', profileSource: 'env' } },
  { name: 'the environment beats any profile', dir: () => full, env: ENV, flags: { profile: 'picked' }, want: { apiUrl: URL_.env, publicKey: 'pk_env', secretKey: S.env, source: 'env', profile: 'picked', profileSource: 'flag' } },
  { name: '--profile beats ILOVEIMG_PROFILE', dir: () => full, flags: { profile: 'picked' }, env: { ILOVEIMG_PROFILE: 'default' }, want: { apiUrl: URL_.picked, publicKey: 'pk_picked', secretKey: S.picked, source: 'profile', profile: 'picked', profileSource: 'flag' } },
  { name: 'ILOVEIMG_PROFILE beats the current profile', dir: () => full, env: { ILOVEIMG_PROFILE: 'picked' }, want: { apiUrl: URL_.picked, publicKey: 'pk_picked', secretKey: S.picked, source: 'profile', profile: 'picked', profileSource: 'env' } },
  { name: 'the current profile beats default', dir: () => full, want: { apiUrl: URL_.current, publicKey: 'pk_current', secretKey: S.current, source: 'profile', profile: 'current', profileSource: 'current' } },
  { name: 'default when no profile is current', dir: () => onlyDefault, want: { apiUrl: URL_.deflt, publicKey: 'pk_default', secretKey: S.deflt, source: 'profile', profile: 'default', profileSource: 'default' } },
  { name: 'nothing at all: no settings (the embedded engine)', dir: () => empty, want: { profile: 'default', profileSource: 'default' } },
];

describe('resolveSettings', () => {
  it.each(cases)('$name', async (c) => {
    const s = await resolveSettings({ ...c.flags }, { ...c.env, ILOVEIMG_CONFIG_DIR: c.dir() });
    expect([s.apiUrl, s.publicKey, s.secretKey]).toEqual([c.want.apiUrl, c.want.publicKey, c.want.secretKey]);
    if (c.want.source) expect(s.sources).toMatchObject({ apiUrl: c.want.source, publicKey: c.want.source, secretKey: c.want.source });
    else expect(s.sources).toEqual({});
    expect(s.profile).toMatchObject({ name: c.want.profile, source: c.want.profileSource });
  });

  it('mixes sources per setting: a flag for one, the environment for another, the profile for the rest', async () => {
    const s = await resolveSettings({ publicKey: 'pk_flag' }, { ILOVEIMG_SECRET_KEY: S.env, ILOVEIMG_CONFIG_DIR: full });
    expect(s).toMatchObject({ publicKey: 'pk_flag', secretKey: S.env, apiUrl: URL_.current, sources: { publicKey: 'flag', secretKey: 'env', apiUrl: 'profile' } });
  });

  it('the profile in use also gives the batch defaults (output dir, concurrency), and only that profile', async () => {
    expect(await resolveSettings({ profile: 'picked' }, { ILOVEIMG_CONFIG_DIR: full })).toMatchObject({ outputDir: 'out/picked', concurrency: 3 });
    const current = await resolveSettings({}, { ILOVEIMG_CONFIG_DIR: full });
    expect([current.outputDir, current.concurrency]).toEqual([undefined, undefined]);
  });

  it('--config-dir beats ILOVEIMG_CONFIG_DIR', async () => {
    const s = await resolveSettings({ configDir: onlyDefault }, { ILOVEIMG_CONFIG_DIR: full });
    expect(s.publicKey).toBe('pk_default');
  });

  it.each([
    [{ profile: 'missing' }, {}, /There is no profile named 'missing' \(--profile missing\)/],
    [{}, { ILOVEIMG_PROFILE: 'missing' }, /There is no profile named 'missing' \(ILOVEIMG_PROFILE=missing\)/],
  ])('a selected profile that does not exist is an error (%j %j)', async (flags, env, message) => {
    await expect(resolveSettings(flags, { ...env, ILOVEIMG_CONFIG_DIR: full })).rejects.toThrow(message);
  });
});

describe('config list --json shows each value with its source', () => {
  const sourceOf = (doc: { settings: { key: string; source: string | null; value: unknown }[] }, key: string) => doc.settings.find((s) => s.key === key);

  it.each(cases)('$name', async (c) => {
    const argv = ['config', 'list', '--json'];
    if (c.flags?.apiUrl) argv.push('--api-url', c.flags.apiUrl);
    if (c.flags?.publicKey) argv.push('--public-key', c.flags.publicKey);
    if (c.flags?.secretKey) argv.push('--secret-key', c.flags.secretKey);
    if (c.flags?.profile) argv.push('--profile', c.flags.profile);
    const r = await runCli(argv, { env: { ...c.env, ILOVEIMG_CONFIG_DIR: c.dir() } });
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.profile).toMatchObject({ name: c.want.profile, source: c.want.profileSource });
    if (c.want.source) {
      expect(sourceOf(doc, 'api_url')).toMatchObject({ value: c.want.apiUrl, source: c.want.source });
      expect(sourceOf(doc, 'public_key')).toMatchObject({ value: c.want.publicKey, source: c.want.source });
      expect(sourceOf(doc, 'secret_key')).toMatchObject({ value: maskSecret(c.want.secretKey), source: c.want.source });
      expect(doc.server).toEqual({ embedded: false, url: c.want.apiUrl });
    } else {
      expect(sourceOf(doc, 'public_key')).toMatchObject({ value: null, source: null });
      expect(doc.server).toEqual({ embedded: true, url: null });
    }
    expect(sourceOf(doc, 'concurrency')).toMatchObject(c.want.profile === 'picked' ? { value: 3, source: 'profile' } : { value: 6, source: 'default' });
  });

  it('names the variable or flag each value came from, in the human table too', async () => {
    const r = await runCli(['config', 'list', '--public-key', 'pk_flag'], { env: { ILOVEIMG_SECRET_KEY: S.env, ILOVEIMG_CONFIG_DIR: full, ILOVEIMG_PROFILE: 'picked' } });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^profile {2}picked \(from ILOVEIMG_PROFILE\)$/m);
    expect(r.stdout).toMatch(/^public_key\s+pk_flag\s+--public-key$/m);
    expect(r.stdout).toMatch(new RegExp(`^secret_key\\s+${maskSecret(S.env).replace('…', '…')}\\s+ILOVEIMG_SECRET_KEY$`, 'm'));
    expect(r.stdout).toMatch(/^api_url\s+http:\/\/127\.0\.0\.1:1003\s+profile picked$/m);
    expect(r.stdout).toMatch(/^file_encryption_key\s+…89ab\s+profile picked$/m);
    expect(r.stdout).toMatch(/^output_dir\s+out\/picked\s+profile picked$/m);
    expect(r.stdout).toMatch(/^concurrency\s+3\s+profile picked$/m);
  });

  it('--local: the embedded engine even with keys', async () => {
    const doc = JSON.parse((await runCli(['config', 'list', '--json', '--local'], { env: { ILOVEIMG_CONFIG_DIR: full } })).stdout);
    expect(doc.server).toEqual({ embedded: true, url: null });
  });

  it('keys without an API URL go to the cloud (the built-in default URL)', async () => {
    const doc = JSON.parse((await runCli(['config', 'list', '--json'], { env: { ILOVEIMG_CONFIG_DIR: empty, ILOVEIMG_PUBLIC_KEY: 'pk', ILOVEIMG_SECRET_KEY: S.env } })).stdout);
    expect(sourceOf(doc, 'api_url')).toMatchObject({ value: 'https://api.iloveimg.com', source: 'default' });
    expect(doc.server).toEqual({ embedded: false, url: 'https://api.iloveimg.com' });
  });

  it('an API URL without keys: the embedded engine, as a run does (one rule for both)', async () => {
    const doc = JSON.parse((await runCli(['config', 'list', '--json'], { env: { ILOVEIMG_CONFIG_DIR: empty, ILOVEIMG_API_URL: 'http://127.0.0.1:1009' } })).stdout);
    expect(sourceOf(doc, 'api_url')).toMatchObject({ value: 'http://127.0.0.1:1009', source: 'env' });
    expect(doc.server).toEqual({ embedded: true, url: null });
  });

  it('one key without its pair: config list names the server, and a run exits 4 naming the missing key', async () => {
    const env = { ILOVEIMG_CONFIG_DIR: empty, ILOVEIMG_PUBLIC_KEY: 'pk_lonely' };
    const doc = JSON.parse((await runCli(['config', 'list', '--json'], { env })).stdout);
    expect(doc.server).toEqual({ embedded: false, url: 'https://api.iloveimg.com' });
    const r = await runCli(['compress', fixture('tiff-video-001-150x103.tiff'), '-o', path.join(empty, 'out')], { env });
    expect(r.code, r.stderr).toBe(4);
    expect(r.stderr).toContain('https://api.iloveimg.com needs a key pair: the secret key is missing (the public key comes from ILOVEIMG_PUBLIC_KEY)');
  });

  it('a missing selected profile is a usage error', async () => {
    const r = await runCli(['config', 'list', '--profile', 'nope'], { env: { ILOVEIMG_CONFIG_DIR: full } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("There is no profile named 'nope'");
  });
});
