import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { ENGINE_TOOLS } from '../../src/engine/index.js';
import { FALLBACK_FONT, escapeMarkup, installedFonts, pangoFont, resolveFont } from '../../src/engine/watermark.js';
import { context, decode, failure, input, solid, type Decoded, wire } from './helpers.js';

const watermark = ENGINE_TOOLS.watermarkimage;

const near = (px: number[], rgb: number[], tolerance = 3) => px.slice(0, 3).every((v, i) => Math.abs(v - rgb[i]) <= tolerance);

/** A stamp whose left half is red and right half blue, to see rotations. */
async function twoTone(width: number, height: number): Promise<Buffer> {
  const red = await solid(width / 2, height, '#ff0000');
  return sharp({ create: { width, height, channels: 3, background: '#0000ff' } }).composite([{ input: red, left: 0, top: 0 }]).png().toBuffer();
}

async function stampOnWhite(elements: Record<string, unknown>[], uploads: Record<string, Buffer>, width = 200, height = 100): Promise<Decoded> {
  const base = await solid(width, height, '#ffffff');
  return decode(await watermark.run(input(base), wire('watermarkimage', { elements }), context({ uploads })));
}

/** Bounding box of the pixels darker than 128 in luma. */
function inkBox(d: Decoded): { left: number; right: number; top: number; bottom: number } {
  let left = Infinity;
  let right = -1;
  let top = Infinity;
  let bottom = -1;
  for (let y = 0; y < d.height; y++) {
    for (let x = 0; x < d.width; x++) {
      const [r, g, b] = d.pixel(x, y);
      if (r + g + b < 384) {
        left = Math.min(left, x);
        right = Math.max(right, x);
        top = Math.min(top, y);
        bottom = Math.max(bottom, y);
      }
    }
  }
  return { left, right, top, bottom };
}

describe('fonts', () => {
  it('maps the API names to explicit families and warns, naming the package, when one is missing', () => {
    const full = new Set(['liberation sans', 'liberation serif', 'liberation mono', 'dejavu sans', 'comic neue', 'wenquanyi zen hei', 'lohit marathi']);
    expect(resolveFont('Arial', full)).toEqual({ family: 'Liberation Sans' });
    expect(resolveFont('Times New Roman', full)).toEqual({ family: 'Liberation Serif' });
    expect(resolveFont('Courier', full)).toEqual({ family: 'Liberation Mono' });
    expect(resolveFont('Verdana', full)).toEqual({ family: 'DejaVu Sans' });
    expect(resolveFont('Comic Sans MS', full)).toEqual({ family: 'Comic Neue' });
    expect(resolveFont('WenQuanYi Zen Hei', full)).toEqual({ family: 'WenQuanYi Zen Hei' });
    expect(resolveFont('Lohit Marathi', full)).toEqual({ family: 'Lohit Marathi' });
    expect(resolveFont('Arial Unicode MS', full)).toEqual({ family: 'DejaVu Sans' });

    const bare = new Set(['dejavu sans', 'dejavu serif']);
    const arial = resolveFont('Arial', bare);
    expect(arial.family).toBe('DejaVu Sans');
    expect(arial.warning).toMatch(/"Arial" needs the font "Liberation Sans" \(Debian package fonts-liberation2\), which is not installed; "DejaVu Sans" was used instead/);
    expect(resolveFont('Lohit Marathi', bare).warning).toMatch(/fonts-lohit-deva-marathi/);
    expect(resolveFont('Comic Sans MS', bare).warning).toMatch(/fonts-comic-neue/);
    expect(resolveFont('Verdana', bare)).toEqual({ family: 'DejaVu Sans' });
    expect(resolveFont('Georgia', bare).warning).toMatch(/not one of/);
    // Without fc-list we cannot check, and trust the mapping.
    expect(resolveFont('Arial', undefined)).toEqual({ family: 'Liberation Sans' });
  });

  it('writes Pango font descriptions with the comma after the family, and escapes markup', () => {
    expect(pangoFont('Liberation Serif', 'Regular', 32)).toBe('Liberation Serif, 32');
    expect(pangoFont('Liberation Serif', 'Bold', 32)).toBe('Liberation Serif, Bold 32');
    expect(pangoFont('DejaVu Sans', 'Italic', 14)).toBe('DejaVu Sans, Italic 14');
    expect(pangoFont('DejaVu Sans', 'Bold-Italic', 14)).toBe('DejaVu Sans, Bold Italic 14');
    expect(escapeMarkup(`a < b & "c" > 'd'`)).toBe('a &lt; b &amp; &quot;c&quot; &gt; &apos;d&apos;');
  });

  it('renders with the mapped family, or DejaVu Sans with a warning where it is missing', async () => {
    const installed = await installedFonts();
    // Without fc-list the engine cannot check and trusts the mapping.
    const substituted = installed !== undefined && !installed.has('liberation serif');
    const text = { type: 'text', text: 'Hamburgefonts', font_family: 'Times New Roman', font_size: 40, gravity: 'NorthWest' };
    const out = await watermark.run(input(await solid(500, 80, '#ffffff')), wire('watermarkimage', { elements: [text] }), context());
    if (substituted) {
      expect(out.warnings).toEqual([expect.stringMatching(/Liberation Serif.*fonts-liberation2.*"DejaVu Sans" was used instead/)]);
    } else {
      expect(out.warnings ?? []).toEqual([]);
    }
    // The ink is as wide as a direct render that names the expected family (Liberation Serif and
    // DejaVu Sans differ by ~60 px here).
    const expectedFamily = substituted ? FALLBACK_FONT.family : 'Liberation Serif';
    const reference = await sharp({ text: { text: 'Hamburgefonts', font: `${expectedFamily}, 40`, dpi: 72 } }).png().toBuffer();
    const refInk = await sharp(reference).metadata();
    const box = inkBox(await decode(out));
    // sharp's text image is cropped to the ink horizontally (±2 px of anti-aliasing).
    expect(Math.abs(box.right - box.left + 1 - refInk.width)).toBeLessThanOrEqual(3);
  });
});

