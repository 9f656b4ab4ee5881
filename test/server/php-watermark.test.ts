/**
 * Watermark elements and process fields as the official PHP library sends them (every public property
 * of `Iloveimg\Element` with its defaults, `try_repair`), with their effect measured in real pixels.
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { corpus } from './helpers.js';
import { PhpClient, phpElement, taskProperties, type PhpFile } from './php-client.js';

let srv: RunningServer;
let php: PhpClient;
let WHITE: Buffer;
let RED: Buffer;
beforeAll(async () => {
  srv = await startServer();
  php = new PhpClient(srv.url, srv.projects[0]);
  WHITE = await sharp({ create: { width: 1000, height: 500, channels: 3, background: '#ffffff' } }).png().toBuffer();
  RED = await sharp({ create: { width: 100, height: 100, channels: 3, background: '#ff0000' } }).png().toBuffer();
});
afterAll(() => srv.close());

/** Uploads the photo (and a stamp, taken out of `files` as addElement() does), runs the elements. */
async function watermark(elements: (stamp: string) => Record<string, unknown>[], extra: Record<string, unknown> = {}) {
  const task = await php.start('watermarkimage');
  const photo = await php.upload(task, 'photo.png', WHITE);
  const stamp: PhpFile = await php.upload(task, 'stamp.png', RED);
  const res = await php.execute(taskProperties('watermarkimage', task, [photo], { elements: elements(stamp.server_filename), watermakFiles: [stamp], ...extra }));
  const body = res.json();
  if (res.status !== 200) return { body };
  const { data, info } = await sharp((await php.download(task)).bytes).raw().toBuffer({ resolveWithObject: true });
  return { body, data, info };
}

/** The bounding box of pixels that are not white, and how many there are. */
function ink(data: Buffer, info: { width: number; height: number; channels: number }) {
  let left = Infinity, top = Infinity, right = -1, bottom = -1, count = 0;
  for (let y = 0; y < info.height; y++) {
    for (let x = 0; x < info.width; x++) {
      const i = (y * info.width + x) * info.channels;
      if (data[i] > 240 && data[i + 1] > 240 && data[i + 2] > 240) continue;
      count++;
      left = Math.min(left, x);
      right = Math.max(right, x);
      top = Math.min(top, y);
      bottom = Math.max(bottom, y);
    }
  }
  return { left, top, width: right - left + 1, height: bottom - top + 1, count };
}

describe('Element fields of the PHP library', () => {
  it('the library defaults add no warning; its default width_percent=100 makes the text span the image', async () => {
    // Verdana (DejaVu Sans) is on every machine; Arial's substitute may not be, which would be a warning.
    const { body, data, info } = await watermark(() => [phpElement({ text: 'watermark text', font_family: 'Verdana' })]);
    expect(body).toMatchObject({ status: 'TaskSuccess' });
    expect(body.status_message).toBeUndefined();
    const box = ink(data!, info!);
    // width_percent=100 is sent by default: the text fits the whole width (docs/protocol.md §11).
    expect(box.width).toBeGreaterThan(950);
    expect(box.width).toBeLessThanOrEqual(1000);
  });

  it('setWidthPercent(20) makes the text a fifth of the image wide, at its gravity (watermark_advanced.php)', async () => {
    const element = phpElement({ text: 'watermark text', gravity: 'NorthWest', width_percent: 20, font_family: 'Verdana', font_style: 'Italic', font_size: '12', font_color: '#ff0000', transparency: '50' });
    const { body, data, info } = await watermark(() => [element]);
    expect(body.status).toBe('TaskSuccess');
    const box = ink(data!, info!);
    expect(box.width).toBeGreaterThan(170);
    expect(box.width).toBeLessThanOrEqual(200);
    expect([box.left < 15, box.top < 20]).toEqual([true, true]);
  });

  it('an image stamp: width_percent sizes it, x/y_pos_percent place it, opacity and transparency multiply', async () => {
    const { body, data, info } = await watermark((sf) => [phpElement({ type: 'image', image: sf, width_percent: 25, x_pos_percent: 50, y_pos_percent: 20, opacity: 50 })]);
    expect(body.status).toBe('TaskSuccess');
    const box = ink(data!, info!);
    // 25 % of 1000 px wide, fitted inside 100 % of the height: 250 × 250, top-left at (500, 100).
    expect(box).toMatchObject({ left: 500, top: 100, width: 250, height: 250 });
    const at = (x: number, y: number) => [...data!.subarray((y * info!.width + x) * 3, (y * info!.width + x) * 3 + 3)];
    const [r, g, b] = at(600, 200);
    expect(r).toBeGreaterThan(250);
    expect(Math.abs(g - 127)).toBeLessThan(6);
    expect(Math.abs(b - 127)).toBeLessThan(6);
  });

  it('mode stands in for type, pixel adjustments shift the stamp, bold thickens the text', async () => {
    const shifted = await watermark((sf) => [phpElement({ type: null, mode: 'image', server_filename: sf, width_percent: 0, gravity: 'NorthWest', horizontal_adjustment: 30, vertical_adjustment: 40 })]);
    expect(ink(shifted.data!, shifted.info!)).toMatchObject({ left: 30, top: 40, width: 100, height: 100 });

    const text = (bold: boolean) => watermark(() => [phpElement({ text: 'IIIIIIII', font_family: 'Verdana', width_percent: 0, font_size: 60, bold })]);
    const plain = await text(false);
    const regular = ink(plain.data!, plain.info!);
    const boldInk = await text(true);
    expect(ink(boldInk.data!, boldInk.info!).count).toBeGreaterThan(regular.count * 1.2);
  });

  it('fields without a known meaning are accepted and reported as warnings in status_message', async () => {
    const { body } = await watermark(() => [phpElement({ text: 'x', font_family: 'Verdana', zoom: 2, image_resize: '1', layer: 'below' })]);
    expect(body.status).toBe('TaskSuccessWithWarnings');
    expect(body.status_message).toContain('elements[0][zoom]=2 is accepted but has no effect');
    expect(body.status_message).toContain('elements[0][layer]');
    expect(body.status_message).not.toContain('image_resize');
  });

  it('bad values of those fields are refused like any parameter', async () => {
    const { body } = await watermark(() => [phpElement({ text: 'x', width_percent: 'wide', opacity: 300 })]);
    expect(body.error).toMatchObject({ type: 'ProcessingError' });
    expect(Object.keys(body.error.param).sort()).toEqual(['elements[0][opacity]', 'elements[0][width_percent]']);
  });
});

describe('process fields of the PHP library', () => {
  it('try_repair is the repair flag (try_image_repair)', async () => {
    const broken = corpus('broken-truncated-half-wood.jpg');
    const run = async (tryRepair: boolean) => {
      const task = await php.start('rotateimage');
      const file = await php.upload(task, 'wood.jpg', broken);
      return (await php.execute(taskProperties('rotateimage', task, [file], { try_repair: tryRepair }))).json();
    };
    expect((await run(false)).error).toMatchObject({ type: 'ProcessingError', param: [{ error: 'DamagedFile' }] });
    expect(srv.log.findLast((e) => e.path === '/v1/process')?.params).toMatchObject({ try_image_repair: false });
    expect((await run(true)).status).toMatch(/^TaskSuccess/);
  });
});
