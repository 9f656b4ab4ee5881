/**
 * Every flag of every tool, table-driven: what reached the server (the engine records the validated
 * process parameters) and what landed on disk (dimensions, format, frames).
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, startEngine, tempDir } from '../helpers/cli.js';
import { runInProcess } from '../helpers/inproc.js';

let engine: Awaited<ReturnType<typeof startEngine>>;
beforeAll(async () => {
  engine = await startEngine();
});
afterAll(() => engine.server.close());

/** Small corpus images: 205×102 JPEG (EXIF orientation 6 → 102×205 upright), 600×400 PNG, 512×512 gray PNG. */
const FILES = {
  'small.jpg': 'cmyk-video-001-150x103.jpg',
  'coffee.png': 'png-photo-coffee-600x400.png',
  'camera.png': 'gray-camera-512.png',
  'rose.png': 'alpha-yellow-rose-400x301.png',
  'stamp.png': 'alpha-yellow-rose-400x301.png',
  'trunc.jpg': 'broken-truncated-half-wood.jpg',
  'anim.gif': 'anim-circular-table-640x360.gif',
};

interface Row {
  name: string;
  argv: string[];
  /** Subset of the process parameters the engine must have received. */
  params: Record<string, unknown>;
  /** The output file (relative to out/) and what it must be. */
  out?: { file: string; format?: string; width?: number; height?: number; pages?: number; delay?: number[]; loop?: number };
  /** Per-file attributes of files[0] that must have arrived. */
  file?: Record<string, unknown>;
}

