/**
 * The CLI against a malicious server (issue cases 1–7): test/helpers/evil-api.ts speaks just enough of
 * the API and turns evil one behaviour at a time; each test runs the built binary and asserts the safe
 * outcome — nothing written outside the destination or as a dot-file, memory flat under bombs
 * (peak RSS measured with test/helpers/maxrss.cjs), a non-image reported failed, no escape byte and no
 * secret printed, no temporary directory left after a hard exit, one bad file failing alone.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { gzipBomb, zipBomb } from '../helpers/bombs.js';
import { BIN, ROOT, runCli, tempDir } from '../helpers/cli.js';
import { startEvilApi, tree, type EvilApi } from '../helpers/evil-api.js';

const SECRET = 'secret_key_hostile_client_0123456789abcdef';
const JPEG_HEAD = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00]);
const MB = 1024 * 1024;

let api: EvilApi;
let jpeg: Buffer;
let work: string;
let tmp: string;

const env = (extra: Record<string, string> = {}) => ({ ILOVEIMG_API_URL: api.url, ILOVEIMG_PUBLIC_KEY: 'project_public_hostile', ILOVEIMG_SECRET_KEY: SECRET, TMPDIR: tmp, ...extra });

beforeAll(async () => {
  api = await startEvilApi();
  jpeg = await sharp({ create: { width: 16, height: 12, channels: 3, background: '#0a0' } }).jpeg().toBuffer();
  work = await tempDir('iloveimg-evil-');
  tmp = path.join(work, 'tmp');
  await mkdir(tmp);
});
afterAll(() => api?.close());
beforeEach(() => {
  for (const k of Object.keys(api.evil)) delete (api.evil as Record<string, unknown>)[k];
});

/** A fresh folder with `names` as small JPEG inputs. */
async function inputs(names: string[]): Promise<string> {
  const dir = await tempDir('iloveimg-evil-run-');
  for (const n of names) {
    await mkdir(path.dirname(path.join(dir, n)), { recursive: true });
    await writeFile(path.join(dir, n), jpeg);
  }
  return dir;
}

/** Runs the CLI with its peak RSS recorded; returns the result and the peak in MB. */
async function measured(args: string[], cwd: string) {
  const rssFile = path.join(cwd, 'maxrss.txt');
  const res = await runCli(args, { cwd, env: env({ NODE_OPTIONS: `--require ${path.join(ROOT, 'test/helpers/maxrss.cjs')}`, MAXRSS_FILE: rssFile }) });
  return { res, rssMb: Number(await readFile(rssFile, 'utf8')) / 1024 };
}

const leftovers = async () => (await readdir(tmp)).filter((n) => n.startsWith('iloveimg-'));

describe('case 1: tasks download writes only plain, non-dot files directly under the destination', () => {
  it('a zip of .ssh/authorized_keys, .bash_profile, … in a home directory plants nothing', async () => {
    const home = await inputs([]);
    const before = await tree(home);
    const t = api.makeTask('rotateimage');
    const planted = ['.ssh/authorized_keys', '.bash_profile', '.config/autostart/x.desktop', '.git/hooks/pre-commit', 'ok.jpg'];
    api.evil.download = { kind: 'zip', entries: Object.fromEntries(planted.map((n) => [n, jpeg])) };
    const res = await runCli(['tasks', 'download', t.id, '--json'], { cwd: home, env: env() });
    expect(res.code, res.stderr).toBe(0);
    // Without -o: a new folder named after the task, holding one plain file per entry.
    const added = (await tree(home)).filter((p) => !before.includes(p));
    expect(added.every((p) => p === `${t.id}/` || p.startsWith(`${t.id}/`))).toBe(true);
    const files = added.filter((p) => p !== `${t.id}/`).map((p) => p.slice(t.id.length + 1));
    expect(files.sort()).toEqual(['authorized_keys', 'bash_profile', 'ok.jpg', 'pre-commit', 'x.desktop']);
    for (const f of files) expect((await lstat(path.join(home, t.id, f))).isFile()).toBe(true);
  });

  it('Content-Disposition: filename=".bashrc" writes out/bashrc, and a reserved name is renamed', async () => {
    for (const [name, expected] of [['.bashrc', 'bashrc'], ['CON.jpg', '_CON.jpg']]) {
      const dir = await inputs([]);
      const t = api.makeTask('rotateimage');
      api.evil.download = { kind: 'raw', body: jpeg, headers: { 'content-disposition': `attachment; filename="${name}"` } };
      const res = await runCli(['tasks', 'download', t.id, '-o', 'out'], { cwd: dir, env: env() });
      expect(res.code, res.stderr).toBe(0);
      expect(await tree(path.join(dir, 'out'))).toEqual([expected]);
    }
  });
});

