/**
 * Issue #12, "outputs" (items 10–16): destinations checked before any upload, --in-place keeps mode
 * and symlinks, -O is literal and replaces its target, globs skip our own outputs, --skip-unchanged
 * does not match a renamed copy, 255-byte names, and SIGTERM stops a run.
 */
import { spawn } from 'node:child_process';
import { chmod, copyFile, lstat, readFile, readdir, readlink, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, CORPUS, fixture, runCli, startEngine, tempDir } from '../helpers/cli.js';

let engine: Awaited<ReturnType<typeof startEngine>>;
beforeAll(async () => {
  engine = await startEngine();
});
afterAll(() => engine.server.close());

describe('destinations are checked before the first upload (items 10, 16)', () => {
  it('-o naming a file, and -o /proc/foo/: exit 1 at once, nothing uploaded', async () => {
    const dir = await tempDir();
    await fixture(dir, { 'a.jpg': 'photo-storm-1920x1280.jpg', 'b.jpg': 'icc-adobergb-rocket-640x427.jpg' });
    await writeFile(path.join(dir, 'taken'), 'x');
    const before = engine.count('/v1/upload');
    const file = await runCli(['compress', 'a.jpg', 'b.jpg', '-o', 'taken'], { cwd: dir, env: engine.env });
    expect(file.code).toBe(1);
    expect(file.stderr).toMatch(/error: .*taken is not a directory\nNothing was sent/);
    const proc = await runCli(['compress', 'a.jpg', '-o', '/proc/foo/'], { cwd: dir, env: engine.env, timeoutMs: 20_000 });
    expect(proc.code).toBe(1);
    expect(proc.stderr).toContain('error: cannot write to /proc/foo: cannot be created there');
    expect(engine.count('/v1/upload')).toBe(before);
  });

  it.skipIf(process.getuid?.() === 0)('a read-only -o directory: exit 1, nothing uploaded', async () => {
    const dir = await tempDir();
    await fixture(dir, { 'a.jpg': 'photo-storm-1920x1280.jpg' });
    await writeFile(path.join(dir, 'keep'), '');
    const ro = path.join(dir, 'ro');
    await import('node:fs/promises').then((fs) => fs.mkdir(ro));
    await chmod(ro, 0o555);
    const before = engine.count('/v1/upload');
    const res = await runCli(['compress', 'a.jpg', '-o', 'ro/'], { cwd: dir, env: engine.env });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('permission denied');
    expect(engine.count('/v1/upload')).toBe(before);
  });
});

describe('--in-place (item 11)', () => {
  it('keeps the mode and writes through a symbolic link', async () => {
    const dir = await tempDir();
    await fixture(dir, { 'real.jpg': 'photo-storm-1920x1280.jpg', 'm.jpg': 'photo-storm-1920x1280.jpg' });
    await chmod(path.join(dir, 'm.jpg'), 0o640);
    await symlink('real.jpg', path.join(dir, 'link.jpg'));
    const size = (await stat(path.join(dir, 'real.jpg'))).size;
    const res = await runCli(['compress', 'm.jpg', 'link.jpg', '--in-place'], { cwd: dir });
    expect(res.code, res.stderr).toBe(0);
    expect((await stat(path.join(dir, 'm.jpg'))).mode & 0o777).toBe(0o640);
    expect((await lstat(path.join(dir, 'link.jpg'))).isSymbolicLink()).toBe(true);
    expect(await readlink(path.join(dir, 'link.jpg'))).toBe('real.jpg');
    expect((await stat(path.join(dir, 'real.jpg'))).size).toBeLessThan(size);
  });
});

describe('-O (items 12, 15)', () => {
  it('names exactly that file, - is stdout, and a rebuild replaces the target', async () => {
    const dir = await tempDir();
    await fixture(dir, { 'p.jpg': 'photo-storm-1920x1280.jpg' });
    for (const name of ['conv-out.png', 'mk.min']) {
      const res = await runCli(['resize', 'p.jpg', '-p', '10', '-O', name], { cwd: dir });
      expect(res.code, res.stderr).toBe(0);
      expect((await sharp(path.join(dir, name)).metadata()).format).toBe('jpeg');
    }
    expect((await readdir(dir)).filter((f) => !f.startsWith('.')).sort()).toEqual(['conv-out.png', 'mk.min', 'p.jpg']);
    const out = await runCli(['resize', 'p.jpg', '-p', '10', '-O', '-'], { cwd: dir });
    expect(out.code, out.stderr).toBe(0);
    expect((await sharp(out.stdoutBytes).metadata()).width).toBe(192);
    expect(await readdir(dir)).not.toContain('-.jpg');
    // A Makefile rule run twice: the target is rebuilt.
    const again = await runCli(['resize', 'p.jpg', '-p', '20', '-O', 'mk.min'], { cwd: dir });
    expect(again.code, again.stderr).toBe(0);
    expect((await sharp(path.join(dir, 'mk.min')).metadata()).width).toBe(384);
  });

  it('compress a.jpg -O a.min.jpg with no saving writes a copy of the original and says so', async () => {
    const dir = await tempDir();
    await fixture(dir, { 'a.jpg': 'photo-storm-1920x1280.jpg' });
    const res = await runCli(['compress', 'a.jpg', '-O', 'a.min.jpg', '--min-savings', '99%'], { cwd: dir });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toMatch(/kept the original \(copied to a\.min\.jpg\)/);
    expect(await readFile(path.join(dir, 'a.min.jpg'))).toEqual(await readFile(path.join(dir, 'a.jpg')));
  });
});

