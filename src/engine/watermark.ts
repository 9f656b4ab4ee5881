/**
 * watermarkimage: stamps the `elements` (text or image) onto the image, in order, each at its gravity
 * position shifted by the adjustment percentages, or 9 times in a 3×3 grid when `mosaic` is set.
 *
 * Choices where the reference is silent:
 * - `font_size` is in points at 72 dpi, i.e. pixels of the em: 14 → a 14 px font, whatever the image size.
 * - Positive adjustments move the stamp right (horizontal) and down (vertical), by that percentage of the
 *   image's width or height; a stamp pushed past the edge is clipped, not pulled back.
 * - `rotation` turns the stamp counter-clockwise (protocol/tools.ts), around its centre, before placing it.
 * - A stamp larger than the image (for mosaic: than a grid cell) is scaled down to fit, keeping its ratio.
 * - East/West are the same places as CenterEast/CenterWest.
 * - `transparency` is the opacity in percent (100 = opaque), applied to the stamp's alpha.
 * Fields the official PHP library adds (docs/protocol.md §11, "Watermark element fields"):
 * - `width_percent`/`height_percent` scale the stamp, up or down and keeping its ratio, to fit a box of
 *   that share of the image's width/height (a text stamp is drawn again at the matching font size, so it
 *   stays sharp); a `width_percent` of 0 or none leaves the stamp at its own size (`height_percent` alone,
 *   always 100 from the library, means nothing). With `mosaic` the box is at most a cell.
 * - `x_pos_percent`/`y_pos_percent` put the stamp's top-left corner at that share of the image's width
 *   and height instead of the gravity position when either is above 0 (0/0 is the library's default).
 * - `horizontal_adjustment`/`vertical_adjustment` shift the stamp by that many pixels, on top of the
 *   percent adjustments.
 * On animated GIF/WebP every frame is stamped.
 */
import type { OverlayOptions } from 'sharp';
import type { ElementParams } from '../protocol/typed.js';
import { processImage, toOutput, encoder, outputFormatFor, type SharpModule, type Source } from './common.js';
import { EngineError, defineTool, type EngineContext } from './types.js';
import { escapeMarkup, installedFonts, missingGlyphs, pangoFont, resolveFont } from './fonts.js';

export { FALLBACK_FONT, FONT_MAP, escapeMarkup, installedFonts, missingGlyphs, pangoFont, resolveFont } from './fonts.js';

// ---------------------------------------------------------------------------------------------------
// Elements.

interface Element {
  type: string;
  text: string;
  image: string;
  gravity: string;
  vertical: number;
  horizontal: number;
  rotation: number;
  fontFamily: string;
  fontStyle: string;
  fontSize: number;
  fontColor: string;
  opacity: number;
  mosaic: boolean;
  widthPercent: number;
  heightPercent: number;
  xPos: number;
  yPos: number;
  hPixels: number;
  vPixels: number;
}

/**
 * The PHP library's element fields the server hands on (src/server/elements.ts), coerced; absent when
 * not sent.
 */
type ElementExtras = Partial<Record<'width_percent' | 'height_percent' | 'x_pos_percent' | 'y_pos_percent' | 'horizontal_adjustment' | 'vertical_adjustment', number>>;

/** An element as the server passes it: validated, its type settled and its defaults applied by the table. */
function readElement(raw: Record<string, unknown>): Element {
  const e = raw as ElementParams & ElementExtras;
  return {
    type: e.type,
    text: e.text ?? '',
    image: e.image ?? '',
    gravity: e.gravity,
    vertical: e.vertical_adjustment_percent,
    horizontal: e.horizontal_adjustment_percent,
    rotation: e.rotation,
    fontFamily: e.font_family,
    fontStyle: e.font_style,
    fontSize: e.font_size,
    fontColor: e.font_color,
    opacity: e.transparency / 100,
    mosaic: e.mosaic,
    widthPercent: e.width_percent ?? 0,
    heightPercent: e.height_percent ?? 0,
    xPos: e.x_pos_percent ?? 0,
    yPos: e.y_pos_percent ?? 0,
    hPixels: e.horizontal_adjustment ?? 0,
    vPixels: e.vertical_adjustment ?? 0,
  };
}

