/**
 * The engine's output formats: which format a result is written in, its extension, the encoder settings
 * of a re-encode, and the size guard before any work (src/engine/common.ts opens the inputs).
 */
import type { Sharp } from 'sharp';
import type { Source } from './common.js';
import { EngineError, type EngineContext, type EngineOutput } from './types.js';
// ---------------------------------------------------------------------------------------------------
// Formats.

/** What the engine writes. We cannot write SVG (librsvg only reads) nor HEIC (no HEVC encoder). */
export type OutputFormat = 'jpeg' | 'png' | 'webp' | 'gif' | 'tiff' | 'avif';

export const EXTENSIONS: Record<OutputFormat, string> = {
  jpeg: 'jpg',
  png: 'png',
  webp: 'webp',
  gif: 'gif',
  tiff: 'tiff',
  avif: 'avif',
};

/** The extension of an input format as sharp names it ('jpeg' → 'jpg', 'heif' → 'avif'). */
export function inputExtension(format: string): string {
  if (format === 'heif') return 'avif';
  return EXTENSIONS[format as OutputFormat] ?? format;
}

/**
 * The output format that keeps the input's format where we can write it.
 * - SVG becomes PNG: we can rasterise vectors but not write them, and PNG keeps the transparency.
 * - HEIF reaches us only as AVIF (the prebuilt libvips has no HEVC decoder, so HEIC fails to decode):
 *   AVIF is kept as AVIF, since sharp writes it and the caller asked for the same kind of file back.
 * - Anything else sharp reads but cannot write in kind (PPM, FITS, …) becomes PNG, which is lossless.
 */
export function outputFormatFor(inputFormat: string): OutputFormat {
  switch (inputFormat) {
    case 'jpeg':
    case 'png':
    case 'webp':
    case 'gif':
    case 'tiff':
      return inputFormat;
    case 'heif':
    case 'avif':
      return 'avif';
    default:
      return 'png';
  }
}

/** Largest width or height each encoder accepts; checked before encoding to give a clear error. */
const MAX_DIMENSION: Record<OutputFormat, number> = {
  jpeg: 65_535,
  png: 1_000_000,
  webp: 16_383,
  gif: 65_535,
  tiff: 1_000_000,
  avif: 65_536,
};

// ---------------------------------------------------------------------------------------------------
// Encoding.

/**
 * Sets the engine's standard encoder for a re-encode (compress picks its own settings):
 * - JPEG: libjpeg-turbo at q80 with optimised Huffman tables. mozjpeg q85 matches it in quality
 *   (docs/engine-notes.md §5) at ~6 % fewer bytes but encodes ~3× slower (bench row 2: resize 50 % of 99 photos
 *   took 6.5 s with mozjpeg against 1.9 s like this); resize, crop, rotate and convert are not about
 *   size, so speed wins here, and compress keeps mozjpeg. Alpha, if any, is flattened on white.
 * - PNG: lossless, with sharp's default zlib level.
 * - WebP q85, AVIF q60: high-quality settings, since the tool's job is not to shrink the file.
 * - GIF: libimagequant palette per frame at effort 4 (effort 7, sharp's default, took 3× longer on a
 *   1.4 MP photo for 13 % fewer bytes; compress uses it); frame delays and loop count are carried over.
 * - TIFF: lossless deflate (sharp's default would be lossy JPEG-in-TIFF).
 * Output pixels are sRGB without an embedded profile: sharp converts through the input's ICC profile
 * (Adobe RGB and the like) and strips the metadata, EXIF orientation included, which is already applied.
 */
export function encoder(img: Sharp, format: OutputFormat, src: Pick<Source, 'pages' | 'delay' | 'loop'>): Sharp {
  const animation = animationOptions(src);
  switch (format) {
    case 'jpeg':
      return img.flatten({ background: '#ffffff' }).jpeg({ quality: 80, optimiseCoding: true });
    case 'png':
      return img.png();
    case 'webp':
      return img.webp({ quality: 85, ...animation });
    case 'gif':
      return img.gif({ effort: 4, ...animation });
    case 'tiff':
      return img.tiff({ compression: 'deflate', predictor: 'horizontal' });
    case 'avif':
      return img.avif({ quality: 60, effort: 4 });
  }
}

/** Delay and loop of an animated source, for gif()/webp(). Delays must be an array: a scalar only sets frame 1. */
export function animationOptions(src: Pick<Source, 'pages' | 'delay' | 'loop'>): { delay?: number[]; loop?: number } {
  if (src.pages <= 1) return {};
  const delay = src.delay && src.delay.length === src.pages ? src.delay : undefined;
  return { ...(delay ? { delay } : {}), loop: src.loop ?? 0 };
}

/** Runs the pipeline and wraps the bytes as an EngineOutput. */
export async function toOutput(img: Sharp, format: OutputFormat, warnings?: string[]): Promise<EngineOutput> {
  const data = await img.toBuffer();
  return warnings && warnings.length > 0 ? { data, ext: EXTENSIONS[format], warnings } : { data, ext: EXTENSIONS[format] };
}

/**
 * Refuses outputs the encoder cannot write or that exceed the pixel budget, with a clear message instead
 * of a libvips error after seconds of work (upscale ×4 and large percentages get there quickly).
 */
export function checkOutputSize(width: number, height: number, pages: number, format: OutputFormat, ctx: EngineContext): void {
  const pixels = width * height * pages;
  if (ctx.limitInputPixels && pixels > ctx.limitInputPixels) {
    throw new EngineError(
      'OutOfRange',
      `the output would be ${width}×${height}${pages > 1 ? ` × ${pages} frames` : ''} = ${pixels} pixels, which exceeds the pixel limit of ${ctx.limitInputPixels}`,
    );
  }
  const max = MAX_DIMENSION[format];
  if (width > max || height > max) {
    throw new EngineError('OutOfRange', `the output would be ${width}×${height}, larger than ${EXTENSIONS[format].toUpperCase()} allows (${max} pixels a side)`);
  }
}
