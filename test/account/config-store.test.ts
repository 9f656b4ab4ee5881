/**
 * The profile store: its file layout (the one profile-settings.ts reads without conf), owner-only
 * modes, masking, and the commands that change it (login --no-verify, logout, profiles, config).
 */
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { CONFIG_KEY_NAMES, maskSecret, ProfileStore } from '../../src/account/config.js';
import { loadProfileSettings, readStoredConfig } from '../../src/account/profile-settings.js';
import { buildProgram } from '../../src/cli.js';
import { expectNoSecretIn, fakeTerminal, printed, removeDir, runCli, secretKey, tempDir } from './helpers.js';

const dirs: string[] = [];
const secrets: string[] = [];
let dir: string;
let env: NodeJS.ProcessEnv;

beforeEach(async () => {
  dir = path.join(await tempDir(), 'config'); // not created yet: the first write makes it
  dirs.push(path.dirname(dir));
  env = { ILOVEIMG_CONFIG_DIR: dir };
});

afterAll(async () => {
  expectNoSecretIn(printed, secrets);
  for (const d of dirs) await removeDir(d);
});

function newSecret(): string {
  const s = secretKey();
  secrets.push(s);
  return s;
}

const mode = async (p: string) => (await stat(p)).mode & 0o777;

describe('maskSecret', () => {
  it.each([
    ['secret_key_8f2c9a0b1c2d3e4fe41d', 'secret_…e41d'],
    ['0123456789abcdefghij', '…ghij'],
    ['short', '…'],
    ['', ''],
  ])('%s → %s', (input, masked) => {
    expect(maskSecret(input)).toBe(masked);
  });
});

describe('ProfileStore', () => {
  it('writes the layout profile-settings.ts reads, file 0600 in a 0700 directory', async () => {
    const secret = newSecret();
    const store = await ProfileStore.open({ env });
    store.update('work', { publicKey: 'project_public_1', secretKey: secret, apiUrl: 'http://127.0.0.1:9', concurrency: 3 });
    store.setCurrent('work');
    await store.save();

    expect(await mode(dir)).toBe(0o700);
    expect(await mode(path.join(dir, 'config.json'))).toBe(0o600);
    expect(JSON.parse(await readFile(path.join(dir, 'config.json'), 'utf8'))).toEqual({
      currentProfile: 'work',
      profiles: { work: { publicKey: 'project_public_1', secretKey: secret, apiUrl: 'http://127.0.0.1:9', concurrency: 3 } },
    });
    expect(await readStoredConfig(dir)).toMatchObject({ currentProfile: 'work' });
    expect(await loadProfileSettings({ configDir: dir })).toMatchObject({ publicKey: 'project_public_1', concurrency: 3 });
  });

  it('tightens a directory and a file that were too open, on every write', async () => {
    await mkdir(dir, { recursive: true, mode: 0o755 });
    await chmod(dir, 0o755);
    await writeFile(path.join(dir, 'config.json'), JSON.stringify({ profiles: { default: { apiUrl: 'http://127.0.0.1:1' } } }), { mode: 0o644 });
    await chmod(path.join(dir, 'config.json'), 0o644);
    const store = await ProfileStore.open({ env });
    store.update('default', { concurrency: 2 });
    await store.save();
    expect(await mode(dir)).toBe(0o700);
    expect(await mode(path.join(dir, 'config.json'))).toBe(0o600);
    expect((await readStoredConfig(dir))?.profiles?.default).toEqual({ apiUrl: 'http://127.0.0.1:1', concurrency: 2 });
  });

  it('keeps names with dots as names (conf would read them as paths)', async () => {
    const store = await ProfileStore.open({ env });
    store.update('acme.prod', { apiUrl: 'http://127.0.0.1:2' });
    await store.save();
    expect((await readStoredConfig(dir))?.profiles).toEqual({ 'acme.prod': { apiUrl: 'http://127.0.0.1:2' } });
  });

  it('refuses profile names a shell would mangle', async () => {
    const r = await runCli(['login', '--no-verify', '--profile', 'a b', '--public-key', 'p', '--secret-key', 'secret_x'], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not a valid profile name/);
  });

  it('reports a config file that is not JSON as a usage error', async () => {
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'config.json'), '{ nope');
    const r = await runCli(['config', 'list'], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/config\.json is not valid JSON/);
  });

  it('config get/set know exactly the keys of lib/config.ts', async () => {
    const program = await buildProgram({ env: {}, cwd: '/', stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, signal: new AbortController().signal, version: '0' });
    const get = program.commands.find((c) => c.name() === 'config')!.commands.find((c) => c.name() === 'get')!;
    expect(get.registeredArguments[0].argChoices).toEqual(CONFIG_KEY_NAMES);
  });
});

