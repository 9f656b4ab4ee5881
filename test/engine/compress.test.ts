import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { ENGINE_TOOLS } from '../../src/engine/index.js';
import { context, corpus, decode, input, wire } from './helpers.js';
import { fixture } from '../helpers/fixtures.js';

const compress = ENGINE_TOOLS.compressimage;

/**
 * ImageMagick's command (`magick` for 7, `convert` for 6), if Debian's real one is installed. Looked up
 * by path: some machines have a `convert` stand-in on PATH that cannot encode JPEG.
 */
function imagemagick(): string | undefined {
  for (const cmd of ['/usr/bin/magick', '/usr/bin/convert']) {
    try {
      if (/ImageMagick/.test(execFileSync(cmd, ['-version'], { encoding: 'utf8' }))) return cmd;
    } catch {
      /* not this one */
    }
  }
  return undefined;
}
const LEVELS = ['extreme', 'recommended', 'low'] as const;

async function sizes(file: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const level of LEVELS) {
    const res = await compress.run(input(file), wire('compressimage', { compression_level: level }), context());
    const original = corpus(file);
    const before = await sharp(original).metadata();
    const after = await decode(res);
    expect([after.width, after.height], `${file} ${level}`).toEqual([before.autoOrient.width, before.autoOrient.height]);
    expect(res.data.length, `${file} ${level}`).toBeLessThan(original.length);
    out[level] = res.data.length;
  }
  return out;
}