describe('case 6: a symbolic link below out/ is never followed', () => {
  it('tasks download: a link at a destination is replaced, not written through; a linked task folder is refused', async () => {
    const dir = await inputs([]);
    const victim = path.join(dir, 'victim.txt');
    await writeFile(victim, 'keep');
    await mkdir(path.join(dir, 'out'));
    await symlink(victim, path.join(dir, 'out', 'ok.jpg'));
    const t = api.makeTask('rotateimage');
    api.evil.download = { kind: 'raw', body: jpeg, headers: { 'content-disposition': 'attachment; filename="ok.jpg"' } };
    const res = await runCli(['tasks', 'download', t.id, '-o', 'out', '--on-conflict', 'overwrite'], { cwd: dir, env: env() });
    expect(res.code, res.stderr).toBe(0);
    expect(await readFile(victim, 'utf8')).toBe('keep');
    expect((await lstat(path.join(dir, 'out', 'ok.jpg'))).isFile()).toBe(true);
    // Without -o the folder is named after the task; a link of that name is not followed.
    await symlink(path.join(dir, 'out'), path.join(dir, t.id));
    const linked = await runCli(['tasks', 'download', t.id], { cwd: dir, env: env() });
    expect(linked.code).not.toBe(0);
    expect(linked.stderr).toMatch(/is not a folder; pass -o DIR/);
  });

  it('out/sub → a folder outside: that file fails, nothing is written there, the others are written', async () => {
    const dir = await inputs(['in/sub/a.jpg', 'in/b.jpg']);
    const outside = path.join(dir, 'outside');
    await mkdir(path.join(dir, 'out'), { recursive: true });
    await mkdir(outside);
    await symlink(outside, path.join(dir, 'out', 'sub'));
    const res = await runCli(['rotate', 'in/**/*.jpg', '--rotate', '90', '-o', 'out', '-j', '1', '--json'], { cwd: dir, env: env() });
    expect(res.code).toBe(3);
    expect(await readdir(outside)).toEqual([]);
    const files = JSON.parse(res.stdout).files as { input: string; status: string; error?: { message: string } }[];
    expect(files.find((f) => f.input.endsWith('a.jpg'))).toMatchObject({ status: 'failed', error: { message: expect.stringMatching(/symbolic link/) } });
    expect(files.find((f) => f.input.endsWith('b.jpg'))?.status).toBe('ok');
    expect(await readFile(path.join(dir, 'out', 'b.jpg'))).toEqual(jpeg);
  });
});

