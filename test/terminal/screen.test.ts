/**
 * Issue #12, "the screen" (items 1, 2, 4, 5): the CLI runs in a real pseudo-terminal and the final
 * screen, as a terminal emulator renders it, has every file line, the summary last, no bar left and
 * the cursor visible — for one file, 150 files, a run with failures, and Ctrl-C (once and twice).
 */
import { mkdir, writeFile, copyFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { CORPUS, tempDir } from '../helpers/cli.js';
import { startFakeApi } from '../helpers/fake-api.js';
import { runInTerminal, type ScreenResult } from '../helpers/terminal.js';

const BAR = /[█░]|files \| /;

/** `n` small distinct JPEGs in dir/in/. */
async function synthetic(dir: string, n: number): Promise<string[]> {
  await mkdir(path.join(dir, 'in'), { recursive: true });
  const names: string[] = [];
  for (let i = 0; i < n; i++) {
    const name = `img${String(i).padStart(3, '0')}.jpg`;
    const background = { r: (i * 37) % 256, g: (i * 91) % 256, b: (i * 13) % 256 };
    // Noise at quality 100: compress always finds something to save.
    const data = await sharp({ create: { width: 64, height: 48, channels: 3, background, noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).jpeg({ quality: 100 }).toBuffer();
    await writeFile(path.join(dir, 'in', name), data);
    names.push(name);
  }
  return names;
}

function expectClean(res: ScreenResult) {
  expect(res.rows.filter((r) => BAR.test(r)), res.raw.slice(-2000)).toEqual([]);
  expect(res.cursorHidden).toBe(false);
}

describe('the screen on a real terminal', () => {
  it('one file: the file line, then the summary last; no bar, cursor shown; the engine notice once', async () => {
    const dir = await tempDir();
    await copyFile(path.join(CORPUS, 'photo-storm-1920x1280.jpg'), path.join(dir, 'p.jpg'));
    const res = await runInTerminal(['compress', 'p.jpg', '-o', 'out/'], { cwd: dir });
    expect(res.code, res.rows.join('\n')).toBe(0);
    expectClean(res);
    const fileRow = res.rows.findIndex((r) => r.startsWith('✓ p.jpg → out/p.jpg'));
    expect(fileRow).toBeGreaterThanOrEqual(0);
    expect(res.rows.at(-1)).toMatch(/^compress: 1 ok of 1 file; .* in \d+\.\d s$/);
    expect(res.rows.length - 1).toBeGreaterThan(fileRow);
    expect(res.rows[0]).toMatch(/^Using the embedded engine/);
    // Item 5: the notice is news once per config directory, not on every run.
    const again = await runInTerminal(['compress', 'p.jpg', '-o', 'out2/'], { cwd: dir });
    expect(again.code).toBe(0);
    expect(again.rows.join('\n')).not.toContain('Using the embedded engine');
    expect(again.rows).toHaveLength(2);
  });

  it('150 files: 150 lines, the summary last, no ETA before a file finished', async () => {
    const dir = await tempDir();
    const names = await synthetic(dir, 150);
    const res = await runInTerminal(['compress', 'in/*.jpg', '-o', 'out/'], { cwd: dir, rows: 24 });
    expect(res.code, res.rows.slice(-5).join('\n')).toBe(0);
    expectClean(res);
    for (const n of names) expect(res.rows.filter((r) => r.startsWith(`✓ in/${n} → out/${n} `))).toHaveLength(1);
    expect(res.rows.at(-1)).toMatch(/^compress: 150 ok of 150 files; /);
    // Item 5: at 0/N there is nothing to estimate.
    expect(res.raw).not.toMatch(/ 0\/150 files[^\r\n]*ETA/);
    expect(res.raw).toMatch(/[1-9]\d*\/150 files[^\r\n]*ETA \d/);
  });

  it('a narrow terminal and wide (CJK) file names: the bar never wraps, so none of it is left', async () => {
    const dir = await tempDir();
    await mkdir(path.join(dir, 'in'));
    const names = ['写真'.repeat(12), '画像'.repeat(12), '風景'.repeat(12)].map((n) => `${n}.jpg`);
    for (const n of names) await copyFile(path.join(CORPUS, 'photo-storm-1920x1280.jpg'), path.join(dir, 'in', n));
    const res = await runInTerminal(['compress', 'in/*.jpg', '-o', 'out/'], { cwd: dir, cols: 50 });
    expect(res.code, res.rows.join('\n')).toBe(0);
    expectClean(res);
    // Lines (not the bar) may wrap at 50 columns: the summary is still the end of the screen.
    expect(res.rows.join('\n')).toMatch(/\ncompress: 3 ok of 3 files; [^✓]* in \d+\.\d s$/);
  });

  it('failures: each failed file has its line, the summary and the error last', async () => {
    const dir = await tempDir();
    await copyFile(path.join(CORPUS, 'photo-storm-1920x1280.jpg'), path.join(dir, 'good.jpg'));
    await copyFile(path.join(CORPUS, 'broken-not-an-image.png'), path.join(dir, 'notimage.png'));
    await copyFile(path.join(CORPUS, 'bomb-1bit-30000x30000.png'), path.join(dir, 'bomb.png'));
    const res = await runInTerminal(['resize', 'good.jpg', 'notimage.png', 'bomb.png', '-p', '50', '-o', 'out/'], { cwd: dir });
    expect(res.code, res.rows.join('\n')).toBe(3);
    expectClean(res);
    const text = res.rows.join('\n');
    expect(text).toMatch(/^✓ good\.jpg → out\/good\.jpg /m);
    expect(text).toMatch(/^✗ notimage\.png: NotAnImage/m);
    expect(text).toMatch(/^✗ bomb\.png: /m);
    expect(res.rows.at(-2)).toMatch(/^resize: 1 ok, 2 failed of 3 files/);
    expect(res.rows.at(-1)).toBe('error: 2 of 3 files failed');
  });

  it('Ctrl-C once: the notice above the bar, the summary, exit 130, cursor shown', async () => {
    const dir = await tempDir();
    await synthetic(dir, 60);
    const res = await runInTerminal(['compress', 'in/*.jpg', '-o', 'out/', '-j', '1'], {
      cwd: dir,
      typeWhen: (out) => (/✓ in\/img/.test(out) ? '\x03' : undefined),
    });
    expect(res.code, res.rows.slice(-5).join('\n')).toBe(130);
    expectClean(res);
    const text = res.rows.join('\n');
    expect(text).toContain('interrupting: finishing the tasks under way');
    const summary = res.rows.findIndex((r) => /^compress: \d+ ok/.test(r));
    expect(summary).toBeGreaterThan(0);
    // Everything after the summary is the closing error and its hint.
    expect(res.rows.slice(summary + 1).every((r) => /^(error: interrupted|Run the same command with --resume)/.test(r)), res.rows.slice(summary).join('\n')).toBe(true);
    // Item 3: the files that never started are one line, not one ✗ each; the summary counts them apart.
    expect(res.rows.filter((r) => /not started \(interrupted\)$/.test(r))).toHaveLength(1);
    expect(text).not.toMatch(/✗ .*Interrupted/);
    expect(res.rows[summary]).toMatch(/^compress: \d+ ok, \d+ not started of 60 files/);
    expect(res.rows.at(-1)).toBe('Run the same command with --resume to finish the rest.');
    const written = await readdir(path.join(dir, 'out'));
    expect(written.filter((f) => f.endsWith('.jpg')).length).toBeGreaterThan(0);
  });

  it('Ctrl-C twice: quits at once and the cursor is visible again', async () => {
    const dir = await tempDir();
    await synthetic(dir, 60);
    const res = await runInTerminal(['compress', 'in/*.jpg', '-o', 'out/', '-j', '1'], {
      cwd: dir,
      typeWhen: (out) => (/✓ in\/img/.test(out) ? '\x03\x03' : undefined),
    });
    expect(res.code).toBe(130);
    expect(res.raw).toContain('\x1b[?25l');
    expectClean(res);
  });

  it('retries are visible in the bar: "retrying start (attempt n/N)"', async () => {
    const dir = await tempDir();
    await copyFile(path.join(CORPUS, 'photo-storm-1920x1280.jpg'), path.join(dir, 'p.jpg'));
    const api = await startFakeApi();
    api.on('GET /v1/start/compressimage', { status: 503, headers: { 'retry-after': '0' }, body: { error: { type: 'ServerError', message: 'busy' } } });
    try {
      const res = await runInTerminal(['compress', 'p.jpg', '-o', 'out/', '--retries', '2'], {
        cwd: dir,
        env: { ILOVEIMG_API_URL: api.url, ILOVEIMG_PUBLIC_KEY: 'project_public_x', ILOVEIMG_SECRET_KEY: 'secret_key_x' },
      });
      expect(res.code).not.toBe(0);
      expect(res.raw).toMatch(/retrying start \(attempt 2\/3\)/);
      expectClean(res);
    } finally {
      await api.close();
    }
  });
});
