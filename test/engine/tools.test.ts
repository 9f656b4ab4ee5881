/** repairimage, upscaleimage, removebackgroundimage. */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { ENGINE_TOOLS } from '../../src/engine/index.js';
import { clearBackground } from '../../src/engine/removebackground.js';
import { context, corpus, decode, failure, input, solid, wire } from './helpers.js';

describe('repairimage', () => {
  const repair = ENGINE_TOOLS.repairimage;

  it('makes the truncated JPEG and PNG and the corrupt-IDAT PNG of the corpus decodable, in their format', async () => {
    const cases: [string, string, string, number, number][] = [
      ['broken-truncated-half-wood.jpg', 'jpg', 'jpeg', 2560, 1920],
      ['broken-truncated-camera.png', 'png', 'png', 512, 512],
      ['broken-corrupt-idat-coffee.png', 'png', 'png', 600, 400],
    ];
    for (const [file, ext, format, w, h] of cases) {
      // The input really is broken: a strict decode fails.
      await expect(sharp(corpus(file)).raw().toBuffer(), file).rejects.toThrow();
      const out = await repair.run(input(file), {}, context({ tryRepair: false }));
      expect(out.ext, file).toBe(ext);
      // The output decodes strictly.
      const strict = await sharp(out.data, { failOn: 'warning' }).raw().toBuffer({ resolveWithObject: true });
      expect([(await sharp(out.data).metadata()).format, strict.info.width, strict.info.height], file).toEqual([format, w, h]);
    }
    // What could be read is kept: the top of the half wood photo matches the original.
    const fixed = await sharp((await repair.run(input('broken-truncated-half-wood.jpg'), {}, context())).data).resize(64, 48, { fit: 'fill' }).raw().toBuffer();
    const whole = await sharp(corpus('photo-wood-2560x1920.jpg')).resize(64, 48, { fit: 'fill' }).raw().toBuffer();
    let diff = 0;
    for (let i = 0; i < 64 * 10 * 3; i++) diff += Math.abs(fixed[i] - whole[i]);
    expect(diff / (64 * 10 * 3)).toBeLessThan(6);
  });

  it('re-encodes a healthy GIF in kind', async () => {
    const d = await decode(await repair.run(input('anim-circular-table-640x360.gif'), {}, context()));
    expect([d.format, d.pages]).toEqual(['gif', 9]);
  });

  it('cannot repair what is not an image: DamagedFile', async () => {
    for (const file of ['broken-empty.jpg', 'broken-not-an-image.png']) {
      expect((await failure(repair.run(input(file), {}, context()))).status, file).toBe('DamagedFile');
    }
  });
});

describe('upscaleimage', () => {
  const upscale = ENGINE_TOOLS.upscaleimage;

  it('enlarges 2× and 4× (string or number), upright', async () => {
    const two = await decode(await upscale.run(input('tiff-video-001-150x103.tiff'), wire('upscaleimage', { multiplier: 2 }), context()));
    expect([two.format, two.width, two.height]).toEqual(['tiff', 300, 206]);
    const four = await decode(await upscale.run(input('exif-orient6-iphone4s-205x102.jpg'), wire('upscaleimage', { multiplier: '4' }), context()));
    expect([four.format, four.width, four.height]).toEqual(['jpeg', 408, 820]);
    const dflt = await decode(await upscale.run(input('svg-icon-cut-48.svg'), wire('upscaleimage', {}), context()));
    expect([dflt.format, dflt.width, dflt.height]).toEqual(['png', 96, 96]);
  });

  it('refuses outputs above the pixel limit or the format maximum with OutOfRange', async () => {
    const f = await failure(upscale.run(input('png-photo-coffee-600x400.png'), wire('upscaleimage', { multiplier: 4 }), context({ limitInputPixels: 1_000_000 })));
    expect(f).toMatchObject({ status: 'OutOfRange', message: expect.stringMatching(/2400×1600 = 3840000 pixels, which exceeds the pixel limit of 1000000/) });
    const wide = await sharp({ create: { width: 5000, height: 2, channels: 3, background: '#888' } }).webp().toBuffer();
    const g = await failure(upscale.run(input(wide, 0, 'wide.webp'), wire('upscaleimage', { multiplier: 4 }), context()));
    expect(g).toMatchObject({ status: 'OutOfRange', message: expect.stringMatching(/WEBP allows \(16383/) });
  });
});

describe('removebackgroundimage', () => {
  const remove = ENGINE_TOOLS.removebackgroundimage;

  it('makes a uniform border-connected background transparent and keeps the subject, as PNG', async () => {
    const subject = await solid(40, 40, '#d02020');
    const photo = await sharp({ create: { width: 120, height: 100, channels: 3, background: '#f4f4f0' } })
      .composite([{ input: subject, left: 40, top: 30 }])
      .jpeg({ quality: 90 })
      .toBuffer();
    const out = await remove.run(input(photo, 0, 'product.jpg'), {}, context());
    const d = await decode(out);
    expect([out.ext, d.format, d.width, d.height]).toEqual(['png', 'png', 120, 100]);
    expect(d.pixel(2, 2)[3]).toBe(0);
    expect(d.pixel(110, 90)[3]).toBe(0);
    expect(d.pixel(60, 50)[3]).toBe(255);
    expect(out.warnings ?? []).toEqual([]);
  });

  it('does not eat into a subject of another colour, nor an enclosed area', () => {
    // 5×5 white with a black ring (1..3) enclosing a white centre pixel.
    const w = 5;
    const rgba = Buffer.alloc(w * w * 4, 255);
    for (let y = 1; y <= 3; y++) for (let x = 1; x <= 3; x++) if (x !== 2 || y !== 2) rgba.fill(0, (y * w + x) * 4, (y * w + x) * 4 + 3);
    expect(clearBackground(rgba, w, w)).toBe(16);
    expect(rgba[(2 * w + 2) * 4 + 3]).toBe(255); // the enclosed white stays
    expect(rgba[(1 * w + 1) * 4 + 3]).toBe(255); // the ring stays
    expect(rgba[3]).toBe(0);
  });

  it('leaves a photo without a uniform background unchanged, with a warning', async () => {
    const out = await remove.run(input('png-photo-astronaut-512.png'), {}, context());
    expect(out.ext).toBe('png');
    expect(out.warnings?.[0]).toMatch(/no uniform background/);
    const d = await decode(out);
    expect(d.pixel(256, 256)[3]).toBe(255);
  });
});