const rows: Row[] = [
  { name: 'compress default', argv: ['compress', 'coffee.png'], params: { compression_level: 'recommended' }, out: { file: 'coffee.png', format: 'png', width: 600, height: 400 } },
  { name: 'compress -l extreme', argv: ['compress', 'coffee.png', '-l', 'extreme'], params: { compression_level: 'extreme' }, out: { file: 'coffee.png', format: 'png', width: 600 } },
  { name: 'compress --compression-level low', argv: ['compress', 'small.jpg', '--compression-level', 'low'], params: { compression_level: 'low' } },
  { name: 'resize -w', argv: ['resize', 'coffee.png', '-w', '300'], params: { resize_mode: 'pixels', pixels_width: 300, maintain_ratio: true, no_enlarge_if_smaller: true }, out: { file: 'coffee.png', width: 300, height: 200 } },
  { name: 'resize --pixels-height', argv: ['resize', 'coffee.png', '--pixels-height', '100'], params: { pixels_height: 100 }, out: { file: 'coffee.png', width: 150, height: 100 } },
  { name: 'resize -w -H --no-maintain-ratio', argv: ['resize', 'coffee.png', '-w', '100', '-H', '100', '--no-maintain-ratio'], params: { maintain_ratio: false }, out: { file: 'coffee.png', width: 100, height: 100 } },
  { name: 'resize --maintain-ratio (fit inside)', argv: ['resize', 'coffee.png', '-w', '100', '-H', '100', '--maintain-ratio'], params: { maintain_ratio: true }, out: { file: 'coffee.png', width: 100, height: 67 } },
  { name: 'resize -p', argv: ['resize', 'coffee.png', '-p', '25'], params: { resize_mode: 'percentage', percentage: 25 }, out: { file: 'coffee.png', width: 150, height: 100 } },
  { name: 'resize --resize-mode percentage --percentage', argv: ['resize', 'coffee.png', '--resize-mode', 'percentage', '--percentage', '50'], params: { resize_mode: 'percentage', percentage: 50 }, out: { file: 'coffee.png', width: 300 } },
  { name: 'resize never enlarges by default', argv: ['resize', 'coffee.png', '-w', '1200'], params: { no_enlarge_if_smaller: true }, out: { file: 'coffee.png', width: 600 } },
  { name: 'resize --enlarge-if-smaller', argv: ['resize', 'coffee.png', '-w', '1200', '--enlarge-if-smaller'], params: { no_enlarge_if_smaller: false }, out: { file: 'coffee.png', width: 1200, height: 800 } },
  { name: 'crop', argv: ['crop', 'coffee.png', '--width', '200', '--height', '100', '--x', '50', '--y', '20'], params: { width: 200, height: 100, x: 50, y: 20 }, out: { file: 'coffee.png', width: 200, height: 100 } },
  { name: 'crop clamps to the image', argv: ['crop', 'coffee.png', '--width', '400', '--height', '400', '--x', '500', '--y', '300'], params: { x: 500, y: 300 }, out: { file: 'coffee.png', width: 100, height: 100 } },
  { name: 'convert --to jpg', argv: ['convert', 'rose.png', '--to', 'jpg'], params: { to: 'jpg', convert_to: 'jpg' }, out: { file: 'rose.jpg', format: 'jpeg', width: 400, height: 301 } },
  { name: 'convert -t png', argv: ['convert', 'small.jpg', '-t', 'png'], params: { to: 'png' }, out: { file: 'small.png', format: 'png', width: 150, height: 103 } },
  { name: 'convert --to gif', argv: ['convert', 'small.jpg', '--to', 'gif'], params: { to: 'gif' }, out: { file: 'small.gif', format: 'gif', width: 150 } },
  {
    name: 'convert --to gif_animation --gif-time --no-gif-loop',
    argv: ['convert', 'coffee.png', 'camera.png', 'rose.png', '--to', 'gif_animation', '--gif-time', '20', '--no-gif-loop'],
    params: { to: 'gif_animation', gif_time: 20, gif_loop: false },
    out: { file: 'coffee.gif', format: 'gif', pages: 3, delay: [200, 200, 200] },
  },
  {
    name: 'convert gif_animation loops by default',
    argv: ['convert', 'coffee.png', 'camera.png', '--to', 'gif_animation', '-O', 'out/anim.gif'],
    params: { to: 'gif_animation', gif_time: 50, gif_loop: true },
    out: { file: 'anim.gif', pages: 2, delay: [500, 500], loop: 0 },
  },
  { name: 'rotate --rotate 90', argv: ['rotate', 'coffee.png', '--rotate', '90'], params: {}, file: { rotate: 90 }, out: { file: 'coffee.png', width: 400, height: 600 } },
  { name: 'rotate --rotate 180 keeps the size', argv: ['rotate', 'coffee.png', '--rotate', '180'], params: {}, file: { rotate: 180 }, out: { file: 'coffee.png', width: 600, height: 400 } },
  { name: '--rotate on another tool', argv: ['resize', 'coffee.png', '-p', '50', '--rotate', '270'], params: { percentage: 50 }, file: { rotate: 270 }, out: { file: 'coffee.png', width: 200, height: 300 } },
  { name: 'repair a truncated JPEG', argv: ['repair', 'trunc.jpg'], params: {}, out: { file: 'trunc.jpg', format: 'jpeg', width: 2560, height: 1920 } },
  { name: 'upscale default ×2', argv: ['upscale', 'small.jpg'], params: { multiplier: '2' }, out: { file: 'small.jpg', width: 300, height: 206 } },
  { name: 'upscale -m 4', argv: ['upscale', 'rose.png', '-m', '4'], params: { multiplier: '4' }, out: { file: 'rose.png', width: 1600, height: 1204 } },
  {
    name: 'watermark --text with every element flag',
    argv: [
      'watermark', 'coffee.png', '--text', 'Hello', '--gravity', 'SouthEast', '--vertical-adjustment-percent', '-5', '--horizontal-adjustment-percent', '5',
      '--rotation', '30', '--font-family', 'Times New Roman', '--font-style', 'Bold', '--font-size', '40', '--font-color', '#00ff00', '--transparency', '50', '--mosaic',
    ],
    params: {
      elements: [
        { type: 'text', text: 'Hello', gravity: 'SouthEast', vertical_adjustment_percent: -5, horizontal_adjustment_percent: 5, rotation: 30, font_family: 'Times New Roman', font_style: 'Bold', font_size: 40, font_color: '#00ff00', transparency: 50, mosaic: true },
      ],
    },
    out: { file: 'coffee.png', width: 600, height: 400 },
  },
  {
    name: 'watermark --image uploads the stamp but does not process it',
    argv: ['watermark', 'coffee.png', '--image', 'stamp.png', '--gravity', 'Center', '--no-mosaic'],
    params: { elements: [{ type: 'image', gravity: 'Center', mosaic: false }] },
    out: { file: 'coffee.png', width: 600, height: 400 },
  },
  {
    name: 'watermark --elements JSON',
    argv: ['watermark', 'coffee.png', '--elements', '[{"type":"text","text":"A","gravity":"North"},{"type":"image","image":"stamp.png","transparency":30}]'],
    params: { elements: [{ type: 'text', text: 'A', gravity: 'North' }, { type: 'image', transparency: 30 }] },
    out: { file: 'coffee.png', width: 600 },
  },
  {
    name: 'common parameters',
    argv: [
      'compress', 'small.jpg', '--no-ignore-errors', '--no-try-image-repair', '--custom-int', '77', '--custom-string', 'batch-7',
      '--output-filename', '{filename}_{tool}', '--packaged-filename', 'pack_{date}', '--file-encryption-key', '0123456789abcdef', '--password', 'pw',
    ],
    params: { ignore_errors: false, try_image_repair: false, custom_int: 77, custom_string: 'batch-7', output_filename: '{filename}_{tool}', packaged_filename: 'pack_{date}' },
    file: { rotate: 0 },
    out: { file: 'small.jpg', format: 'jpeg' },
  },
  { name: 'an animated GIF stays animated through resize', argv: ['resize', 'anim.gif', '-p', '50'], params: { percentage: 50 }, out: { file: 'anim.gif', format: 'gif', width: 320, pages: 9 } },
];