describe('watermarkimage', () => {
  it('stamps an image at 50 % opacity: red over white ≈ [255, 127, 127]', async () => {
    const d = await stampOnWhite([{ type: 'image', image: 'red.png', transparency: 50 }], { 'red.png': await solid(40, 20, '#ff0000') });
    expect(near(d.pixel(100, 50), [255, 127, 127], 2)).toBe(true);
    expect(d.pixel(5, 5).slice(0, 3)).toEqual([255, 255, 255]);
    expect(d.channels).toBe(3); // an opaque input stays opaque
  });

  it('accepts the stamp under server_filename too, and type defaults to image when only a file is given', async () => {
    const d = await stampOnWhite([{ server_filename: 'red.png' }], { 'red.png': await solid(40, 20, '#ff0000') });
    expect(near(d.pixel(100, 50), [255, 0, 0])).toBe(true);
  });

  it('stamps text in its colour and opacity', async () => {
    // U+2588 FULL BLOCK gives a solid area to sample; Verdana maps to DejaVu Sans, which has it.
    const block = { type: 'text', text: '\u2588\u2588', font_family: 'Verdana', font_size: 60, font_color: '#ff0000', transparency: 50 };
    const d = await stampOnWhite([block], {});
    expect(near(d.pixel(100, 50), [255, 127, 127], 3)).toBe(true);
    expect(d.pixel(2, 2).slice(0, 3)).toEqual([255, 255, 255]);
  });

  it('escapes markup characters in the text instead of failing', async () => {
    const out = await watermark.run(input(await solid(300, 60, '#ffffff')), wire('watermarkimage', { elements: [{ text: '<b>Tom & "Jerry"</b>', font_size: 20, font_family: 'Verdana' }] }), context());
    const box = inkBox(await decode(out));
    expect(box.right - box.left).toBeGreaterThan(150); // the tags are printed, not interpreted
  });

  const gravities: [string, [number, number]][] = [
    ['NorthWest', [5, 5]],
    ['North', [100, 5]],
    ['NorthEast', [195, 5]],
    ['West', [5, 50]],
    ['CenterWest', [5, 50]],
    ['Center', [100, 50]],
    ['East', [195, 50]],
    ['CenterEast', [195, 50]],
    ['SouthWest', [5, 95]],
    ['South', [100, 95]],
    ['SouthEast', [195, 95]],
  ];
  it.each(gravities)('places a stamp at gravity %s', async (gravity, [x, y]) => {
    const d = await stampOnWhite([{ type: 'image', image: 's.png', gravity }], { 's.png': await solid(20, 10, '#0000ff') });
    expect(near(d.pixel(x, y), [0, 0, 255])).toBe(true);
    const blue = countColour(d, [0, 0, 255]);
    expect(blue).toBe(200);
  });

  it('shifts the stamp by the adjustment percentages (right and down)', async () => {
    const d = await stampOnWhite([{ type: 'image', image: 's.png', gravity: 'NorthWest', horizontal_adjustment_percent: 10, vertical_adjustment_percent: 20 }], { 's.png': await solid(20, 10, '#0000ff') });
    expect(near(d.pixel(25, 25), [0, 0, 255])).toBe(true);
    expect(near(d.pixel(5, 5), [255, 255, 255])).toBe(true);
    const back = await stampOnWhite([{ type: 'image', image: 's.png', gravity: 'SouthEast', horizontal_adjustment_percent: -10, vertical_adjustment_percent: -20 }], { 's.png': await solid(20, 10, '#0000ff') });
    expect(near(back.pixel(175, 75), [0, 0, 255])).toBe(true);
  });

  it('mosaic stamps 9 times in a 3×3 grid', async () => {
    const d = await stampOnWhite([{ type: 'image', image: 's.png', mosaic: true, gravity: 'NorthWest' }], { 's.png': await solid(10, 10, '#0000ff') }, 300, 300);
    expect(countColour(d, [0, 0, 255])).toBe(900);
    for (const y of [50, 150, 250]) for (const x of [50, 150, 250]) expect(near(d.pixel(x, y), [0, 0, 255]), `${x},${y}`).toBe(true);
  });

  it('rotates the stamp counter-clockwise', async () => {
    const d = await stampOnWhite([{ type: 'image', image: 't.png', rotation: 90 }], { 't.png': await twoTone(40, 10) });
    // 40×10, red left and blue right, turned 90° counter-clockwise: blue on top, red below.
    expect(near(d.pixel(100, 40), [0, 0, 255], 8)).toBe(true);
    expect(near(d.pixel(100, 60), [255, 0, 0], 8)).toBe(true);
    expect(near(d.pixel(115, 50), [255, 255, 255])).toBe(true);
  });

  it('scales a stamp larger than the image down to fit', async () => {
    const d = await stampOnWhite([{ type: 'image', image: 'big.png' }], { 'big.png': await solid(400, 200, '#ff0000') }, 100, 100);
    expect([d.width, d.height]).toEqual([100, 100]);
    expect(near(d.pixel(50, 50), [255, 0, 0])).toBe(true);
    expect(near(d.pixel(50, 10), [255, 255, 255])).toBe(true);
    expect(countColour(d, [255, 0, 0])).toBe(100 * 50);
  });

  it('stacks several elements in order', async () => {
    const uploads = { 'red.png': await solid(40, 20, '#ff0000'), 'blue.png': await solid(20, 10, '#0000ff') };
    const d = await stampOnWhite([{ type: 'image', image: 'red.png' }, { type: 'image', image: 'blue.png' }], uploads);
    expect(near(d.pixel(100, 50), [0, 0, 255])).toBe(true);
    expect(near(d.pixel(85, 45), [255, 0, 0])).toBe(true);
  });

  it('a missing stamp file is ServerFileNotFound', async () => {
    const f = await failure(watermark.run(input(await solid(10, 10, '#fff')), wire('watermarkimage', { elements: [{ type: 'image', image: 'nope.png' }] }), context()));
    expect(f).toMatchObject({ status: 'ServerFileNotFound', message: expect.stringMatching(/nope\.png/) });
  });

  it('stamps colour onto a greyscale photo, every frame of an animated GIF, and keeps JPEG as JPEG', async () => {
    const uploads = { 'red.png': await solid(40, 20, '#ff0000') };
    const gray = await decode(await watermark.run(input('gray-camera-512.png'), wire('watermarkimage', { elements: [{ image: 'red.png' }] }), context({ uploads })));
    expect(near(gray.pixel(256, 256), [255, 0, 0])).toBe(true);

    const anim = await decode(await watermark.run(input('anim-circular-table-640x360.gif'), wire('watermarkimage', { elements: [{ image: 'red.png', gravity: 'NorthWest' }] }), context({ uploads })));
    expect(anim.pages).toBe(9);
    for (let page = 0; page < 9; page++) expect(near(anim.pixel(10, 10, page), [255, 0, 0], 12), `frame ${page}`).toBe(true);

    const jpg = await watermark.run(input('exif-orient6-river-640x428.jpg'), wire('watermarkimage', { elements: [{ text: '© 2026', font_size: 30 }] }), context());
    const j = await decode(jpg);
    expect([jpg.ext, j.format, j.width, j.height]).toEqual(['jpg', 'jpeg', 428, 640]);
  });
});

function countColour(d: Decoded, rgb: number[]): number {
  let n = 0;
  for (let y = 0; y < d.height; y++) for (let x = 0; x < d.width; x++) if (near(d.pixel(x, y), rgb)) n++;
  return n;
}
