import { readFile, readdir, writeFile, mkdir } from 'node:fs/promises';
import { tempDir } from '../helpers/cli.js';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sniff, resolveInputs } from '../../src/run/inputs.js';
import { planOutputs, copyAtomic, ConflictError, withExt } from '../../src/run/outputs.js';
import { safeJoin } from '../../src/lib/safe-path.js';
import { shellWords, parseStep } from '../../src/flags/tool-params.js';
import { parseSavings } from '../../src/flags/run-options.js';
import { numberOption } from '../../src/flags/number-option.js';
import { partition } from '../../src/run/batch.js';
import { shouldRetry, retryDelay } from '../../src/api/retry.js';
import { ApiError, ConnectionError } from '../../src/api/errors.js';
import { UsageError } from '../../src/lib/errors.js';
import { FIXTURES } from '../helpers/fixtures.js';

const corpus = FIXTURES;
const tmp = () => tempDir('iloveimg-lib-');

describe('sniff', () => {
  it.each([
    ['photo-storm-1920x1280.jpg', 'jpg'],
    ['png-photo-coffee-600x400.png', 'png'],
    ['anim-circular-table-640x360.gif', 'gif'],
    ['webp-alpha-yellow-rose-400x301.webp', 'webp'],
    ['tiff-video-001-150x103.tiff', 'tiff'],
    ['svg-icon-cut-48.svg', 'svg'],
    ['svg-gnome-dune-4096.svg', 'svg'],
    ['broken-not-an-image.png', undefined],
  ])('%s → %s', async (file, fmt) => {
    const head = (await readFile(path.join(corpus, file))).subarray(0, 512);
    expect(sniff(head)).toBe(fmt);
  });
});

describe('resolveInputs', () => {
  it('expands globs in-process, walks directories with -r, de-duplicates and classifies bad files', async () => {
    const dir = await tmp();
    await mkdir(path.join(dir, 'a/b'), { recursive: true });
    const jpg = await readFile(path.join(corpus, 'exif-orient6-iphone4s-205x102.jpg'));
    await writeFile(path.join(dir, 'a/one.jpg'), jpg);
    await writeFile(path.join(dir, 'a/b/two.jpg'), jpg);
    await writeFile(path.join(dir, 'a/notes.txt'), 'hello');
    await writeFile(path.join(dir, 'empty.jpg'), '');
    const r = await resolveInputs(['a/**/*', 'a/one.jpg', 'missing.jpg', 'empty.jpg', 'nomatch/*.png'], { cwd: dir });
    expect(r.items.map((i) => [i.display, i.rel, i.format])).toEqual([
      ['a/b/two.jpg', 'b/two.jpg', 'jpg'],
      ['a/one.jpg', 'one.jpg', 'jpg'],
    ]);
    expect(r.rejected.map((x) => [x.display, x.status, x.type])).toEqual([
      ['a/notes.txt', 'skipped', 'NotAnImage'],
      ['missing.jpg', 'failed', 'NotFound'],
      ['empty.jpg', 'failed', 'EmptyFile'],
    ]);
    expect(r.warnings).toEqual(["'nomatch/*.png' matched no files"]);
    await expect(resolveInputs(['a'], { cwd: dir })).rejects.toBeInstanceOf(UsageError);
    const rec = await resolveInputs(['a'], { cwd: dir, recursive: true });
    expect(rec.items.map((i) => i.rel).sort()).toEqual(['b/two.jpg', 'one.jpg']);
  });

  it('reads --files-from lists, newline or NUL separated', async () => {
    const dir = await tmp();
    const jpg = await readFile(path.join(corpus, 'exif-orient6-iphone4s-205x102.jpg'));
    await writeFile(path.join(dir, 'x.jpg'), jpg);
    await writeFile(path.join(dir, 'y y.jpg'), jpg);
    await writeFile(path.join(dir, 'list0'), 'x.jpg\0y y.jpg\0');
    const r = await resolveInputs([], { cwd: dir, filesFrom: [path.join(dir, 'list0')] });
    expect(r.items.map((i) => i.display)).toEqual(['x.jpg', 'y y.jpg']);
  });
});