describe('case 2: bounded, streamed downloads; every result sniffed', () => {
  it('a zip of two 1 GiB entries: both files failed, nothing written, peak RSS < 200 MB', async () => {
    const dir = await inputs(['a.jpg', 'b.jpg']);
    api.evil.download = { kind: 'raw', body: await zipBomb(['a.jpg', 'b.jpg'], JPEG_HEAD, 1024 * MB), headers: { 'content-type': 'application/zip' } };
    const { res, rssMb } = await measured(['rotate', 'a.jpg', 'b.jpg', '--rotate', '90', '-o', 'out', '-j', '1', '--json'], dir);
    const files = JSON.parse(res.stdout).files as { status: string; error?: { type: string } }[];
    expect(files.map((f) => [f.status, f.error?.type])).toEqual([
      ['failed', 'ResultTooLarge'],
      ['failed', 'ResultTooLarge'],
    ]);
    expect(existsSync(path.join(dir, 'out', 'a.jpg'))).toBe(false);
    expect(rssMb).toBeLessThan(200);
    expect(await leftovers()).toEqual([]);
    console.log(`zip bomb: peak RSS ${rssMb.toFixed(0)} MB`);
  });

  it('a gzip Content-Encoding bomb (→ 1 GiB) on the download: failed, peak RSS < 200 MB', async () => {
    const dir = await inputs(['a.jpg']);
    api.evil.download = { kind: 'raw', body: await gzipBomb(JPEG_HEAD, 1024 * MB), headers: { 'content-encoding': 'gzip', 'content-type': 'image/jpeg' } };
    const { res, rssMb } = await measured(['rotate', 'a.jpg', '--rotate', '90', '-o', 'out', '--json'], dir);
    expect(JSON.parse(res.stdout).files[0]).toMatchObject({ status: 'failed', error: { message: expect.stringMatching(/larger than/) } });
    expect(existsSync(path.join(dir, 'out', 'a.jpg'))).toBe(false);
    expect(rssMb).toBeLessThan(200);
    console.log(`gzip bomb: peak RSS ${rssMb.toFixed(0)} MB`);
  });

  it('a gzip bomb answering /start (→ 512 MiB of "JSON") is refused, peak RSS < 200 MB', async () => {
    const dir = await inputs(['a.jpg']);
    api.evil.start = { body: await gzipBomb(Buffer.from('{"task":"'), 512 * MB), headers: { 'content-encoding': 'gzip' } };
    const { res, rssMb } = await measured(['rotate', 'a.jpg', '--rotate', '90', '-o', 'out'], dir);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/larger than \d+ bytes/);
    expect(rssMb).toBeLessThan(200);
    console.log(`/start gzip bomb: peak RSS ${rssMb.toFixed(0)} MB`);
  });

  it('a result that is not an image is a failed file, not written', async () => {
    const dir = await inputs(['a.jpg']);
    api.evil.download = { kind: 'raw', body: Buffer.from('{"error":{"type":"x","message":"not an image"}}\n') };
    const res = await runCli(['rotate', 'a.jpg', '--rotate', '90', '-o', 'out', '--json'], { cwd: dir, env: env() });
    expect(res.code).not.toBe(0);
    expect(JSON.parse(res.stdout).files[0]).toMatchObject({ status: 'failed', error: { type: 'NotAnImage', message: expect.stringMatching(/not an image/) } });
    // out/ is created and probed before the first upload (README "Outputs"); no file may land in it.
    expect(existsSync(path.join(dir, 'out')) ? readdirSync(path.join(dir, 'out')) : []).toEqual([]);
  });

  it('tasks download: a non-image result, and a non-image zip entry, are failed files, not written', async () => {
    const dir = await inputs([]);
    const t = api.makeTask('rotateimage');
    api.evil.download = { kind: 'zip', entries: { 'good.jpg': jpeg, 'evil.jpg': Buffer.from('#!/bin/sh\nrm -rf ~\n') } };
    let res = await runCli(['tasks', 'download', t.id, '-o', 'out', '--json'], { cwd: dir, env: env() });
    expect(res.code).toBe(3);
    expect(JSON.parse(res.stdout).files).toMatchObject([
      { name: 'good.jpg', status: 'ok' },
      { name: 'evil.jpg', status: 'failed', error: expect.stringMatching(/not an image/) },
    ]);
    expect(await tree(path.join(dir, 'out'))).toEqual(['good.jpg']);
    api.evil.download = { kind: 'raw', body: Buffer.from('<html>hello</html>'), headers: { 'content-disposition': 'attachment; filename="x.jpg"' } };
    res = await runCli(['tasks', 'download', t.id, '-o', 'out2', '--json'], { cwd: dir, env: env() });
    expect(res.code).toBe(3);
    expect(JSON.parse(res.stdout).files).toMatchObject([{ status: 'failed', error: expect.stringMatching(/not an image/) }]);
    expect(await tree(path.join(dir, 'out2'))).toEqual([]);
  });

  it('a download redirected to another origin is refused before that origin is asked', async () => {
    const asked: string[] = [];
    const other = http.createServer((req, res) => {
      asked.push(req.url ?? '');
      res.end('{"status":"this is not your image at all"}');
    });
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    try {
      const dir = await inputs(['a.jpg']);
      api.evil.download = { kind: 'redirect', location: `http://127.0.0.1:${(other.address() as AddressInfo).port}/x.jpg` };
      const res = await runCli(['rotate', 'a.jpg', '--rotate', '90', '-o', 'out', '--json'], { cwd: dir, env: env() });
      expect(JSON.parse(res.stdout).files[0]).toMatchObject({ status: 'failed', error: { message: expect.stringMatching(/redirected to another origin/) } });
      expect(asked).toEqual([]);
      // out/ is created and probed before the first upload (README "Outputs"); no file may land in it.
    expect(existsSync(path.join(dir, 'out')) ? readdirSync(path.join(dir, 'out')) : []).toEqual([]);
    } finally {
      other.close();
    }
  });
});

