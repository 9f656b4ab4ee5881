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
import { execFile } from 'node:child_process';
import type { OverlayOptions } from 'sharp';
import { ELEMENT_PARAMS } from '../protocol/tools.js';
import { paramBoolean, paramNumber, paramString, processImage, toOutput, encoder, outputFormatFor, type SharpModule, type Source } from './common.js';
import { EngineError, type EngineContext, type ToolImpl } from './types.js';

// ---------------------------------------------------------------------------------------------------
// Fonts.

interface FontChoice {
  family: string;
  /** The Debian package that installs it, for the warning when it is missing. */
  pkg: string;
}

/**
 * The API's font names mapped to explicit installed families. We never let fontconfig guess from the
 * API name: what it substitutes depends on the machine (docs/dependencies.md §3 saw "Comic Sans MS" become a
 * calligraphic script and "Impact" a Dingbats font). Liberation fonts are metric-compatible with Arial,
 * Times New Roman and Courier New; DejaVu Sans descends from Bitstream Vera, Verdana's look-alike, and
 * covers Latin, Greek, Cyrillic and Arabic for "Arial Unicode MS" (CJK glyphs then fall back through
 * fontconfig to WenQuanYi Zen Hei when it is installed).
 */
export const FONT_MAP: Readonly<Record<string, FontChoice>> = {
  Arial: { family: 'Liberation Sans', pkg: 'fonts-liberation2' },
  'Arial Unicode MS': { family: 'DejaVu Sans', pkg: 'fonts-dejavu-core' },
  Verdana: { family: 'DejaVu Sans', pkg: 'fonts-dejavu-core' },
  Courier: { family: 'Liberation Mono', pkg: 'fonts-liberation2' },
  'Times New Roman': { family: 'Liberation Serif', pkg: 'fonts-liberation2' },
  'Comic Sans MS': { family: 'Comic Neue', pkg: 'fonts-comic-neue' },
  'WenQuanYi Zen Hei': { family: 'WenQuanYi Zen Hei', pkg: 'fonts-wqy-zenhei' },
  'Lohit Marathi': { family: 'Lohit Marathi', pkg: 'fonts-lohit-deva-marathi' },
};

/** Used when the mapped family is not installed: DejaVu is on every machine of ours (docs/dependencies.md §3). */
export const FALLBACK_FONT: FontChoice = { family: 'DejaVu Sans', pkg: 'fonts-dejavu-core' };

let installedFamilies: Promise<Set<string> | undefined> | undefined;

/**
 * The font families fontconfig knows, lower-cased, from one `fc-list` run per process (sharp's bundled
 * fontconfig reads the same /etc/fonts configuration). Undefined when fc-list is not available: then we
 * cannot tell and trust the mapping.
 */
export function installedFonts(): Promise<Set<string> | undefined> {
  installedFamilies ??= new Promise((resolve) => {
    execFile('fc-list', [':', 'family'], { timeout: 10_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout) => {
      if (err) return resolve(undefined);
      const families = new Set<string>();
      for (const line of stdout.split('\n')) {
        for (const name of line.split(',')) {
          const family = name.replace(/\\/g, '').trim().toLowerCase();
          if (family) families.add(family);
        }
      }
      resolve(families);
    });
  });
  return installedFamilies;
}

const coverage = new Map<number, Promise<boolean>>();

/**
 * The characters of `text` that no installed font has (Pango would draw them as boxes), asked of
 * fontconfig once per character per process; ASCII is taken as covered. Empty when fc-list is missing.
 */
export async function missingGlyphs(text: string): Promise<string[]> {
  const chars = [...new Set([...text].filter((c) => c.codePointAt(0)! > 0x7e && c.trim() !== ''))].slice(0, 64);
  const covered = await Promise.all(
    chars.map((c) => {
      const cp = c.codePointAt(0)!;
      let p = coverage.get(cp);
      if (!p) {
        p = new Promise<boolean>((resolve) => execFile('fc-list', [`:charset=${cp.toString(16)}`, 'family'], { timeout: 10_000 }, (err, out) => resolve(Boolean(err) || out.trim() !== '')));
        coverage.set(cp, p);
      }
      return p;
    }),
  );
  return chars.filter((_, i) => !covered[i]);
}