describe('login (without the network check), logout, profiles', () => {
  it('login --no-verify saves the pair, makes the first profile current, never prints the secret', async () => {
    const secret = newSecret();
    const r = await runCli(['login', '--no-verify', '--public-key', 'project_public_abc', '--secret-key', secret], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`Saved the keys of project_public_abc (${maskSecret(secret)}) in profile 'default'`);
    const stored = await readStoredConfig(dir);
    expect(stored).toEqual({ currentProfile: 'default', profiles: { default: { publicKey: 'project_public_abc', secretKey: secret } } });
    expect(await mode(path.join(dir, 'config.json'))).toBe(0o600);
    expect(await mode(dir)).toBe(0o700);
  });

  it('login --profile saves under that name, with --api-url, and leaves the current profile alone', async () => {
    await runCli(['login', '--no-verify', '--public-key', 'project_public_1', '--secret-key', newSecret()], { env });
    const secret = newSecret();
    const r = await runCli(['login', '--no-verify', '--profile', 'work', '--api-url', 'http://127.0.0.1:8080/', '--public-key', 'project_public_2', '--secret-key', secret, '--json'], {
      env,
    });
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ profile: 'work', current: false, public_key: 'project_public_2', secret_key: maskSecret(secret), api_url: 'http://127.0.0.1:8080', verified: false });
    expect(r.stderr).toBe('');
    const stored = await readStoredConfig(dir);
    expect(stored?.currentProfile).toBe('default');
    expect(stored?.profiles?.work).toEqual({ publicKey: 'project_public_2', secretKey: secret, apiUrl: 'http://127.0.0.1:8080' });
  });

  it('login takes ILOVEIMG_PROFILE as the profile name', async () => {
    await runCli(['login', '--no-verify', '--public-key', 'project_public_1', '--secret-key', newSecret()], { env: { ...env, ILOVEIMG_PROFILE: 'ci' } });
    expect(Object.keys((await readStoredConfig(dir))?.profiles ?? {})).toEqual(['ci']);
  });

  it('login without a terminal and without keys is a usage error that names the flags', async () => {
    const r = await runCli(['login', '--no-verify'], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no terminal/);
    expect(r.stderr).toContain('--public-key');
    expect(r.stderr).toContain('--secret-key');
    expect(await readStoredConfig(dir)).toBeUndefined();
  });

  it('login reads the secret key piped on stdin when only --public-key is given', async () => {
    const secret = newSecret();
    const r = await runCli(['login', '--no-verify', '--public-key', 'project_public_pipe'], { env, stdin: `${secret}\n` });
    expect(r.code).toBe(0);
    expect((await readStoredConfig(dir))?.profiles?.default).toEqual({ publicKey: 'project_public_pipe', secretKey: secret });
  });

  it('login asks on a terminal, the secret without echo', async () => {
    const secret = newSecret();
    const tty = fakeTerminal();
    let answered = 0;
    const r = await runCli(['login', '--no-verify', '--profile', 'asked'], {
      env,
      stdin: tty,
      onStderr: (text) => {
        if (answered === 0 && text.includes('Public key: ')) {
          answered = 1;
          setImmediate(() => tty.write('project_public_typed\r'));
        }
        if (answered === 1 && text.includes('Secret key (input hidden): ')) {
          answered = 2;
          // typed one key at a time, as a person would
          setImmediate(async () => {
            for (const ch of secret) tty.write(ch);
            tty.write('\r');
          });
        }
      },
    });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('project_public_typed'); // the public key is echoed
    expect(r.stderr).not.toContain(secret.slice(-6));
    expect((await readStoredConfig(dir))?.profiles?.asked).toEqual({ publicKey: 'project_public_typed', secretKey: secret });
  });

  it('a secret typed ahead together with the public key is not echoed either', async () => {
    const secret = newSecret();
    const tty = fakeTerminal();
    tty.write(`project_public_fast\r${secret}\r`);
    const r = await runCli(['login', '--no-verify'], { env, stdin: tty });
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain(secret.slice(-6));
    expect((await readStoredConfig(dir))?.profiles?.default).toEqual({ publicKey: 'project_public_fast', secretKey: secret });
  });

  it('profiles list|use|remove', async () => {
    const secret = newSecret();
    await runCli(['login', '--no-verify', '--public-key', 'project_public_1', '--secret-key', secret], { env });
    await runCli(['login', '--no-verify', '--profile', 'work', '--public-key', 'project_public_2', '--secret-key', newSecret()], { env });

    let r = await runCli(['profiles', 'list'], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\* default\s+project_public_1 secret_…\w{4}/m);
    expect(r.stdout).toMatch(/^ {2}work\s+project_public_2/m);

    r = await runCli(['profiles', 'list', '--names'], { env });
    expect(r.stdout).toBe('default\nwork\n');

    r = await runCli(['profiles', 'use', 'work'], { env });
    expect(r.code).toBe(0);
    expect((await readStoredConfig(dir))?.currentProfile).toBe('work');
    r = await runCli(['profiles', 'list', '--json'], { env });
    expect(JSON.parse(r.stdout)).toMatchObject({ current: 'work', profiles: [{ name: 'default', current: false, secret_key: maskSecret(secret) }, { name: 'work', current: true }] });

    r = await runCli(['profiles', 'use', 'nope'], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("There is no profile named 'nope'");
    expect(r.stderr).toContain('Saved profiles: default, work.');

    r = await runCli(['profiles', 'remove', 'work'], { env });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("Profile 'default' is used from now on.");
    const stored = await readStoredConfig(dir);
    expect(Object.keys(stored?.profiles ?? {})).toEqual(['default']);
    expect(stored?.currentProfile).toBeUndefined();
    expect(await mode(path.join(dir, 'config.json'))).toBe(0o600);
  });

  it('logout removes the keys of the profile and keeps its other settings', async () => {
    await runCli(['login', '--no-verify', '--api-url', 'http://127.0.0.1:7', '--public-key', 'project_public_1', '--secret-key', newSecret()], { env });
    await runCli(['config', 'set', 'file_encryption_key', '0123456789abcdef'], { env });
    await runCli(['login', '--no-verify', '--profile', 'tmp', '--public-key', 'project_public_2', '--secret-key', newSecret()], { env });

    let r = await runCli(['logout'], { env });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("Removed the keys of profile 'default'");
    expect((await readStoredConfig(dir))?.profiles?.default).toEqual({ apiUrl: 'http://127.0.0.1:7' });

    r = await runCli(['logout', '--profile', 'tmp', '--json'], { env });
    expect(JSON.parse(r.stdout)).toEqual({ profile: 'tmp', removed_keys: true, removed_profile: true, config_file: path.join(dir, 'config.json') });
    expect((await readStoredConfig(dir))?.profiles?.tmp).toBeUndefined();

    r = await runCli(['logout'], { env });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("Profile 'default' has no saved keys.");
    r = await runCli(['logout', '--profile', 'ghost'], { env });
    expect(r.code).toBe(2);
  });
});