describe('cases 3 and 4: no escape sequence and no secret is printed', () => {
  const ESC = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;
  it('a server error full of terminal escapes is printed clean, in human and --json modes', async () => {
    api.evil.errorText = 'bad \u001b[2J\u001b]0;pwned\u0007\u001b[31mred\u009b31m file';
    api.evil.failRoute = 'POST /v1/process';
    const dir = await inputs(['a.jpg']);
    for (const mode of [[], ['--json'], ['--ndjson']]) {
      const res = await runCli(['rotate', 'a.jpg', '--rotate', '90', '-o', 'out', ...mode], { cwd: dir, env: env() });
      expect(res.code).not.toBe(0);
      expect(res.stdout + res.stderr).toMatch(/bad .*pwned.*red/);
      expect(res.stderr.replace(/\n/g, '')).not.toMatch(ESC);
      expect(res.stdout.replace(/\n/g, '')).not.toMatch(/[\u0080-\u009f]/);
      expect(res.stdout).not.toContain('\u001b');
    }
  });

  it('tasks list (human and --json) never prints the secret key a server echoes', async () => {
    api.evil.echoSecret = true;
    api.makeTask('rotateimage');
    const dir = await inputs([]);
    for (const mode of [[], ['--json']]) {
      // runCli itself fails the test when a secret reaches any output (test/helpers/secrets.ts).
      const res = await runCli(['tasks', 'list', ...mode], { cwd: dir, env: env() });
      expect(res.code, res.stderr).toBe(0);
      expect(res.stdout).not.toContain(SECRET);
      if (mode.length) expect(JSON.parse(res.stdout)[0].status_message).toBe('you sent [redacted]');
    }
  });

  it('a 401 echoing the Authorization header does not print the token', async () => {
    api.evil.echoAuthorization = true;
    const dir = await inputs(['a.jpg']);
    for (const args of [['tasks', 'list'], ['tasks', 'list', '--json'], ['rotate', 'a.jpg', '--rotate', '90', '--json']]) {
      const res = await runCli(args, { cwd: dir, env: env() });
      expect(res.code).toBe(4);
      expect(res.stdout + res.stderr).toContain('[redacted token]');
      expect(res.stdout + res.stderr).not.toMatch(/eyJ[\w-]+\.[\w-]+/);
    }
  });
});

/** Spawns the CLI and hard-exits it (two SIGINTs) once `ready()` holds. */
function hardExit(args: string[], cwd: string, runEnv: Record<string, string>, ready: () => boolean): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, NO_COLOR: '1', ...runEnv }, stdio: 'ignore' });
    const poll = setInterval(() => {
      if (!ready()) return;
      clearInterval(poll);
      child.kill('SIGINT');
      setTimeout(() => child.kill('SIGINT'), 300);
    }, 25);
    child.on('close', (code) => {
      clearInterval(poll);
      resolve(code);
    });
  });
}

