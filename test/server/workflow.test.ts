/**
 * The four-step workflow with real image bytes: start → upload → process → download, single output
 * and zip, checked with sharp and fflate.
 */
import { unzipSync } from 'fflate';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness, corpus } from './helpers.js';

let h: Harness;
beforeAll(async () => {
  h = await Harness.start();
});
afterAll(() => h.close());

describe('start', () => {
  it('returns a bare host, a task id and the quota', async () => {
    const res = await h.json('GET', '/start/resizeimage');
    expect(res.server).toBe(`127.0.0.1:${h.srv.port}`);
    expect(res.task).toMatch(/^[0-9a-f]{40}$/);
    expect(res.remaining_files).toBe(1_000_000);
  });

  it('accepts a region and refuses an unknown tool or region with StartError', async () => {
    expect((await h.json('GET', '/start/compressimage/eu')).task).toBeTruthy();
    const bad = await h.json('GET', '/start/makecoffee', {}, 400);
    expect(bad.error).toMatchObject({ type: 'StartError', code: 400 });
    expect(bad.error.param.tool[0]).toMatch(/compressimage/);
    expect((await h.json('GET', '/start/resizeimage/mars', {}, 400)).error.type).toBe('StartError');
  });
});

describe('resize', () => {
  it('resizes a JPEG to the requested width and serves it directly', async () => {
    const { task, files } = await h.prepare('resizeimage', [['rocket.jpg', corpus('icc-adobergb-rocket-640x427.jpg')]]);
    const res = await h.process({ task, tool: 'resizeimage', files, resize_mode: 'pixels', pixels_width: 320, pixels_height: 320 });
    expect(res).toMatchObject({ status: 'TaskSuccess', output_filenumber: 1, output_extensions: ['jpg'], download_filename: 'rocket.jpg' });
    expect(res.timer).toMatch(/^\d+\.\d{3}$/);
    expect(res.filesize).toBe(corpus('icc-adobergb-rocket-640x427.jpg').length);

    const { res: dl, bytes } = await h.download(task);
    expect(dl.status).toBe(200);
    expect(dl.headers.get('content-type')).toBe('image/jpeg');
    expect(Number(dl.headers.get('content-length'))).toBe(bytes.length);
    expect(bytes.length).toBe(res.output_filesize);
    expect(dl.headers.get('content-disposition')).toBe(`attachment; filename="rocket.jpg"; filename*=utf-8''rocket.jpg`);
    const meta = await sharp(bytes).metadata();
    expect(meta.format).toBe('jpeg');
    expect([meta.width, meta.height]).toEqual([320, 214]);
  });
});

describe('compress', () => {
  it('compresses several files into a zip with one entry per input', async () => {
    const { task, files } = await h.prepare('compressimage', [
      ['coffee.png', corpus('png-photo-coffee-600x400.png')],
      ['rocket.jpg', corpus('icc-adobergb-rocket-640x427.jpg')],
    ]);
    const res = await h.process({ task, tool: 'compressimage', files, compression_level: 'recommended' });
    expect(res.status).toBe('TaskSuccess');
    expect(res.output_filenumber).toBe(2);
    expect(res.download_filename).toBe('iloveimg-compressed.zip');
    expect([...res.output_extensions].sort()).toEqual(['jpg', 'png']);

    const { res: dl, bytes } = await h.download(task);
    expect(dl.headers.get('content-type')).toBe('application/zip');
    expect(dl.headers.get('content-disposition')).toContain('filename="iloveimg-compressed.zip"');
    const entries = unzipSync(bytes);
    expect(Object.keys(entries).sort()).toEqual(['coffee.png', 'rocket.jpg']);
    const png = await sharp(Buffer.from(entries['coffee.png'])).metadata();
    expect([png.format, png.width, png.height]).toEqual(['png', 600, 400]);
    const jpg = await sharp(Buffer.from(entries['rocket.jpg'])).metadata();
    expect([jpg.format, jpg.width, jpg.height]).toEqual(['jpeg', 640, 427]);
    expect(entries['rocket.jpg'].length).toBeLessThan(corpus('icc-adobergb-rocket-640x427.jpg').length);
  });
});
