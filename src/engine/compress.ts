/**
 * compressimage: re-encodes in the same format with settings per `compression_level`, keeping the pixel
 * dimensions (and every frame of animated GIF/WebP). Metadata is stripped; the EXIF orientation and the
 * per-file rotation are applied to the pixels first, and colours are converted to sRGB through the input's
 * ICC profile (see common.ts), so nothing that affects how the image looks is lost with the metadata.
 *
 * The result is never larger than the input: when the encoder cannot beat the input's size, the input's
 * own bytes come back unchanged (with its extension), because a "compressed" file that grew is worse than
 * no compression. The exceptions: a per-file rotation (the original bytes would ignore the rotation the
 * caller asked for) and a damaged input repaired on the way, whose re-encoding is returned whatever its size.
 */
import type { JpegOptions, Sharp } from 'sharp';
import type { ParamsOf } from '../protocol/typed.js';
import { EXTENSIONS, animationOptions, inputExtension, outputFormatFor, processImage, type OutputFormat, type Source } from './common.js';
import { defineTool } from './types.js';

export type CompressionLevel = ParamsOf<'compressimage'>['compression_level'];

/**
 * JPEG settings per level, chosen from the bytes / luma-SSIM / time frontier of the settings sharp offers
 * (bench/lib/jpeg-frontier.mjs; the table and the reasoning are in docs/performance.md):
 * - `recommended`: libjpeg-turbo-style q75, 4:2:0, baseline, optimised Huffman tables. On the bench
 *   photos it writes 96.8 % of ImageMagick -quality 75's bytes at a higher mean SSIM (0.9771 vs 0.9764),
 *   and every file is smaller than ImageMagick's. mozjpeg q83 (trellis, scan optimisation) wrote 108 % of
 *   ImageMagick's bytes on the same photos, at 5–10× the encode time; mozjpeg's quantisation tables
 *   without trellis were no smaller than libjpeg-turbo's at equal SSIM.
 * - `extreme` and `low` keep full mozjpeg (trellis quantisation, optimised progressive scans): at those
 *   ends it gives the fewest bytes for its SSIM of every setting tried, and size is what they are for.
 */
const JPEG_OPTIONS: Record<CompressionLevel, JpegOptions> = {
  extreme: { quality: 55, mozjpeg: true },
  recommended: { quality: 75, optimiseCoding: true, chromaSubsampling: '4:2:0' },
  low: { quality: 88, mozjpeg: true },
};

/**
 * PNG: libimagequant palette quantisation at every level. A lossless re-deflate never paid off on the
 * corpus (sharp's zlib loses to the encoders that wrote those files), so `low` is a high-quality palette.
 * Effort 7 with zlib level 9: effort 10 took 2–3× longer for <1 % fewer bytes on coffee and astronaut.
 */
const PNG_QUALITY: Record<CompressionLevel, number> = { extreme: 40, recommended: 70, low: 90 };

const WEBP_QUALITY: Record<CompressionLevel, number> = { extreme: 50, recommended: 75, low: 88 };
const AVIF_QUALITY: Record<CompressionLevel, number> = { extreme: 35, recommended: 50, low: 65 };

/** GIF: a smaller palette and a lossy inter-frame threshold (animated) as the level rises. */
const GIF_OPTIONS: Record<CompressionLevel, { colours: number; interFrameMaxError: number; interPaletteMaxError: number; dither: number }> = {
  extreme: { colours: 64, interFrameMaxError: 16, interPaletteMaxError: 24, dither: 0.5 },
  recommended: { colours: 128, interFrameMaxError: 8, interPaletteMaxError: 12, dither: 1 },
  low: { colours: 256, interFrameMaxError: 3, interPaletteMaxError: 3, dither: 1 },
};

function compressEncoder(img: Sharp, format: OutputFormat, level: CompressionLevel, src: Source): Sharp {
  const animation = animationOptions(src);
  switch (format) {
    case 'jpeg':
      return img.flatten({ background: '#ffffff' }).jpeg(JPEG_OPTIONS[level]);
    case 'png':
      return img.png({ palette: true, quality: PNG_QUALITY[level], effort: 7, compressionLevel: 9 });
    case 'webp':
      return img.webp({ quality: WEBP_QUALITY[level], effort: 5, ...animation });
    case 'gif':
      return img.gif({ ...GIF_OPTIONS[level], effort: 7, ...animation });
    case 'tiff':
      // TIFF is an archival format: recompress losslessly at every level.
      return img.tiff({ compression: 'deflate', predictor: 'horizontal' });
    case 'avif':
      return img.avif({ quality: AVIF_QUALITY[level], effort: 4 });
  }
}

export const tool = defineTool('compressimage', {
  run(input, params, ctx) {
    const chosen = params.compression_level;
    return processImage(input, ctx, { animated: true }, async (src) => {
      const original = { data: input.data, ext: inputExtension(src.format) };
      // We can rasterise SVG but not write it; a PNG of a vector drawing is no compression of it.
      if (src.format === 'svg') return original;
      const format = outputFormatFor(src.format);
      const data = await compressEncoder(src.image(), format, chosen, src).toBuffer();
      // Never larger than the input, except when rotated or repaired (see the comment at the top).
      if (data.length >= input.data.length && !input.rotate && !src.lenient) return original;
      return { data, ext: EXTENSIONS[format] };
    });
  },
});