/** The family to render `requested` with, and a warning when a substitute had to be used. */
export function resolveFont(requested: string, installed: Set<string> | undefined): { family: string; warning?: string } {
  const choice = FONT_MAP[requested] ?? Object.entries(FONT_MAP).find(([k]) => k.toLowerCase() === requested.toLowerCase())?.[1];
  if (!choice) {
    return {
      family: FALLBACK_FONT.family,
      warning: `font_family "${requested}" is not one of ${Object.keys(FONT_MAP).join(', ')}; "${FALLBACK_FONT.family}" was used instead`,
    };
  }
  if (!installed || installed.has(choice.family.toLowerCase())) return { family: choice.family };
  return {
    family: FALLBACK_FONT.family,
    warning: `font_family "${requested}" needs the font "${choice.family}" (Debian package ${choice.pkg}), which is not installed; "${FALLBACK_FONT.family}" was used instead`,
  };
}

/** Pango parses markup in every text, so the user's text must be escaped. */
export function escapeMarkup(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] as string);
}

/**
 * The Pango font description. The comma after the family is required: without it "Times New Roman 32"
 * parses as family "Times New" with style "Roman" (docs/dependencies.md §2).
 */
export function pangoFont(family: string, style: string, size: number): string {
  const s = style.toLowerCase();
  const words = [s.includes('bold') ? 'Bold' : '', s.includes('italic') ? 'Italic' : ''].filter(Boolean).join(' ');
  return `${family}, ${words ? `${words} ` : ''}${size}`;
}

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

const DEFAULTS = Object.fromEntries(ELEMENT_PARAMS.map((p) => [p.name, p.default])) as Record<string, string | number | boolean | undefined>;

function readElement(raw: unknown, index: number): Element {
  if (!raw || typeof raw !== 'object') throw new EngineError('UnknownError', `elements[${index}] is not an object`);
  const e = raw as Record<string, unknown>;
  const str = (k: string) => paramString(e, k, String(DEFAULTS[k] ?? ''));
  const num = (k: string) => paramNumber(e, k, Number(DEFAULTS[k] ?? 0)) ?? 0;
  const image = paramString(e, 'image', paramString(e, 'server_filename', ''));
  const color = str('font_color');
  return {
    // A stamp file without an explicit type is an image element, whatever the default says.
    type: paramString(e, 'type', image && !e.text ? 'image' : String(DEFAULTS.type)).toLowerCase(),
    text: e.text === undefined || e.text === null ? '' : String(e.text),
    image,
    gravity: str('gravity'),
    vertical: num('vertical_adjustment_percent'),
    horizontal: num('horizontal_adjustment_percent'),
    rotation: num('rotation'),
    fontFamily: str('font_family'),
    fontStyle: str('font_style'),
    fontSize: Math.max(1, num('font_size')),
    fontColor: /^#?([0-9a-f]{3}|[0-9a-f]{6})$/i.test(color) ? (color.startsWith('#') ? color : `#${color}`) : String(DEFAULTS.font_color),
    opacity: Math.min(100, Math.max(0, num('transparency'))) / 100,
    mosaic: paramBoolean(e, 'mosaic', Boolean(DEFAULTS.mosaic)),
    widthPercent: paramNumber(e, 'width_percent', 0) ?? 0,
    heightPercent: paramNumber(e, 'height_percent', 0) ?? 0,
    xPos: paramNumber(e, 'x_pos_percent', 0) ?? 0,
    yPos: paramNumber(e, 'y_pos_percent', 0) ?? 0,
    hPixels: paramNumber(e, 'horizontal_adjustment', 0) ?? 0,
    vPixels: paramNumber(e, 'vertical_adjustment', 0) ?? 0,
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

/** The elements as the server passes them (an array), or as wire JSON / a single object when called directly. */
function elementList(value: unknown): unknown[] {
  if (typeof value === 'string') {
    try {
      return elementList(JSON.parse(value));
    } catch {
      throw new EngineError('UnknownError', 'elements is not valid JSON');
    }
  }
  if (Array.isArray(value)) return value;
  return value && typeof value === 'object' ? [value] : [];
}

export const tool: ToolImpl = {
  run(input, params, ctx) {
    const list = elementList(params.elements);
    if (list.length === 0) return Promise.reject(new EngineError('UnknownError', 'watermark needs at least one element'));
    const elements = list.map(readElement);
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
};
