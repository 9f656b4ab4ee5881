/**
 * The walking skeleton, end to end: the built binary, the embedded engine or a standing one on
 * 127.0.0.1, real bytes checked with sharp.
 */
import { readFile, readdir, writeFile, stat } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, fixture, runCli, startEngine, tempDir } from '../helpers/cli.js';

describe('iloveimg compress (walking skeleton)', () => {
  let engine: Awaited<ReturnType<typeof startEngine>>;
  beforeAll(async () => {
    engine = await startEngine();
  });
  afterAll(() => engine.server.close());

  it("runs the README's quick start on the embedded engine: smaller valid JPEGs, inputs untouched", async () => {
    const dir = await tempDir();
    const names = await readdir(path.join(ROOT, 'examples'));
    const jpgs = names.filter((n) => n.endsWith('.jpg'));
    expect(jpgs.length).toBeGreaterThanOrEqual(2);
    await fixture(dir, {});
    const before = new Map<string, Buffer>();
    for (const n of jpgs) {
      const data = await readFile(path.join(ROOT, 'examples', n));
      before.set(n, data);
      await writeFile(path.join(dir, n), data);
    }
    const res = await runCli(['compress', '*.jpg', '-o', 'out/'], { cwd: dir });
    expect(res.code, res.stderr).toBe(0);
    // The engine notice is for a person at a terminal, once (README "Output for people and for scripts").
    expect(res.stderr).not.toContain('Using the embedded engine');
    expect(res.stdout).toBe('');
    for (const n of jpgs) {
      const out = await readFile(path.join(dir, 'out', n));
      const meta = await sharp(out).metadata();
      const orig = await sharp(before.get(n)!).metadata();
      expect(meta.format).toBe('jpeg');
      // EXIF orientation is applied: the displayed size is the input's.
      const [w, h] = (orig.orientation ?? 1) >= 5 ? [orig.height, orig.width] : [orig.width, orig.height];
      expect([meta.width, meta.height]).toEqual([w, h]);
      expect(out.length).toBeLessThan(before.get(n)!.length);
      expect(await readFile(path.join(dir, n))).toEqual(before.get(n));
    }
  });

  it('prints one JSON document with --json and keeps everything else on stderr', async () => {
    const dir = await tempDir();
    await fixture(dir, { 'a.jpg': 'photo-storm-1920x1280.jpg', 'b.jpg': 'icc-adobergb-rocket-640x427.jpg' });
    const res = await runCli(['compress', 'a.jpg', 'b.jpg', '-o', 'out', '--json', '-l', 'extreme'], { cwd: dir, env: engine.env });
    expect(res.code, res.stderr).toBe(0);
    const doc = JSON.parse(res.stdout);
    expect(doc.tool).toBe('compress');
    expect(doc.files).toHaveLength(2);
    for (const f of doc.files) {
      expect(f).toMatchObject({ status: 'ok' });
      expect(f.outputBytes).toBeLessThan(f.inputBytes);
      expect((await stat(path.join(dir, f.output))).size).toBe(f.outputBytes);
    }
    expect(doc.summary).toMatchObject({ total: 2, ok: 2, failed: 0 });
    // The account's remaining files, from the API's /start answers (the engine counts them down).
    expect(doc.summary.remainingFiles).toBeGreaterThan(0);
    const processed = engine.server.log.filter((r) => r.path === '/v1/process');
    expect(processed.at(-1)?.params?.compression_level).toBe('extreme');
  });

  it('writes beside the input with a suffix and never overwrites an existing file', async () => {
    const dir = await tempDir();
    await fixture(dir, { 'photo.jpg': 'exif-orient6-river-640x428.jpg' });
    const first = await runCli(['compress', 'photo.jpg'], { cwd: dir, env: engine.env });
    expect(first.code, first.stderr).toBe(0);
    const made = await readFile(path.join(dir, 'photo-compressed.jpg'));
    await writeFile(path.join(dir, 'photo-compressed.jpg'), 'precious');
    const second = await runCli(['compress', 'photo.jpg'], { cwd: dir, env: engine.env });
    expect(second.code).toBe(3);
    expect(second.stderr).toMatch(/photo-compressed\.jpg already exists/);
    expect(await readFile(path.join(dir, 'photo-compressed.jpg'), 'utf8')).toBe('precious');
    const renamed = await runCli(['compress', 'photo.jpg', '--on-conflict', 'rename'], { cwd: dir, env: engine.env });
    expect(renamed.code, renamed.stderr).toBe(0);
    expect((await readFile(path.join(dir, 'photo-compressed (1).jpg'))).length).toBe(made.length);
  });

  it('reports a non-image among good files as failed, writes the good ones, exits 3', async () => {
    const dir = await tempDir();
    await fixture(dir, { 'good1.jpg': 'exif-orient6-iphone4s-205x102.jpg', 'good2.jpg': 'photo-storm-1920x1280.jpg', 'fake.png': 'broken-not-an-image.png', 'trunc.png': 'broken-truncated-camera.png' });
    const res = await runCli(['compress', 'good1.jpg', 'fake.png', 'good2.jpg', 'trunc.png', '-o', 'out', '--json', '--no-try-image-repair'], { cwd: dir, env: engine.env });
    expect(res.code, res.stderr).toBe(3);
    const doc = JSON.parse(res.stdout);
    const byInput = Object.fromEntries(doc.files.map((f: { input: string }) => [f.input, f]));
    expect(byInput['fake.png']).toMatchObject({ status: 'failed', error: { type: 'NotAnImage' } });
    expect(byInput['trunc.png']).toMatchObject({ status: 'failed' });
    expect(byInput['trunc.png'].error.message).toBeTruthy();
    expect(byInput['good1.jpg'].status).toBe('ok');
    expect(byInput['good2.jpg'].status).toBe('ok');
    expect((await sharp(path.join(dir, 'out/good2.jpg')).metadata()).width).toBe(1920);
    // Only the good results, and the run journal that --resume reads.
    expect(await readdir(path.join(dir, 'out'))).toEqual(['.iloveimg-journal.ndjson', 'good1.jpg', 'good2.jpg']);
  });

  it('exits 4 with the server message when the secret key is wrong', async () => {
    const dir = await tempDir();
    await fixture(dir, { 'a.jpg': 'exif-orient6-iphone4s-205x102.jpg' });
    const wrong = 'secret_key_definitely_wrong_0000';
    const res = await runCli(['compress', 'a.jpg'], { cwd: dir, env: { ...engine.env, ILOVEIMG_SECRET_KEY: wrong } });
    expect(res.code).toBe(4);
    expect(res.stderr).toMatch(/Signature verification failed|Unauthorized|refused/i);
    expect(res.stderr + res.stdout).not.toContain(wrong);
    expect(await readdir(dir)).toEqual(['a.jpg']);
  });

  it('exits 2 for usage errors before sending anything', async () => {
    const dir = await tempDir();
    await fixture(dir, { 'a.jpg': 'exif-orient6-iphone4s-205x102.jpg' });
    const before = engine.server.log.length;
    const bad = await runCli(['compress', 'a.jpg', '--compression-level', 'maximum'], { cwd: dir, env: engine.env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--compression-level.*extreme, recommended, low/);
    const none = await runCli(['compress', 'nothing-*.jpg'], { cwd: dir, env: engine.env });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/matched no files/);
    const unknown = await runCli(['compress', 'a.jpg', '--frobnicate'], { cwd: dir, env: engine.env });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown option '--frobnicate'/);
    expect(engine.server.log.length).toBe(before);
  });

  it('documents every flag with a description and examples', async () => {
    const res = await runCli(['compress', '--help'], { cwd: ROOT });
    expect(res.code).toBe(0);
    for (const flag of ['--compression-level', '--output-dir', '--json', '--rotate', '--on-conflict', '--min-savings', '--then', '--dry-run', '--in-place']) {
      expect(res.stdout).toMatch(new RegExp(`${flag}[^\\n]*\\S+\\s{2,}\\S`));
    }
    expect(res.stdout).toMatch(/Examples:\n\s+\$ iloveimg compress/);
    const root = await runCli(['--help'], { cwd: ROOT });
    expect(root.stdout).toMatch(/Exit codes:[\s\S]*130/);
    expect(root.stdout).toMatch(/ILOVEIMG_SECRET_KEY/);
  });
});