describe('compressimage', () => {
  it('makes real JPEG photos smaller at every level, more so at higher levels, keeping the dimensions', async () => {
    for (const file of ['photo-storm-1920x1280.jpg', 'photo-brushes-1365x1074-q99-444.jpg']) {
      const s = await sizes(file);
      expect(s.extreme).toBeLessThan(s.recommended);
      expect(s.recommended).toBeLessThan(s.low);
    }
  });

  // The target (issue 7): `recommended` at most as large as ImageMagick -quality 75, at equal or better
  // SSIM. Checked against the real ImageMagick where it is installed (.ci/run installs it); bench row 5
  // measures it on all the corpus photos.
  it.skipIf(!imagemagick())('recommended is smaller than ImageMagick -quality 75 at equal or better SSIM', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'iloveimg-im-'));
    try {
      for (const file of ['photo-storm-1920x1280.jpg', 'photo-wood-2560x1920.jpg']) {
        const ours = await compress.run(input(file), wire('compressimage', { compression_level: 'recommended' }), context());
        const out = path.join(dir, file);
        execFileSync(imagemagick()!, [fixture(file), '-strip', '-quality', '75', out]);
        const im = readFileSync(out);
        expect(ours.data.length).toBeLessThanOrEqual(im.length);
        const source = await luma(corpus(file));
        expect(blockSsim(source, await luma(ours.data))).toBeGreaterThanOrEqual(blockSsim(source, await luma(im)));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('recommended keeps a photo close to the original (block SSIM ≥ 0.97)', async () => {
    const file = 'photo-storm-1920x1280.jpg';
    const ours = await compress.run(input(file), wire('compressimage', { compression_level: 'recommended' }), context());
    const source = await luma(corpus(file));
    expect(blockSsim(source, await luma(ours.data))).toBeGreaterThanOrEqual(0.97);
  });

  it('makes PNG photos smaller at every level with palette quantisation, keeping alpha', async () => {
    const s = await sizes('png-photo-coffee-600x400.png');
    expect(s.extreme).toBeLessThan(s.low);
    const rose = await compress.run(input('alpha-yellow-rose-400x301.png'), wire('compressimage', { compression_level: 'recommended' }), context());
    const d = await decode(rose);
    expect([rose.ext, d.format, d.width, d.height]).toEqual(['png', 'png', 400, 301]);
    expect(d.pixel(0, 0)[3]).toBe(0);
    expect(rose.data.length).toBeLessThan(corpus('alpha-yellow-rose-400x301.png').length);
  });

  it('never returns a larger file: an already small input comes back byte for byte', async () => {
    const tiny = await sharp(corpus('png-photo-coffee-600x400.png')).jpeg({ quality: 20 }).toBuffer();
    const out = await compress.run(input(tiny, 0, 'tiny.jpg'), wire('compressimage', { compression_level: 'low' }), context());
    expect(out.ext).toBe('jpg');
    expect(out.data.equals(tiny)).toBe(true);

    const webp = await compress.run(input('webp-alpha-yellow-rose-400x301.webp'), wire('compressimage', { compression_level: 'low' }), context());
    expect(webp.ext).toBe('webp');
    expect(webp.data.length).toBeLessThanOrEqual(corpus('webp-alpha-yellow-rose-400x301.webp').length);
    const webpExtreme = await compress.run(input('webp-alpha-yellow-rose-400x301.webp'), wire('compressimage', { compression_level: 'extreme' }), context());
    expect(webpExtreme.data.length).toBeLessThan(corpus('webp-alpha-yellow-rose-400x301.webp').length);
  });

  it('keeps a per-file rotation even when the rotated file is larger than the input', async () => {
    const tiny = await sharp(corpus('png-photo-coffee-600x400.png')).jpeg({ quality: 20 }).toBuffer();
    const d = await decode(await compress.run(input(tiny, 90, 'tiny.jpg'), wire('compressimage', { compression_level: 'low' }), context()));
    expect([d.width, d.height]).toEqual([400, 600]);
  });

  it('compresses animated GIFs keeping frames and delays', async () => {
    const file = 'anim-circular-table-640x360.gif';
    const out = await compress.run(input(file), wire('compressimage', { compression_level: 'extreme' }), context());
    const d = await decode(out);
    expect([out.ext, d.pages, d.width, d.height]).toEqual(['gif', 9, 640, 360]);
    expect(d.delay).toEqual(Array(9).fill(50));
    expect(out.data.length).toBeLessThan(corpus(file).length);
  });

  it('strips metadata but applies orientation and converts colours first', async () => {
    const storm = await compress.run(input('photo-storm-1920x1280.jpg'), wire('compressimage', { compression_level: 'extreme' }), context());
    const m = await sharp(storm.data).metadata();
    expect(m.exif).toBeUndefined();
    const astronaut = await sharp((await compress.run(input('png-photo-astronaut-512.png'), wire('compressimage', {}), context())).data).metadata();
    expect(astronaut.hasProfile).toBe(false);
    const river = await decode(await compress.run(input('exif-orient6-river-640x428.jpg'), wire('compressimage', {}), context()));
    expect([river.width, river.height]).toEqual([428, 640]);
    const cmyk = await decode(await compress.run(input('derived-cmyk-storm-1920x1280.jpg'), wire('compressimage', { compression_level: 'extreme' }), context()));
    expect([cmyk.space, cmyk.channels]).toEqual(['srgb', 3]);
  });

  it('returns SVG untouched (we cannot write SVG) and defaults to recommended', async () => {
    const svg = await compress.run(input('svg-icon-cut-48.svg'), wire('compressimage', {}), context());
    expect(svg.ext).toBe('svg');
    expect(svg.data.equals(corpus('svg-icon-cut-48.svg'))).toBe(true);
    const a = await compress.run(input('gray-camera-512.png'), wire('compressimage', {}), context());
    const b = await compress.run(input('gray-camera-512.png'), wire('compressimage', { compression_level: 'recommended' }), context());
    expect(a.data.equals(b.data)).toBe(true);
  });
});

interface Luma {
  data: Buffer;
  width: number;
  height: number;
}

async function luma(bytes: Buffer): Promise<Luma> {
  const { data, info } = await sharp(bytes).greyscale().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** Mean SSIM over non-overlapping 8×8 luma blocks, as in docs/engine-notes.md §5. */
function blockSsim(a: Luma, b: Luma): number {
  const C1 = (0.01 * 255) ** 2;
  const C2 = (0.03 * 255) ** 2;
  let sum = 0;
  let blocks = 0;
  for (let y = 0; y + 8 <= a.height; y += 8) {
    for (let x = 0; x + 8 <= a.width; x += 8) {
      let ma = 0;
      let mb = 0;
      for (let j = 0; j < 8; j++) for (let i = 0; i < 8; i++) {
        const k = (y + j) * a.width + x + i;
        ma += a.data[k];
        mb += b.data[k];
      }
      ma /= 64;
      mb /= 64;
      let va = 0;
      let vb = 0;
      let cov = 0;
      for (let j = 0; j < 8; j++) for (let i = 0; i < 8; i++) {
        const k = (y + j) * a.width + x + i;
        const da = a.data[k] - ma;
        const db = b.data[k] - mb;
        va += da * da;
        vb += db * db;
        cov += da * db;
      }
      va /= 63;
      vb /= 63;
      cov /= 63;
      sum += ((2 * ma * mb + C1) * (2 * cov + C2)) / ((ma * ma + mb * mb + C1) * (va + vb + C2));
      blocks++;
    }
  }
  return sum / blocks;
}