describe('globs and journals (items 13, 14)', () => {
  it("a second run of a glob skips this command's own outputs and says so", async () => {
    const dir = await tempDir();
    await fixture(dir, { 'g/a.jpg': 'photo-storm-1920x1280.jpg' });
    expect((await runCli(['compress', 'g/*.jpg'], { cwd: dir })).code).toBe(0);
    const second = await runCli(['compress', 'g/*.jpg', '--on-conflict', 'overwrite'], { cwd: dir });
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toMatch(/^- g\/a-compressed\.jpg: skipped \(it is this command's own output \(\*-compressed\.\*\) for another input/m);
    expect(second.stderr).not.toContain('would be overwritten by its own result');
    expect((await readdir(path.join(dir, 'g'))).sort()).toEqual(['a-compressed.jpg', 'a.jpg']);
  });

  it('item 3: a rerun into the same -o without --resume says to pass --resume', async () => {
    const dir = await tempDir();
    await fixture(dir, { 'a.jpg': 'photo-storm-1920x1280.jpg' });
    expect((await runCli(['compress', 'a.jpg', '-o', 'out'], { cwd: dir })).code).toBe(0);
    const again = await runCli(['compress', 'a.jpg', '-o', 'out'], { cwd: dir });
    expect(again.code).toBe(3);
    expect(again.stderr).toContain('out/a.jpg already exists; pass --resume to skip what an earlier run finished, or --on-conflict');
  });

  it('--skip-unchanged does not take a renamed copy for the file it was copied from', async () => {
    const dir = await tempDir();
    await fixture(dir, { 'a.jpg': 'photo-storm-1920x1280.jpg' });
    expect((await runCli(['compress', 'a.jpg', '-o', 'out', '--skip-unchanged'], { cwd: dir })).code).toBe(0);
    await copyFile(path.join(dir, 'a.jpg'), path.join(dir, 'b.jpg'));
    const res = await runCli(['compress', 'a.jpg', 'b.jpg', '-o', 'out', '--skip-unchanged', '--json'], { cwd: dir });
    expect(res.code, res.stderr).toBe(0);
    const files = JSON.parse(res.stdout).files;
    expect(files.find((f: { input: string }) => f.input === 'a.jpg').note).toBe('already done by an earlier run');
    expect(files.find((f: { input: string }) => f.input === 'b.jpg')).toMatchObject({ output: 'out/b.jpg', note: 'same content as out/a.jpg, done by an earlier run; its result was copied' });
    expect(await readFile(path.join(dir, 'out/b.jpg'))).toEqual(await readFile(path.join(dir, 'out/a.jpg')));
  });
});

describe('long names and SIGTERM (item 16)', () => {
  it('a 255-byte file name works beside the input and with -o', async () => {
    const dir = await tempDir();
    const name = `${'é'.repeat(100)}${'a'.repeat(51)}.jpg`;
    expect(Buffer.byteLength(name)).toBe(255);
    await copyFile(path.join(CORPUS, 'photo-storm-1920x1280.jpg'), path.join(dir, name));
    const res = await runCli(['compress', name, '-o', 'out'], { cwd: dir });
    expect(res.code, res.stderr).toBe(0);
    expect(await readdir(path.join(dir, 'out'))).toContain(name);
    const beside = await runCli(['compress', name], { cwd: dir });
    expect(beside.code, beside.stderr).toBe(0);
    const made = (await readdir(dir)).find((f) => f.endsWith('-compressed.jpg'))!;
    expect(Buffer.byteLength(made)).toBeLessThanOrEqual(255);
  });

  it('SIGTERM stops a run at once: exit 143, no temporary file left', async () => {
    const dir = await tempDir();
    for (let i = 0; i < 40; i++) await copyFile(path.join(CORPUS, 'photo-storm-1920x1280.jpg'), path.join(dir, `p${i}.jpg`));
    const uploads = engine.count('/v1/upload');
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, [BIN, 'compress', '*.jpg', '-o', 'out', '-j', '1'], { cwd: dir, env: { ...process.env, ...engine.env }, stdio: 'ignore' });
      const poll = setInterval(() => {
        if (engine.count('/v1/upload') > uploads) {
          clearInterval(poll);
          child.kill('SIGTERM');
        }
      }, 20);
      child.on('close', (c) => {
        clearInterval(poll);
        resolve(c);
      });
    });
    expect(code).toBe(143);
    const left = await readdir(path.join(dir, 'out')).catch(() => []);
    expect(left.filter((f) => f.includes('iloveimg-tmp'))).toEqual([]);
    expect(left.filter((f) => f.endsWith('.jpg')).length).toBeLessThan(40);
  });
});