describe('case 5: a hard exit (second Ctrl-C) leaves no temporary directory', () => {
  it('a partial download in $TMPDIR/iloveimg-dl-* is removed', async () => {
    const dir = await inputs(['a.jpg']);
    api.evil.download = { kind: 'stall', head: jpeg };
    const downloads = () => api.requests.filter((r) => r.startsWith('GET /v1/download')).length;
    const before = downloads();
    let sawTemp = false;
    const code = await hardExit(['rotate', 'a.jpg', '--rotate', '90', '-o', 'out'], dir, env(), () => {
      sawTemp ||= readdirSync(tmp).some((n) => n.startsWith('iloveimg-dl-'));
      return downloads() > before && sawTemp;
    });
    expect(code).toBe(130);
    expect(sawTemp).toBe(true);
    expect(await leftovers()).toEqual([]);
  });

  it("the embedded engine's $TMPDIR/iloveimg-engine-* is removed", async () => {
    const dir = await inputs([]);
    await sharp({ create: { width: 3000, height: 3000, channels: 3, background: '#888', noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).png().toFile(path.join(dir, 'big.png'));
    const engineTmp = path.join(work, 'tmp-engine');
    await mkdir(engineTmp);
    const engineDirs = () => readdirSync(engineTmp).filter((n) => n.startsWith('iloveimg-engine-')).length;
    const code = await hardExit(['upscale', 'big.png', '--multiplier', '4', '-o', 'out', '--local'], dir, { TMPDIR: engineTmp }, () => engineDirs() > 0);
    expect(code).toBe(130);
    expect((await readdir(engineTmp)).filter((n) => n.startsWith('iloveimg-'))).toEqual([]);
  });
});

describe('case 7: a file, not a group, is the unit of failure', () => {
  it('a process request that keeps failing on one file: the group is split, only that file fails', async () => {
    const dir = await inputs(['a.jpg', 'b.jpg', 'bad.jpg', 'c.jpg', 'd.jpg']);
    api.evil.processFailsFor = 'bad.jpg';
    const res = await runCli(['rotate', '*.jpg', '--rotate', '90', '-o', 'out', '-j', '1', '--retries', '0', '--json'], { cwd: dir, env: env() });
    expect(res.code).toBe(3);
    const files = JSON.parse(res.stdout).files as { input: string; status: string }[];
    expect(files.map((f) => `${f.input}:${f.status}`)).toEqual(['a.jpg:ok', 'b.jpg:ok', 'bad.jpg:failed', 'c.jpg:ok', 'd.jpg:ok']);
  });

  it('a lost task/next answer: the child is found and used, no orphan task is left', async () => {
    const dir = await inputs(['a.jpg', 'b.jpg']);
    api.evil.loseNext = 1;
    const known = new Set(api.tasks.keys());
    const res = await runCli(['rotate', '*.jpg', '--rotate', '90', '--then', 'rotate --rotate 90', '-o', 'out', '-j', '1', '--json'], { cwd: dir, env: env() });
    expect(res.code, res.stderr).toBe(0);
    const mine = [...api.tasks.values()].filter((t) => !known.has(t.id));
    expect(mine).toHaveLength(2); // the parent and the one child, adopted
    expect(mine.filter((t) => t.status === 'TaskWaiting' && !t.deleted)).toEqual([]);
  });

  it('a download that stalls after a successful process: idle timeout, and the message says what was done', async () => {
    const dir = await inputs(['a.jpg']);
    api.evil.download = { kind: 'stall', head: jpeg };
    const res = await runCli(['rotate', 'a.jpg', '--rotate', '90', '-o', 'out', '--idle-timeout', '1', '--retries', '1'], { cwd: dir, env: env() });
    expect(res.code).not.toBe(0);
    expect(res.stderr).not.toMatch(/nothing was processed/);
    expect(res.stderr).toMatch(/download.*timed out.*was processed/);
    expect(res.stderr).toMatch(/iloveimg tasks download evil\d+/);
  });
});