describe('planOutputs', () => {
  const item = (rel: string, source: string, format = 'jpg') => ({ kind: 'file' as const, source, display: rel, rel, size: 1, format });
  it('mirrors the tree under -o, flattens with --flat, suffixes beside the input', () => {
    const items = [item('a/x.jpg', '/in/a/x.jpg'), item('b/x.JPEG', '/in/b/x.JPEG')];
    expect(planOutputs(items, { outputDir: '/out', suffix: 'compressed', onConflict: 'error', cwd: '/' }).map((p) => p.dest)).toEqual(['/out/a/x.jpg', '/out/b/x.JPEG']);
    expect(planOutputs(items, { suffix: 'compressed', onConflict: 'error', cwd: '/' }).map((p) => p.dest)).toEqual(['/in/a/x-compressed.jpg', '/in/b/x-compressed.JPEG']);
    expect(planOutputs([item('x.png', '/in/x.png', 'png')], { outputDir: '/out', suffix: 'converted', onConflict: 'error', cwd: '/' }, 'jpg')[0].dest).toBe('/out/x.jpg');
  });
  it('catches two inputs landing on one output before anything is sent', () => {
    const items = [item('a/x.jpg', '/in/a/x.jpg'), item('b/x.jpg', '/in/b/x.jpg')];
    expect(() => planOutputs(items, { outputDir: '/out', flat: true, suffix: 's', onConflict: 'error', cwd: '/' })).toThrow(/would both be written to/);
    const conv = [item('x.png', '/in/x.png', 'png'), item('x.gif', '/in/x.gif', 'gif')];
    expect(() => planOutputs(conv, { outputDir: '/out', suffix: 's', onConflict: 'error', cwd: '/' }, 'jpg')).toThrow(UsageError);
  });
  it('never plans to overwrite an input without --in-place', () => {
    expect(() => planOutputs([item('x.jpg', '/in/x.jpg')], { outputDir: '/in', suffix: 's', onConflict: 'overwrite', cwd: '/' })).toThrow(/overwritten by its own result/);
    expect(planOutputs([item('x.jpg', '/in/x.jpg')], { inPlace: true, suffix: 's', onConflict: 'error', cwd: '/' })[0].dest).toBe('/in/x.jpg');
    expect(() => planOutputs([item('x.png', '/in/x.png', 'png')], { inPlace: true, suffix: 's', onConflict: 'error', cwd: '/' }, 'jpg')).toThrow(/cannot change/);
  });
  it('withExt keeps the spelling of an unchanged format', () => {
    expect(withExt('/o/a.JPEG', 'jpg')).toBe('/o/a.JPEG');
    expect(withExt('/o/a.svg', 'png')).toBe('/o/a.png');
  });
});

describe('copyAtomic', () => {
  it('follows the conflict policy and leaves no temporary file', async () => {
    const dir = await tmp();
    const sources = await tmp();
    const source = async (text: string): Promise<string> => {
      const file = path.join(sources, text);
      await writeFile(file, text);
      return file;
    };
    const dest = path.join(dir, 'out.jpg');
    expect(await copyAtomic(await source('one'), dest, 'error')).toBe(dest);
    await expect(copyAtomic(await source('two'), dest, 'error')).rejects.toBeInstanceOf(ConflictError);
    expect(await copyAtomic(await source('two'), dest, 'skip')).toBeUndefined();
    expect(await readFile(dest, 'utf8')).toBe('one');
    expect(await copyAtomic(await source('three'), dest, 'rename')).toBe(path.join(dir, 'out (1).jpg'));
    expect(await copyAtomic(await source('four'), dest, 'overwrite')).toBe(dest);
    expect(await readFile(dest, 'utf8')).toBe('four');
    expect((await readdir(dir)).sort()).toEqual(['out (1).jpg', 'out.jpg']);
  });
});

describe('safeJoin (zip-slip)', () => {
  it.each([
    ['a.jpg', 'a.jpg'],
    ['sub/a.jpg', 'sub/a.jpg'],
    ['../../etc/passwd', 'etc/passwd'],
    ['/etc/passwd', 'etc/passwd'],
    ['C:\\Windows\\x.jpg', 'Windows/x.jpg'],
    ['..\\..\\x.jpg', 'x.jpg'],
    ['a/../../b.jpg', 'a/b.jpg'],
    ['nul\0byte.jpg', 'nulbyte.jpg'],
    ['ctrl\x07.jpg', 'ctrl.jpg'],
    ['.. ./x.jpg', 'x.jpg'],
  ])('%j stays inside', (name, expected) => {
    expect(safeJoin('/out', name)).toBe(path.join('/out', expected));
  });
  it.each(['..', '/', '', '../..', '\0'])('%j has nothing usable', (name) => {
    expect(safeJoin('/out', name)).toBeUndefined();
  });
});

