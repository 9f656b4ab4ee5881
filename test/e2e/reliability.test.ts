/**
 * Nothing lost under interruptions and large files: Ctrl-C at a random moment then --resume, and a
 * 1 GiB upload in chunks with the client's peak RSS measured.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { readFile, readdir, rm, copyFile, mkdir, rename } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, CORPUS, ROOT, startEngine, tempDir } from '../helpers/cli.js';

let engine: Awaited<ReturnType<typeof startEngine>>;
beforeAll(async () => {
  engine = await startEngine({ limits: { maxUploadBytes: 2 * 1024 ** 3 } });
});
afterAll(() => engine.server.close());

/** Runs the CLI; with `interrupt`, sends SIGINT once the engine has seen this run's first upload plus a random delay. */
function spawnCli(args: string[], cwd: string, env: Record<string, string>, interrupt?: { afterFirstUploadMs: number }) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [...(env.MAXRSS_FILE ? ['--require', path.join(ROOT, 'test/helpers/maxrss.cjs')] : []), BIN, ...args], {
      cwd,
      env: { ...process.env, NO_COLOR: '1', ...engine.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    if (interrupt) {
      // Waiting for the first upload makes the interrupt land mid-run, not before the handler exists.
      const uploads = engine.count('/v1/upload');
      const poll = setInterval(() => {
        if (engine.count('/v1/upload') > uploads) {
          clearInterval(poll);
          setTimeout(() => child.kill('SIGINT'), interrupt.afterFirstUploadMs);
        }
      }, 20);
      child.on('close', () => clearInterval(poll));
    }
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else out.push(p);
  }
  return out;
}

const sha = async (f: string) => createHash('sha256').update(await readFile(f)).digest('hex');

describe('interrupt and resume', () => {
  it('Ctrl-C at a random moment leaves no partial file; --resume finishes without sending a file twice', async () => {
    const dir = await tempDir();
    const sources = ['photo-storm-1920x1280.jpg', 'icc-adobergb-rocket-640x427.jpg', 'exif-orient6-river-640x428.jpg', 'png-photo-coffee-600x400.png'];
    const hashes = new Map<string, string>();
    for (let i = 0; i < 48; i++) {
      const src = sources[i % sources.length];
      const name = `in/${i % 3}/img${i}${path.extname(src)}`;
      await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
      await copyFile(path.join(CORPUS, src), path.join(dir, name));
      hashes.set(name, await sha(path.join(dir, name)));
    }
    const uploadsBefore = engine.count('/v1/upload');
    const first = await spawnCli(['compress', 'in/**/*', '-o', 'out', '-j', '2'], dir, {}, { afterFirstUploadMs: Math.floor(Math.random() * 1500) });
    expect([0, 130], first.stderr).toContain(first.code);
    const afterFirst = await walk(path.join(dir, 'out'));
    expect(afterFirst.filter((f) => f.includes('iloveimg-tmp'))).toEqual([]);
    for (const f of afterFirst.filter((f) => !f.endsWith('.ndjson'))) expect((await sharp(f).metadata()).width).toBeGreaterThan(0);

    const second = await spawnCli(['compress', 'in/**/*', '-o', 'out', '-j', '2', '--resume', '--json'], dir, {});
    expect(second.code, second.stderr).toBe(0);
    const files = (await walk(path.join(dir, 'out'))).filter((f) => !f.endsWith('.ndjson'));
    expect(files).toHaveLength(48);
    for (const f of files) expect((await sharp(f).metadata()).width).toBeGreaterThan(0);
    expect(engine.count('/v1/upload') - uploadsBefore).toBe(48);
    for (const [name, hash] of hashes) expect(await sha(path.join(dir, name))).toBe(hash);
    const doc = JSON.parse(second.stdout);
    expect(doc.files.filter((f: { note?: string }) => f.note === 'already done by an earlier run').length).toBe(afterFirst.filter((f) => !f.endsWith('.ndjson')).length);
  });

  it('--resume counts a kept original (compress not smaller) as done', async () => {
    const dir = await tempDir();
    await mkdir(path.join(dir, 'in'));
    await copyFile(path.join(CORPUS, 'exif-orient6-iphone4s-205x102.jpg'), path.join(dir, 'in/a.jpg'));
    const first = await spawnCli(['compress', 'in/a.jpg', '-o', 'out', '--min-savings', '99%', '--json'], dir, {});
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout).files[0]).toMatchObject({ status: 'skipped', output: 'out/a.jpg' });
    const again = await spawnCli(['compress', 'in/a.jpg', '-o', 'out', '--min-savings', '99%', '--resume', '--json'], dir, {});
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).files[0]).toMatchObject({ status: 'skipped', note: 'already done by an earlier run' });
  });

  it('--skip-unchanged skips inputs whose content was processed the same way; a renamed one gets a copy of the result', async () => {
    const dir = await tempDir();
    await mkdir(path.join(dir, 'in'));
    await copyFile(path.join(CORPUS, 'icc-adobergb-rocket-640x427.jpg'), path.join(dir, 'in/a.jpg'));
    const first = await spawnCli(['compress', 'in/*.jpg', '-o', 'out'], dir, {});
    expect(first.code, first.stderr).toBe(0);
    const uploads = engine.count('/v1/upload');
    await rename(path.join(dir, 'in/a.jpg'), path.join(dir, 'in/renamed.jpg'));
    const again = await spawnCli(['compress', 'in/*.jpg', '-o', 'out', '--skip-unchanged', '--json'], dir, {});
    expect(again.code, again.stderr).toBe(0);
    // Issue #12 item 14: its own output is written (a copy of the earlier result), nothing is sent.
    expect(JSON.parse(again.stdout).files[0]).toMatchObject({ input: 'in/renamed.jpg', status: 'skipped', output: 'out/renamed.jpg', note: 'same content as out/a.jpg, done by an earlier run; its result was copied' });
    expect(await readFile(path.join(dir, 'out/renamed.jpg'))).toEqual(await readFile(path.join(dir, 'out/a.jpg')));
    expect(engine.count('/v1/upload')).toBe(uploads);
    const other = await spawnCli(['compress', 'in/*.jpg', '-o', 'out', '-l', 'extreme', '--skip-unchanged', '--on-conflict', 'overwrite'], dir, {});
    expect(other.code, other.stderr).toBe(0);
    expect(engine.count('/v1/upload')).toBe(uploads + 1); // other parameters: not the same work
  });
});

describe('large files', () => {
  it('uploads a 1 GiB input in chunks with the client peak RSS under 200 MB', async () => {
    const dir = await tempDir();
    try {
      // A real PNG header followed by 1 GiB of (sparse) zeros: the bytes the client must stream.
      const file = path.join(dir, 'huge.png');
      const fd = openSync(file, 'w');
      writeSync(fd, (await readFile(path.join(CORPUS, 'gray-camera-512.png'))).subarray(0, 64));
      ftruncateSync(fd, 1024 ** 3);
      closeSync(fd);
      const rssFile = path.join(dir, 'rss');
      const uploads = engine.count('/v1/upload');
      const res = await spawnCli(['compress', 'huge.png', '-o', 'out', '--json'], dir, { MAXRSS_FILE: rssFile });
      expect([0, 3], res.stderr).toContain(res.code);
      expect(engine.count('/v1/upload') - uploads).toBe(Math.ceil(1024 ** 3 / 2_000_000));
      const maxRssKb = Number(await readFile(rssFile, 'utf8'));
      expect(maxRssKb).toBeGreaterThan(0);
      expect(maxRssKb).toBeLessThan(200 * 1024);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 240_000);
});