describe.each(rows)('$name', (row) => {
  it('sends the parameters and writes the expected image', async () => {
    const dir = await tempDir();
    await fixture(dir, FILES);
    const before = engine.server.log.length;
    const argv = row.argv.includes('-O') ? row.argv : [...row.argv, '-o', 'out'];
    const res = await runInProcess([...argv, '-j', '1'], { cwd: dir, env: engine.env });
    expect(res.code, res.stderr).toBe(0);
    const processed = engine.server.log.slice(before).filter((r) => r.path === '/v1/process');
    expect(processed).toHaveLength(1);
    const params = processed[0].params as Record<string, unknown> & { files: Record<string, unknown>[] };
    expect(params).toMatchObject(row.params);
    if (row.file) expect(params.files[0]).toMatchObject(row.file);
    if (row.argv.includes('--image') || row.argv.some((a) => a.includes('stamp.png'))) {
      // The stamp is uploaded into the task but is not one of the processed files.
      expect(engine.server.log.slice(before).filter((r) => r.path === '/v1/upload')).toHaveLength(2);
      expect(params.files).toHaveLength(1);
    }
    if (row.out) {
      const file = path.join(dir, 'out', row.out.file);
      expect(await readdir(path.join(dir, 'out'))).toContain(row.out.file);
      const meta = await sharp(file, { animated: true }).metadata();
      if (row.out.format) expect(meta.format).toBe(row.out.format);
      if (row.out.width) expect(meta.width).toBe(row.out.width);
      if (row.out.height) expect(meta.pageHeight ?? meta.height).toBe(row.out.height);
      if (row.out.pages) expect(meta.pages).toBe(row.out.pages);
      if (row.out.delay) expect(meta.delay).toEqual(row.out.delay);
      if (row.out.loop !== undefined) expect(meta.loop).toBe(row.out.loop);
    }
  });
});

describe('values are checked before any upload', () => {
  it.each([
    [['resize', 'coffee.png', '-w', '0'], /--pixels-width.*at least 1/],
    [['resize', 'coffee.png'], /give a size/],
    [['resize', 'coffee.png', '-p', 'half'], /--percentage.*whole number/],
    [['crop', 'coffee.png', '--width', '10'], /--height/],
    [['convert', 'coffee.png', '--to', 'bmp'], /--to.*jpg, png, gif, gif_animation/],
    [['rotate', 'coffee.png', '--rotate', '45'], /--rotate.*0, 90, 180, 270/],
    [['rotate', 'coffee.png'], /--rotate <90\|180\|270> is required/],
    [['upscale', 'coffee.png', '-m', '3'], /--multiplier.*2, 4/],
    [['watermark', 'coffee.png'], /--text <text>, --image <file> or --elements/],
    [['watermark', 'coffee.png', '--text', 'x', '--gravity', 'Middle'], /--gravity.*NorthEast/],
    [['watermark', 'coffee.png', '--text', 'x', '--transparency', '0'], /--transparency.*at least 1/],
    [['watermark', 'coffee.png', '--text', 'x', '--font-color', 'red'], /font_color|--font-color/],
    [['watermark', 'coffee.png', '--image', 'nope.png'], /stamp image nope\.png does not exist/],
    [['compress', 'coffee.png', '--file-encryption-key', 'short'], /16, 24 or 32 characters/],
    [['compress', 'coffee.png', '-j', '0'], /--concurrency/],
    [['compress', 'coffee.png', '--on-conflict', 'clobber'], /--on-conflict/],
    [['compress', 'coffee.png', '--then', 'resize -p 500000'], /at most 1000/],
  ])('%j', async (argv, message) => {
    const dir = await tempDir();
    await fixture(dir, FILES);
    const before = engine.server.log.length;
    const res = await runInProcess(argv as string[], { cwd: dir, env: engine.env });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(message);
    expect(engine.server.log.length).toBe(before);
  });
});
