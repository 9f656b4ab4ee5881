/**
 * Issue #12, "honest results" (items 6–9): warnings are reported (and --strict makes them an exit
 * code), a resize that could not enlarge says so, a joined GIF's size is counted once, and errors
 * give the numbers.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { fixture, runCli, tempDir } from '../helpers/cli.js';

describe('warnings (item 6)', () => {
  it('TaskSuccessWithWarnings: a ⚠ line, a warnings array in --json and --ndjson, exit 0; --strict exits 5', async () => {
    const dir = await tempDir();
    await fixture(dir, { 'c.png': 'broken-corrupt-idat-coffee.png' });
    const human = await runCli(['compress', 'c.png', '-o', 'h/'], { cwd: dir });
    expect(human.code, human.stderr).toBe(0);
    expect(human.stderr).toMatch(/^✓ c\.png → h\/c\.png .*\n {2}⚠ c\.png is damaged .*grey or missing$/m);
    expect(human.stderr).toMatch(/1 ok, 1 with warnings of 1 file/);

    const json = await runCli(['compress', 'c.png', '-o', 'j/', '--json'], { cwd: dir });
    expect(json.code).toBe(0);
    const file = JSON.parse(json.stdout).files[0];
    expect(file.status).toBe('ok');
    expect(file.warnings).toHaveLength(1);
    expect(file.warnings[0]).toMatch(/damaged/);

    const nd = await runCli(['compress', 'c.png', '-o', 'n/', '--ndjson'], { cwd: dir });
    const ev = nd.stdout.trim().split('\n').map((l) => JSON.parse(l)).find((e) => e.event === 'file');
    expect(ev.warnings[0]).toMatch(/damaged/);

    const strict = await runCli(['compress', 'c.png', '-o', 's/', '--strict'], { cwd: dir });
    expect(strict.code).toBe(5);
    expect(strict.stderr).toMatch(/error: 1 of 1 files were written with warnings \(--strict\)/);
    expect((await stat(path.join(dir, 's/c.png'))).size).toBeGreaterThan(0);
  });
});

describe('watermark glyphs (item 6)', () => {
  it('a character no installed font has is a warning, not a silent box', async () => {
    const dir = await tempDir();
    await fixture(dir, { 'p.jpg': 'photo-storm-1920x1280.jpg' });
    // U+E000 is a private-use character: no distributed font draws it.
    const res = await runCli(['watermark', 'p.jpg', '--text', 'Ada \uE000', '--font-family', 'Verdana', '-o', 'w/', '--json'], { cwd: dir });
    expect(res.code, res.stderr).toBe(0);
    expect(JSON.parse(res.stdout).files[0].warnings).toContainEqual(expect.stringMatching(/^elements\[0\]: no installed font has \uE000; they are drawn as empty boxes/));
  });
});

describe('resize that cannot enlarge (item 7)', () => {
  it('-p 200 and -w 1000 on a 400×301 image: written unchanged, with a warning naming the sizes', async () => {
    const dir = await tempDir();
    await fixture(dir, { 'r.png': 'alpha-yellow-rose-400x301.png' });
    for (const flags of [['-p', '200'], ['-w', '1000']]) {
      const res = await runCli(['resize', 'r.png', ...flags, '-o', `o${flags[1]}/`, '--json'], { cwd: dir });
      expect(res.code, res.stderr).toBe(0);
      const f = JSON.parse(res.stdout).files[0];
      expect(f.warnings?.[0]).toMatch(/not enlarged: the image is 400×301, smaller than the asked (200%|width 1000); pass --enlarge-if-smaller/);
      expect((await sharp(path.join(dir, `o${flags[1]}/r.png`)).metadata()).width).toBe(400);
    }
    const big = await runCli(['resize', 'r.png', '-p', '200', '--enlarge-if-smaller', '-o', 'big/', '--json'], { cwd: dir });
    expect(JSON.parse(big.stdout).files[0].warnings).toBeUndefined();
    expect((await sharp(path.join(dir, 'big/r.png')).metadata()).width).toBe(800);
  });

  it('the help says what --enlarge-if-smaller does', async () => {
    const dir = await tempDir();
    const res = await runCli(['resize', '--help'], { cwd: dir });
    const help = res.stdout.replace(/\s+/g, ' ');
    expect(help).toContain('--enlarge-if-smaller Enlarge an image that is smaller than the asked size --no');
    expect(help).toContain('--no-enlarge-if-smaller Do not: enlarge an image that is smaller than the asked size (default)');
  });
});

describe('joined GIF sizes (item 8)', () => {
  it('convert 3 inputs to gif_animation: the file is counted once', async () => {
    const dir = await tempDir();
    await fixture(dir, { 'a.png': 'alpha-yellow-rose-400x301.png', 'b.png': 'alpha-yellow-rose-400x301.png', 'c.png': 'alpha-yellow-rose-400x301.png' });
    const res = await runCli(['convert', 'a.png', 'b.png', 'c.png', '--to', 'gif_animation', '-O', 'anim.gif', '--json'], { cwd: dir });
    expect(res.code, res.stderr).toBe(0);
    const doc = JSON.parse(res.stdout);
    const size = (await stat(path.join(dir, 'anim.gif'))).size;
    expect(doc.summary.outputBytes).toBe(size);
    expect(doc.files.map((f: { outputBytes: number }) => f.outputBytes)).toEqual([size, 0, 0]);
  });
});

describe('errors with numbers (item 9)', () => {
  it('crop out of range, a pixel bomb, and --min-savings say what was wrong with which numbers', async () => {
    const dir = await tempDir();
    await fixture(dir, { 'p.jpg': 'photo-storm-1920x1280.jpg', 'bomb.png': 'bomb-1bit-30000x30000.png' });
    const crop = await runCli(['crop', 'p.jpg', '--x', '5000', '--width', '10', '--height', '10', '-o', 'c/'], { cwd: dir });
    expect(crop.code).toBe(3);
    expect(crop.stderr).toMatch(/✗ p\.jpg: OutOfRange: .*x=5000.*1920×1280/);
    const bomb = await runCli(['compress', 'bomb.png', '-o', 'b/'], { cwd: dir });
    expect(bomb.stderr).toMatch(/✗ bomb\.png: DamagedFile: bomb\.png is 30000×30000 = 900000000 pixels, which exceeds the pixel limit of \d+/);
    const min = await runCli(['compress', 'p.jpg', '--min-savings', '99%', '-o', 'm/'], { cwd: dir });
    expect(min.code).toBe(0);
    expect(min.stderr).toMatch(/skipped \(the result saves [\d.]+ kB \([\d.]+%\), less than --min-savings 99%; kept the original \(copied to m\/p\.jpg\)\)/);
    expect(await readFile(path.join(dir, 'm/p.jpg'))).toEqual(await readFile(path.join(dir, 'p.jpg')));
  });
});
