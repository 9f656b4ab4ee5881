import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ENGINE_TOOLS } from '../../src/engine/index.js';
import { TOOL_NAMES } from '../../src/protocol/tools.js';
import { context, corpus, decode, failure, input, means, solid, wire } from './helpers.js';

const rotate = ENGINE_TOOLS.rotateimage;

describe('engine table', () => {
  it('has one tool per API tool name', () => {
    expect(Object.keys(ENGINE_TOOLS).sort()).toEqual([...TOOL_NAMES].sort());
    for (const name of TOOL_NAMES) expect(typeof ENGINE_TOOLS[name].run).toBe('function');
    expect(ENGINE_TOOLS.convertimage.joins?.(wire('convertimage', { to: 'gif_animation' }))).toBe(true);
    expect(ENGINE_TOOLS.convertimage.joins?.(wire('convertimage', { convert_to: 'gif_animation ' }))).toBe(true);
    expect(ENGINE_TOOLS.convertimage.joins?.(wire('convertimage', { to: 'jpg' }))).toBe(false);
  });

  it('never imports sharp at module top level (the CLI --help must not load it)', () => {
    const dir = new URL('../../src/engine/', import.meta.url);
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
      const source = readFileSync(new URL(file, dir), 'utf8');
      // Only `import type … from 'sharp'` (erased) and `await import('sharp')` are allowed.
      expect(source, file).not.toMatch(/^\s*import\s+(?!type\b)[^;]*from\s+['"]sharp['"]/m);
      expect(source, file).not.toMatch(/require\(['"]sharp['"]\)/);
    }
  });
});

describe('opening inputs', () => {
  it('applies EXIF orientation 6 first: the outputs are upright (dimensions swapped)', async () => {
    const river = await decode(await rotate.run(input('exif-orient6-river-640x428.jpg'), {}, context()));
    expect([river.width, river.height]).toEqual([428, 640]);
    const phone = await decode(await rotate.run(input('exif-orient6-iphone4s-205x102.jpg'), {}, context()));
    expect([phone.width, phone.height]).toEqual([102, 205]);
  });

  it('applies the per-file rotation after the EXIF orientation, clockwise', async () => {
    const turned = await decode(await rotate.run(input('exif-orient6-iphone4s-205x102.jpg', 90), {}, context()));
    expect([turned.width, turned.height]).toEqual([205, 102]);
    // A 2×1 strip, left red and right blue: turned 90° clockwise, red is on top.
    const strip = await sharp2x1();
    const cw = await decode(await rotate.run(input(strip, 90), {}, context()));
    expect([cw.width, cw.height]).toEqual([20, 40]);
    expect(cw.pixel(10, 5).slice(0, 3)).toEqual([255, 0, 0]);
    expect(cw.pixel(10, 35).slice(0, 3)).toEqual([0, 0, 255]);
    const ccw = await decode(await rotate.run(input(strip, 270), {}, context()));
    expect(ccw.pixel(10, 5).slice(0, 3)).toEqual([0, 0, 255]);
  });

  it('converts CMYK without a profile to sRGB with the colours of the RGB original', async () => {
    const storm = await rotate.run(input('derived-cmyk-storm-1920x1280.jpg'), {}, context());
    const out = await decode(storm);
    expect([out.format, out.space, out.channels]).toEqual(['jpeg', 'srgb', 3]);
    const got = await means(storm.data);
    const reference = await means(corpus('photo-storm-1920x1280.jpg'));
    for (let c = 0; c < 3; c++) expect(Math.abs(got[c] - reference[c]), `channel ${c}`).toBeLessThan(3);

    // The other two have no RGB original to compare with: they must come out as plain sRGB.
    const video = await decode(await rotate.run(input('cmyk-video-001-150x103.jpg'), {}, context()));
    expect([video.space, video.channels, video.width, video.height]).toEqual(['srgb', 3, 150, 103]);
    const logo = await decode(await rotate.run(input('cmyk-adobe-wxlogo-200x53.jpg'), {}, context()));
    expect([logo.space, logo.channels, logo.width, logo.height]).toEqual(['srgb', 3, 200, 53]);
  });

  it('converts an Adobe RGB input to sRGB through its ICC profile', async () => {
    const out = await rotate.run(input('icc-adobergb-rocket-640x427.jpg'), {}, context());
    const d = await decode(out);
    expect(d.hasProfile).toBe(false);
    const got = await means(out.data);
    // sharp's stats() ignore profiles: the source's raw Adobe RGB red mean is 52.3, converted it is 41.6.
    expect(got[0]).toBeGreaterThan(39);
    expect(got[0]).toBeLessThan(44.5);
  });

  it('keeps the input format, SVG becoming PNG', async () => {
    const cases: [string, string, string][] = [
      ['png-photo-coffee-600x400.png', 'png', 'png'],
      ['webp-alpha-yellow-rose-400x301.webp', 'webp', 'webp'],
      ['tiff-video-001-150x103.tiff', 'tiff', 'tiff'],
      ['tiff-gray16-video-001-150x103.tiff', 'tiff', 'tiff'],
      ['svg-icon-cut-48.svg', 'png', 'png'],
      ['gray-camera-512.png', 'png', 'png'],
    ];
    for (const [file, ext, format] of cases) {
      const out = await rotate.run(input(file), {}, context());
      expect(out.ext, file).toBe(ext);
      expect((await decode(out)).format, file).toBe(format);
    }
  });

  it('keeps every frame of an animated GIF, also when rotated', async () => {
    const out = await decode(await rotate.run(input('anim-circular-table-640x360.gif', 90), {}, context()));
    expect([out.format, out.width, out.height, out.pages]).toEqual(['gif', 360, 640, 9]);
    expect(out.delay).toEqual(Array(9).fill(50));
    expect(out.loop).toBe(0);
  });
});

describe('failures', () => {
  it('empty, not-an-image and damaged files are DamagedFile, never a crash', async () => {
    const strict = context({ tryRepair: false });
    expect(await failure(rotate.run(input('broken-empty.jpg'), {}, strict))).toMatchObject({ status: 'DamagedFile', message: expect.stringMatching(/empty/) });
    expect(await failure(rotate.run(input('broken-not-an-image.png'), {}, strict))).toMatchObject({ status: 'DamagedFile', message: expect.stringMatching(/not an image/) });
    expect(await failure(rotate.run(input('broken-not-an-image.png'), {}, context()))).toMatchObject({ status: 'DamagedFile' });
    expect(await failure(rotate.run(input('broken-truncated-half-wood.jpg'), {}, strict))).toMatchObject({ status: 'DamagedFile', message: expect.stringMatching(/damaged.*premature end/) });
    expect(await failure(rotate.run(input('broken-truncated-camera.png'), {}, strict))).toMatchObject({ status: 'DamagedFile' });
    expect(await failure(rotate.run(input(Buffer.from('GIF89a'), 0, 'stub.gif'), {}, context()))).toMatchObject({ status: 'DamagedFile' });
  });

  it('rejects the 900 MP bomb by its header: DamagedFile, "exceeds the pixel limit"', async () => {
    for (const limit of [100_000_000, 0x3fff * 0x3fff]) {
      for (const tool of [ENGINE_TOOLS.rotateimage, ENGINE_TOOLS.resizeimage, ENGINE_TOOLS.repairimage]) {
        const f = await failure(tool.run(input('bomb-1bit-30000x30000.png'), { percentage: 10, resize_mode: 'percentage' }, context({ limitInputPixels: limit })));
        expect(f.status).toBe('DamagedFile');
        expect(f.message).toMatch(/exceeds the pixel limit/);
      }
    }
  });

  it('with try_image_repair, a truncated file is decoded leniently and succeeds with a warning', async () => {
    const out = await rotate.run(input('broken-truncated-camera.png'), {}, context({ tryRepair: true }));
    const d = await decode(out);
    expect([d.width, d.height]).toEqual([512, 512]);
    expect(out.warnings?.[0]).toMatch(/broken-truncated-camera\.png is damaged.*repaired/);
  });

  it('maps a sharp timeout to TimeOut', async () => {
    const slow = ENGINE_TOOLS.upscaleimage.run(input('photo-storm-1920x1280.jpg'), wire('upscaleimage', { multiplier: 4 }), context({ timeoutSeconds: 1 }));
    expect(await failure(slow)).toMatchObject({ status: 'TimeOut', message: expect.stringMatching(/1 s processing limit/) });
  });
});

async function sharp2x1(): Promise<Buffer> {
  const { default: sharp } = await import('sharp');
  const red = await solid(20, 20, '#ff0000');
  return sharp({ create: { width: 40, height: 20, channels: 3, background: '#0000ff' } })
    .composite([{ input: red, left: 0, top: 0 }])
    .png()
    .toBuffer();
}
