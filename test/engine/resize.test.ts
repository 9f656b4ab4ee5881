import { describe, expect, it } from 'vitest';
import { ENGINE_TOOLS } from '../../src/engine/index.js';
import { planResize } from '../../src/engine/resize.js';
import { withDefaults } from '../../src/protocol/typed.js';
import { context, corpus, decode, failure, input, solid, wire } from './helpers.js';

const resize = ENGINE_TOOLS.resizeimage;

describe('planResize', () => {
  const cases: [string, Record<string, unknown>, [number, number]][] = [
    ['fit inside a box, ratio kept', { pixels_width: 200, pixels_height: 200 }, [200, 150]],
    ['width only', { pixels_width: 100 }, [100, 75]],
    ['height only', { pixels_height: 60 }, [80, 60]],
    ['no enlargement by default', { pixels_width: 800, pixels_height: 800 }, [400, 300]],
    ['enlargement allowed', { pixels_width: 800, pixels_height: 800, no_enlarge_if_smaller: false }, [800, 600]],
    ['exact size without the ratio', { pixels_width: 200, pixels_height: 200, maintain_ratio: false }, [200, 200]],
    ['exact, one side missing keeps that side', { pixels_width: 100, maintain_ratio: false }, [100, 300]],
    ['exact, no enlargement clamps each side', { pixels_width: 800, pixels_height: 100, maintain_ratio: false }, [400, 100]],
    ['exact, enlargement allowed', { pixels_width: 800, pixels_height: 100, maintain_ratio: false, no_enlarge_if_smaller: false }, [800, 100]],
    ['percentage', { resize_mode: 'percentage', percentage: 50 }, [200, 150]],
    ['percentage above 100 is held back by default', { resize_mode: 'percentage', percentage: 200 }, [400, 300]],
    ['percentage above 100 allowed', { resize_mode: 'percentage', percentage: 200, no_enlarge_if_smaller: false }, [800, 600]],
    ['percentage never below 1 px', { resize_mode: 'percentage', percentage: 1 }, [4, 3]],
    ['wire strings', { resize_mode: 'pixels', pixels_width: '200', maintain_ratio: 'true', no_enlarge_if_smaller: '0' }, [200, 150]],
    ['percentage mode inferred when only percentage is given', { percentage: 25 }, [100, 75]],
  ];
  it.each(cases)('%s', (_name, params, expected) => {
    const { width, height } = planResize(wire('resizeimage', params), 400, 300);
    expect([width, height]).toEqual(expected);
  });

  it('refuses a pixels resize without any size', () => {
    // The server refuses these before the engine (src/protocol/rules.ts); the engine does not rely on it.
    expect(() => planResize(withDefaults('resizeimage', { resize_mode: 'pixels' }), 400, 300)).toThrow(/neither pixels_width nor pixels_height/);
    expect(() => planResize(withDefaults('resizeimage', { resize_mode: 'percentage' }), 400, 300)).toThrow(/percentage/);
  });
});

describe('resizeimage', () => {
  it('resizes real photos by pixels and by percentage, keeping the format', async () => {
    const px = await resize.run(input('png-photo-coffee-600x400.png'), wire('resizeimage', { pixels_width: 300, pixels_height: 300 }), context());
    const d = await decode(px);
    expect([px.ext, d.format, d.width, d.height]).toEqual(['png', 'png', 300, 200]);

    const pct = await decode(await resize.run(input('photo-storm-1920x1280.jpg'), wire('resizeimage', { resize_mode: 'percentage', percentage: 10 }), context()));
    expect([pct.format, pct.width, pct.height]).toEqual(['jpeg', 192, 128]);

    const fill = await decode(await resize.run(input('png-photo-coffee-600x400.png'), wire('resizeimage', { pixels_width: 100, pixels_height: 100, maintain_ratio: false }), context()));
    expect([fill.width, fill.height]).toEqual([100, 100]);
  });

  it('works on the upright image: EXIF orientation 6 and the per-file rotation come first', async () => {
    const upright = await decode(await resize.run(input('exif-orient6-river-640x428.jpg'), wire('resizeimage', { pixels_width: 214 }), context()));
    expect([upright.width, upright.height]).toEqual([214, 320]);
    const turned = await decode(await resize.run(input('exif-orient6-river-640x428.jpg', 90), wire('resizeimage', { pixels_width: 320 }), context()));
    expect([turned.width, turned.height]).toEqual([320, 214]);
  });

  it('does not enlarge unless asked', async () => {
    const small = await solid(40, 30, '#336699');
    const kept = await decode(await resize.run(input(small), wire('resizeimage', { pixels_width: 400 }), context()));
    expect([kept.width, kept.height]).toEqual([40, 30]);
    const grown = await decode(await resize.run(input(small), wire('resizeimage', { pixels_width: 400, no_enlarge_if_smaller: false }), context()));
    expect([grown.width, grown.height]).toEqual([400, 300]);
  });

  it('resizes every frame of an animated GIF', async () => {
    const out = await decode(await resize.run(input('anim-circular-table-640x360.gif'), wire('resizeimage', { pixels_width: 160 }), context()));
    expect([out.format, out.width, out.height, out.pages]).toEqual(['gif', 160, 90, 9]);
    expect(out.delay).toEqual(Array(9).fill(50));
  });

  it('resizes every frame of an animated WebP, keeping its delays and loop', async () => {
    const { default: sharp } = await import('sharp');
    const webp = await sharp(corpus('anim-circular-table-640x360.gif'), { animated: true }).webp({ quality: 60, delay: Array(9).fill(120), loop: 3 }).toBuffer();
    const out = await resize.run(input(webp, 0, 'anim.webp'), wire('resizeimage', { resize_mode: 'percentage', percentage: 25 }), context());
    const d = await decode(out);
    expect([out.ext, d.format, d.width, d.height, d.pages]).toEqual(['webp', 'webp', 160, 90, 9]);
    expect(d.delay).toEqual(Array(9).fill(120));
    expect(d.loop).toBe(3);
  });

  it('refuses an output beyond the pixel limit before working', async () => {
    const f = await failure(resize.run(input(await solid(100, 100, '#fff')), wire('resizeimage', { resize_mode: 'percentage', percentage: 1000, no_enlarge_if_smaller: false }), context({ limitInputPixels: 500_000 })));
    expect(f).toMatchObject({ status: 'OutOfRange', message: expect.stringMatching(/1000×1000 = 1000000 pixels.*exceeds the pixel limit/) });
  });
});