describe('steps and flags', () => {
  it('splits --then strings like a shell', () => {
    expect(shellWords(`watermark --text "© Ada's" --gravity 'South East' a\\ b`)).toEqual(['watermark', '--text', "© Ada's", '--gravity', 'South East', 'a b']);
    expect(() => shellWords('resize "oops')).toThrow(UsageError);
  });
  it('parses a step with the tool flags, validating values', async () => {
    const step = await parseStep('resize -p 50 --no-maintain-ratio --enlarge-if-smaller');
    expect(step).toMatchObject({ tool: 'resizeimage', params: { percentage: 50, resize_mode: 'percentage', maintain_ratio: false, no_enlarge_if_smaller: false } });
    expect((await parseStep('compress -l EXTREME')).params).toEqual({ compression_level: 'extreme' });
    expect((await parseStep('rotate --rotate 90')).fileParams).toEqual({ rotate: 90, password: undefined });
    await expect(parseStep('compress -l maximum')).rejects.toThrow(/extreme, recommended, low/);
    await expect(parseStep('resize')).rejects.toThrow(/give a size/);
    await expect(parseStep('crop --width 10')).rejects.toThrow(/--height/);
    await expect(parseStep('sharpen')).rejects.toThrow(/unknown tool/);
    await expect(parseStep('convert --to gif --gif-time 0')).rejects.toThrow(/at least 1/);
  });
  it('parses numeric flags with one range check', () => {
    const port = numberOption('--port', { min: 0, max: 65535 });
    expect(port('8080')).toBe(8080);
    expect(() => port('80.5')).toThrow('--port must be a whole number from 0 to 65535');
    expect(() => port('')).toThrow();
    expect(() => numberOption('--page', { min: 1 })('0')).toThrow('--page must be a whole number ≥ 1');
    expect(numberOption('--file-timeout', { min: 1, integer: false })('1.5')).toBe(1.5);
  });
  it('parses --min-savings', () => {
    expect(parseSavings('5%')).toEqual({ percent: 5 });
    expect(parseSavings('20KB')).toEqual({ bytes: 20000 });
    expect(parseSavings('1MiB')).toEqual({ bytes: 1048576 });
    expect(() => parseSavings('lots')).toThrow();
  });
  it('spreads files over about `concurrency` tasks of at most 10', () => {
    expect(partition(100, 6).map((g) => g.length)).toEqual([10, 10, 10, 10, 10, 10, 10, 10, 10, 10]);
    expect(partition(30, 6).map((g) => g.length)).toEqual([5, 5, 5, 5, 5, 5]);
    expect(partition(3, 6).map((g) => g.length)).toEqual([1, 1, 1]);
    expect(partition(1000, 6).every((g) => g.length <= 10)).toBe(true);
  });
});

describe('retry policy', () => {
  const err = (status: number, message = 'x') => new ApiError(message, status, 'upload', 'T');
  it('retries what says try again, and only safe requests after an unknown outcome', () => {
    expect(shouldRetry(err(429), false)).toBe(true);
    expect(shouldRetry(err(503), false)).toBe(true);
    expect(shouldRetry(err(502), true)).toBe(true);
    expect(shouldRetry(err(502), false)).toBe(false);
    expect(shouldRetry(new ConnectionError('reset', 0, 'upload', 'ECONNRESET'), true)).toBe(true);
    expect(shouldRetry(err(400), true)).toBe(false);
    expect(shouldRetry(err(401, 'Expired token'), true)).toBe(false);
    expect(shouldRetry(err(401, 'Signature verification failed'), true)).toBe(true);
  });
  it('backs off exponentially with jitter, and follows Retry-After', () => {
    const policy = { retries: 4, baseDelayMs: 500, maxDelayMs: 30_000 };
    expect(retryDelay(0, err(500), policy, () => 0)).toBe(250);
    expect(retryDelay(3, err(500), policy, () => 1)).toBe(4000);
    expect(retryDelay(0, new ApiError('x', 429, 'start', 'T', undefined, 2), policy)).toBe(2000);
  });
});
