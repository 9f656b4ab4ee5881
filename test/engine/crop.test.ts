import { describe, expect, it } from 'vitest';
import { ENGINE_TOOLS } from '../../src/engine/index.js';
import { planCrop } from '../../src/engine/crop.js';
import { context, corpus, decode, failure, input, wire } from './helpers.js';

const crop = ENGINE_TOOLS.cropimage;

describe('planCrop', () => {
  it('keeps an area inside the image as given', () => {
    expect(planCrop({ width: 100, height: 50, x: 10, y: 20 }, 400, 300)).toEqual({ left: 10, top: 20, width: 100, height: 50 });
  });
  it('defaults x and y to 0 and a missing size to the edge', () => {
    expect(planCrop({ width: 100, height: 50 }, 400, 300)).toEqual({ left: 0, top: 0, width: 100, height: 50 });
    expect(planCrop({ x: 100 }, 400, 300)).toEqual({ left: 100, top: 0, width: 300, height: 300 });
  });
  it('clamps an area that runs past the edges', () => {
    expect(planCrop({ width: 1000, height: 1000, x: 350, y: 250 }, 400, 300)).toEqual({ left: 350, top: 250, width: 50, height: 50 });
  });
  it('refuses an area that starts outside the image with OutOfRange', () => {
    expect(() => planCrop({ width: 10, height: 10, x: 400, y: 0 }, 400, 300)).toThrow(/outside the 400×300 image/);
    expect(() => planCrop({ width: 10, height: 10, x: 0, y: 300 }, 400, 300)).toThrow(/y=300, outside the 400×300 image: x must be below 400 and y below 300/);
  });
});

describe('cropimage', () => {
  it('crops a real photo and keeps the pixels of the area', async () => {
    const out = await crop.run(input('png-photo-coffee-600x400.png'), wire('cropimage', { width: 200, height: 100, x: 50, y: 60 }), context());
    const d = await decode(out);
    expect([out.ext, d.width, d.height]).toEqual(['png', 200, 100]);
    const whole = await decode(corpus('png-photo-coffee-600x400.png'));
    expect(d.pixel(0, 0)).toEqual(whole.pixel(50, 60));
    expect(d.pixel(199, 99)).toEqual(whole.pixel(249, 159));
  });

  it('clamps to the image', async () => {
    const d = await decode(await crop.run(input('png-photo-coffee-600x400.png'), wire('cropimage', { width: 500, height: 500, x: 500, y: 300 }), context()));
    expect([d.width, d.height]).toEqual([100, 100]);
  });

  it('fails with OutOfRange when the area is entirely outside', async () => {
    const f = await failure(crop.run(input('png-photo-coffee-600x400.png'), wire('cropimage', { width: 10, height: 10, x: 600, y: 0 }), context()));
    expect(f).toMatchObject({ status: 'OutOfRange', message: expect.stringMatching(/x=600.*outside the 600×400 image/) });
  });

  it('crops in upright coordinates (EXIF orientation 6 applied first)', async () => {
    const d = await decode(await crop.run(input('exif-orient6-river-640x428.jpg'), wire('cropimage', { width: 400, height: 600 }), context()));
    expect([d.width, d.height]).toEqual([400, 600]);
    // Upright the photo is 428 wide: x = 428 is outside, although the stored image is 640 wide.
    expect((await failure(crop.run(input('exif-orient6-river-640x428.jpg'), wire('cropimage', { width: 10, height: 10, x: 500 }), context()))).status).toBe('OutOfRange');
  });

  it('crops every frame of an animated GIF', async () => {
    const d = await decode(await crop.run(input('anim-circular-table-640x360.gif'), wire('cropimage', { width: 100, height: 50, x: 10, y: 10 }), context()));
    expect([d.width, d.height, d.pages]).toEqual([100, 50, 9]);
  });
});
