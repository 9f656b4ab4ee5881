import { describe, expect, it } from 'vitest';
import { ENGINE_TOOLS } from '../../src/engine/index.js';
import { context, decode, failure, input, solid, wire } from './helpers.js';

const convert = ENGINE_TOOLS.convertimage;

describe('convertimage to jpg, png, gif', () => {
  it('converts PNG, WebP, GIF (first frame), TIFF, SVG and AVIF to JPEG', async () => {
    const { default: sharp } = await import('sharp');
    const avif = await sharp(await solid(64, 48, '#20a040')).avif().toBuffer();
    const cases: [ReturnType<typeof input>, number, number][] = [
      [input('png-photo-coffee-600x400.png'), 600, 400],
      [input('webp-alpha-yellow-rose-400x301.webp'), 400, 301],
      [input('anim-circular-table-640x360.gif'), 640, 360],
      [input('tiff-video-001-150x103.tiff'), 150, 103],
      [input('svg-icon-cut-48.svg'), 48, 48],
      [input(avif, 0, 'x.avif'), 64, 48],
    ];
    for (const [file, w, h] of cases) {
      const out = await convert.run(file, wire('convertimage', { to: 'jpg' }), context());
      const d = await decode(out);
      expect([out.ext, d.format, d.width, d.height, d.pages], file.filename).toEqual(['jpg', 'jpeg', w, h, 1]);
    }
  });

  it('flattens transparency onto white for JPEG', async () => {
    const clear = await solid(20, 20, 'rgba(0,0,0,0)', 'png', 4);
    const d = await decode(await convert.run(input(clear), wire('convertimage', { to: 'jpg' }), context()));
    expect(d.pixel(10, 10)).toEqual([255, 255, 255, 255]);
    const rose = await decode(await convert.run(input('alpha-yellow-rose-400x301.png'), wire('convertimage', { to: 'jpg' }), context()));
    expect(rose.pixel(0, 0).slice(0, 3).every((v) => v >= 250)).toBe(true); // the corner is transparent in the PNG
  });

  it('converts to PNG (alpha kept) and GIF from any input; convert_to is honoured when to is absent', async () => {
    const png = await convert.run(input('webp-alpha-yellow-rose-400x301.webp'), wire('convertimage', { convert_to: 'png' }), context());
    const p = await decode(png);
    expect([png.ext, p.format, p.width, p.height]).toEqual(['png', 'png', 400, 301]);
    expect(p.pixel(0, 0)[3]).toBe(0);

    const gif = await convert.run(input('exif-orient6-river-640x428.jpg'), wire('convertimage', { to: 'gif' }), context());
    const g = await decode(gif);
    expect([gif.ext, g.format, g.width, g.height, g.pages]).toEqual(['gif', 'gif', 428, 640, 1]);
  });

  it('keeps an animated GIF animated when converting to gif, and upright with orientation 6', async () => {
    const g = await decode(await convert.run(input('anim-circular-table-640x360.gif'), wire('convertimage', { to: 'gif' }), context()));
    expect([g.pages, g.width, g.height]).toEqual([9, 640, 360]);
    const j = await decode(await convert.run(input('exif-orient6-river-640x428.jpg'), wire('convertimage', { to: 'png' }), context()));
    expect([j.width, j.height]).toEqual([428, 640]);
  });

  it('defaults to jpg', async () => {
    const out = await convert.run(input('png-photo-coffee-600x400.png'), wire('convertimage', {}), context());
    expect(out.ext).toBe('jpg');
  });
});

describe('convertimage to gif_animation', () => {
  it('joins the inputs in order into one animated GIF with gif_time delays and a loop', async () => {
    const frames = [await solid(60, 40, '#ff0000'), await solid(60, 40, '#00ff00'), await solid(60, 40, '#00ff00')];
    const params = { to: 'gif_animation', gif_time: 20, gif_loop: true };
    expect(convert.joins?.(wire('convertimage', params))).toBe(true);
    const out = await convert.runJoined!(frames.map((f, i) => input(f, 0, `f${i}.png`)), wire('convertimage', params), context());
    const d = await decode(out);
    expect([out.ext, d.format, d.width, d.height]).toEqual(['gif', 'gif', 60, 40]);
    // The two identical green frames stay two frames (keepDuplicateFrames), each 20 cs = 200 ms.
    expect(d.pages).toBe(3);
    expect(d.delay).toEqual([200, 200, 200]);
    expect(d.loop).toBe(0);
    expect(out.data.includes(Buffer.from('NETSCAPE2.0'))).toBe(true);
    expect(d.pixel(30, 20, 0).slice(0, 3)).toEqual([255, 0, 0]);
    expect(d.pixel(30, 20, 1).slice(0, 3)).toEqual([0, 255, 0]);
  });

  it('plays once when gif_loop is false', async () => {
    const frames = [await solid(10, 10, '#000'), await solid(10, 10, '#fff')].map((f, i) => input(f, 0, `f${i}.png`));
    const out = await convert.runJoined!(frames, wire('convertimage', { to: 'gif_animation', gif_time: 50, gif_loop: false }), context());
    const d = await decode(out);
    expect(d.delay).toEqual([500, 500]);
    expect(out.data.includes(Buffer.from('NETSCAPE2.0'))).toBe(false);
  });

  it('fits every frame into the first frame size (contain, white bars), after orientation', async () => {
    const blue = await solid(300, 100, '#0000ff');
    const inputs = [input('exif-orient6-iphone4s-205x102.jpg'), input(blue), input('svg-icon-cut-48.svg'), input('gray-camera-512.png')];
    const d = await decode(await convert.runJoined!(inputs, wire('convertimage', { to: 'gif_animation' }), context()));
    expect([d.width, d.height, d.pages]).toEqual([102, 205, 4]);
    expect(d.delay).toEqual([500, 500, 500, 500]);
    // The wide blue image is letterboxed in the portrait frame: white bars above and below (not the
    // previous frame showing through), blue in the middle.
    const near = (px: number[], rgb: number[]) => px.slice(0, 3).every((v, i) => Math.abs(v - rgb[i]) <= 8);
    expect(near(d.pixel(51, 2, 1), [255, 255, 255])).toBe(true);
    expect(near(d.pixel(51, 202, 1), [255, 255, 255])).toBe(true);
    expect(near(d.pixel(51, 102, 1), [0, 0, 255])).toBe(true);
    // The icon's transparent corner is white too.
    expect(near(d.pixel(1, 1, 2), [255, 255, 255])).toBe(true);
  });

  it('a single file asked for gif_animation through run() becomes a one-frame animation', async () => {
    const d = await decode(await convert.run(input(await solid(8, 8, '#123456')), wire('convertimage', { to: 'gif_animation', gif_time: 10 }), context()));
    expect([d.format, d.pages]).toEqual(['gif', 1]);
  });

  it('fails with the damaged input named', async () => {
    const inputs = [input(await solid(8, 8, '#123456')), input('broken-not-an-image.png')];
    const f = await failure(convert.runJoined!(inputs, wire('convertimage', { to: 'gif_animation' }), context()));
    expect(f).toMatchObject({ status: 'DamagedFile', message: expect.stringMatching(/broken-not-an-image\.png/) });
  });
});