describe('config get|set|unset|path', () => {
  it('set validates and stores each key; get prints it, secrets masked', async () => {
    const secret = newSecret();
    const cases: [string, string, unknown][] = [
      ['api_url', 'http://127.0.0.1:8080/', 'http://127.0.0.1:8080'],
      ['public_key', 'project_public_9', 'project_public_9'],
      ['secret_key', secret, secret],
      ['file_encryption_key', 'abcdefghijklmnopqrstuvwx', 'abcdefghijklmnopqrstuvwx'],
      ['output_dir', 'out/small', 'out/small'],
      ['concurrency', '4', 4],
    ];
    const field: Record<string, string> = { api_url: 'apiUrl', public_key: 'publicKey', secret_key: 'secretKey', file_encryption_key: 'fileEncryptionKey', output_dir: 'outputDir', concurrency: 'concurrency' };
    for (const [key, value, stored] of cases) {
      const r = await runCli(['config', 'set', key, value], { env });
      expect(r.code, r.stderr).toBe(0);
      expect((await readStoredConfig(dir))?.profiles?.default?.[field[key] as 'apiUrl']).toEqual(stored);
    }
    expect((await runCli(['config', 'get', 'concurrency'], { env })).stdout).toBe('4\n');
    expect((await runCli(['config', 'get', 'api_url'], { env })).stdout).toBe('http://127.0.0.1:8080\n');
    expect((await runCli(['config', 'get', 'secret_key'], { env })).stdout).toBe(`${maskSecret(secret)}\n`);
    expect((await runCli(['config', 'get', 'file_encryption_key'], { env })).stdout).toBe('…uvwx\n');
    expect(JSON.parse((await runCli(['config', 'get', 'output_dir', '--json'], { env })).stdout)).toEqual({ key: 'output_dir', value: 'out/small', source: 'profile', from: 'profile default' });
    expect(await mode(path.join(dir, 'config.json'))).toBe(0o600);
  });

  it.each([
    [['config', 'set', 'concurrency', '0'], /concurrency must be a whole number from 1 to 64/],
    [['config', 'set', 'api_url', 'ftp://x'], /must be an http\(s\) URL/],
    [['config', 'set', 'file_encryption_key', 'tooshort'], /16, 24 or 32 characters long, got 8/],
    [['config', 'set', 'colour', 'red'], /invalid for argument 'key'/],
    [['config', 'set', 'api_url'], /needs a value/],
  ])('%j is refused (exit 2)', async (argv, message) => {
    const r = await runCli(argv, { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(await readStoredConfig(dir)).toBeUndefined();
  });

  it('set secret_key without a value reads it from stdin, or asks without echo on a terminal', async () => {
    const piped = newSecret();
    let r = await runCli(['config', 'set', 'secret_key'], { env, stdin: `${piped}\n` });
    expect(r.code).toBe(0);
    expect((await readStoredConfig(dir))?.profiles?.default?.secretKey).toBe(piped);

    const typed = newSecret();
    const tty = fakeTerminal();
    r = await runCli(['config', 'set', 'secret_key', '--profile', 'p2'], {
      env,
      stdin: tty,
      onStderr: (text) => {
        if (text.endsWith('(input hidden): ')) setImmediate(() => tty.write(`${typed}\r`));
      },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("Created profile 'p2'");
    expect((await readStoredConfig(dir))?.profiles?.p2?.secretKey).toBe(typed);
  });

  it('unset removes one key; get of an unset key exits 1', async () => {
    await runCli(['config', 'set', 'output_dir', 'out'], { env });
    let r = await runCli(['config', 'unset', 'output_dir'], { env });
    expect(r.code).toBe(0);
    expect((await readStoredConfig(dir))?.profiles?.default).toEqual({});
    r = await runCli(['config', 'get', 'output_dir'], { env });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('output_dir is not set');
  });

  it('path prints the file inside --config-dir or ILOVEIMG_CONFIG_DIR', async () => {
    expect((await runCli(['config', 'path'], { env })).stdout).toBe(`${path.join(dir, 'config.json')}\n`);
    const other = path.join(path.dirname(dir), 'other');
    expect((await runCli(['config', 'path', '--config-dir', other], { env })).stdout).toBe(`${path.join(other, 'config.json')}\n`);
    expect(JSON.parse((await runCli(['config', 'path', '--json'], { env })).stdout)).toEqual({ config_file: path.join(dir, 'config.json'), config_dir: dir, exists: false });
  });
});