/** Horizontal and vertical anchor of each gravity: 0 = left/top, 0.5 = centre, 1 = right/bottom. */
const GRAVITY: Record<string, [number, number]> = {
  northwest: [0, 0],
  north: [0.5, 0],
  northeast: [1, 0],
  west: [0, 0.5],
  centerwest: [0, 0.5],
  center: [0.5, 0.5],
  east: [1, 0.5],
  centereast: [1, 0.5],
  southwest: [0, 1],
  south: [0.5, 1],
  southeast: [1, 1],
};

/** A stamp ready to composite: raw RGBA, non-premultiplied. */
interface Stamp {
  data: Buffer;
  width: number;
  height: number;
  warnings?: string[];
}

async function rawStamp(img: import('sharp').Sharp): Promise<Stamp> {
  const { data, info } = await img.ensureAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

async function renderText(sharp: SharpModule, el: Element, family: string, fontSize = el.fontSize): Promise<Stamp> {
  const markup = `<span foreground="${el.fontColor}">${escapeMarkup(el.text)}</span>`;
  return rawStamp(sharp({ text: { text: markup, font: pangoFont(family, el.fontStyle, fontSize), rgba: true, dpi: 72, align: 'centre' } }));
}

/** The `width_percent` × `height_percent` box the stamp is scaled to fit, or undefined when not asked for. */
function sizeBox(el: Element, src: Source): { width: number; height: number } | undefined {
  if (el.widthPercent <= 0) return undefined;
  const share = (p: number) => (p > 0 ? Math.min(p, 100) : 100) / 100;
  const cell = el.mosaic ? 3 : 1;
  return { width: Math.min(src.width * share(el.widthPercent), src.width / cell), height: Math.min(src.height * share(el.heightPercent), src.height / cell) };
}

/** Scales the stamp, up or down, to fit `box` keeping its ratio; text is drawn again at the matching size first. */
async function fitToBox(sharp: SharpModule, stamp: Stamp, box: { width: number; height: number }, redraw?: (fontSize: number) => Promise<Stamp>): Promise<Stamp> {
  const scale = Math.min(box.width / stamp.width, box.height / stamp.height);
  let out = stamp;
  if (redraw && Math.abs(scale - 1) > 0.01) out = await redraw(Math.max(1, Math.round(scale * 1000)) / 1000);
  const width = Math.max(1, Math.floor(box.width));
  const height = Math.max(1, Math.floor(box.height));
  if (out.width <= width && out.height <= height && (out.width === width || out.height === height)) return out;
  const raw = sharp(out.data, { raw: { width: out.width, height: out.height, channels: 4 } });
  return rawStamp(raw.resize({ width, height, fit: 'inside' }));
}

async function loadImageStamp(el: Element, ctx: EngineContext, warnings: Set<string>): Promise<Stamp> {
  const bytes = await ctx.getUploaded(el.image);
  if (!bytes) throw new EngineError('ServerFileNotFound', `the watermark image "${el.image}" was not uploaded to this task`);
  // Through processImage so the stamp gets the same EXIF orientation, colour handling, repair and errors.
  const stamp = await processImage({ data: bytes, filename: `watermark image ${el.image}`, rotate: 0 }, ctx, {}, (src) => rawStamp(src.image()));
  for (const w of stamp.warnings ?? []) warnings.add(w);
  return stamp;
}

/** Rotation, fitting into `box` and opacity, in that order. */
async function shapeStamp(sharp: SharpModule, stamp: Stamp, el: Element, box: { width: number; height: number }): Promise<Stamp> {
  const raw = (s: Stamp) => sharp(s.data, { raw: { width: s.width, height: s.height, channels: 4 } });
  let out = stamp;
  const turn = ((el.rotation % 360) + 360) % 360;
  if (turn !== 0) {
    // sharp turns clockwise; the API's rotation is counter-clockwise. The corners become transparent.
    out = await rawStamp(raw(out).rotate(360 - turn, { background: { r: 0, g: 0, b: 0, alpha: 0 } }));
  }
  if (out.width > box.width || out.height > box.height) {
    out = await rawStamp(raw(out).resize({ width: Math.max(1, Math.floor(box.width)), height: Math.max(1, Math.floor(box.height)), fit: 'inside' }));
  }
  if (el.opacity < 1) {
    // composite() has no opacity option: scale the stamp's alpha channel instead.
    const data = Buffer.from(out.data);
    for (let i = 3; i < data.length; i += 4) data[i] = Math.round(data[i] * el.opacity);
    out = { ...out, data };
  }
  return out;
}

/** Top-left corners of a stamp: one from the gravity and adjustments, or the 9 centres of a 3×3 grid. */
export function placements(el: Pick<Element, 'gravity' | 'horizontal' | 'vertical' | 'mosaic'> & Partial<Pick<Element, 'xPos' | 'yPos' | 'hPixels' | 'vPixels'>>, stamp: { width: number; height: number }, width: number, height: number): { left: number; top: number }[] {
  if (el.mosaic) {
    const spots: { left: number; top: number }[] = [];
    for (let row = 0; row < 3; row++) {
      for (let col = 0; col < 3; col++) {
        spots.push({ left: Math.round(((col + 0.5) * width) / 3 - stamp.width / 2), top: Math.round(((row + 0.5) * height) / 3 - stamp.height / 2) });
      }
    }
    return spots;
  }
  const [ax, ay] = GRAVITY[el.gravity.replace(/[\s_-]/g, '').toLowerCase()] ?? GRAVITY.center;
  const absolute = (el.xPos ?? 0) > 0 || (el.yPos ?? 0) > 0;
  const baseLeft = absolute ? (width * (el.xPos ?? 0)) / 100 : (width - stamp.width) * ax;
  const baseTop = absolute ? (height * (el.yPos ?? 0)) / 100 : (height - stamp.height) * ay;
  return [
    {
      left: Math.round(baseLeft + (width * el.horizontal) / 100 + (el.hPixels ?? 0)),
      top: Math.round(baseTop + (height * el.vertical) / 100 + (el.vPixels ?? 0)),
    },
  ];
}

async function overlaysFor(sharp: SharpModule, el: Element, index: number, src: Source, ctx: EngineContext, warnings: Set<string>): Promise<OverlayOptions[]> {
  let stamp: Stamp;
  const box = sizeBox(el, src);
  if (el.type === 'image') {
    if (!el.image) throw new EngineError('ServerFileNotFound', `elements[${index}] is an image element without an image (server filename)`);
    stamp = await loadImageStamp(el, ctx, warnings);
    if (box) stamp = await fitToBox(src.sharp, stamp, box);
  } else {
    if (el.text.trim() === '') {
      warnings.add(`elements[${index}] is a text element with no text; it was skipped`);
      return [];
    }
    const font = resolveFont(el.fontFamily, await installedFonts());
    if (font.warning) warnings.add(font.warning);
    const missing = await missingGlyphs(el.text);
    if (missing.length) warnings.add(`elements[${index}]: no installed font has ${missing.join(' ')}; they are drawn as empty boxes (install a font that has them, e.g. fonts-noto-cjk for CJK)`);
    stamp = await renderText(sharp, el, font.family);
    if (box) stamp = await fitToBox(sharp, stamp, box, (scale) => renderText(sharp, el, font.family, Math.max(1, Math.round(el.fontSize * scale))));
  }
  const bounds = el.mosaic ? { width: src.width / 3, height: src.height / 3 } : { width: src.width, height: src.height };
  const shaped = await shapeStamp(sharp, stamp, el, bounds);
  const overlays: OverlayOptions[] = [];
  // sharp composites onto an animated image's whole strip of frames, so stamp every frame explicitly.
  for (let page = 0; page < src.pages; page++) {
    for (const { left, top } of placements(el, shaped, src.width, src.height)) {
      overlays.push({ input: shaped.data, raw: { width: shaped.width, height: shaped.height, channels: 4 }, left, top: top + page * src.height });
    }
  }
  return overlays;
}

export const tool = defineTool('watermarkimage', {
  run(input, params, ctx) {
    const elements = (params.elements ?? []).map(readElement);
    return processImage(input, ctx, { animated: true }, async (src) => {
      const warnings = new Set<string>();
      const overlays: OverlayOptions[] = [];
      for (const [i, el] of elements.entries()) overlays.push(...(await overlaysFor(src.sharp, el, i, src, ctx, warnings)));
      const format = outputFormatFor(src.format);
      let img = src.image();
      if (overlays.length > 0) {
        img = img.composite(overlays);
        // Compositing adds an alpha channel; an opaque input should stay opaque (and smaller).
        if (!src.meta.hasAlpha) img = img.removeAlpha();
      }
      return toOutput(encoder(img, format, src), format, [...warnings]);
    });
  },
});
