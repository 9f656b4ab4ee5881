/**
 * resizeimage: by pixels (width and/or height) or by percentage.
 *
 * - pixels + maintain_ratio (default): fit inside width × height; a missing side follows the ratio.
 * - pixels without maintain_ratio: exactly width × height (distorting); a missing side keeps its size.
 * - percentage: both sides scaled by the percentage (rounded, at least 1 px).
 * - no_enlarge_if_smaller (default true) applies to both modes: a side is never made larger than it is
 *   (so `percentage: 200` leaves an image as it is unless the flag is false).
 * Animated GIF/WebP are resized frame by frame.
 */
import type { ParamsOf } from '../protocol/typed.js';
import { checkOutputSize, transformInPlace } from './common.js';
import { EngineError, defineTool } from './types.js';

/**
 * The output size for the parameters and the (oriented, rotated) input size. The mode is the one the
 * shared rules settled (src/protocol/rules.ts infers it from a lone percentage).
 */
export function planResize(params: ParamsOf<'resizeimage'>, width: number, height: number): { width: number; height: number } {
  const noEnlarge = params.no_enlarge_if_smaller;
  const side = (target: number, original: number) => Math.max(1, Math.round(noEnlarge ? Math.min(target, original) : target));

  if (params.resize_mode === 'percentage') {
    const pct = params.percentage;
    if (pct === undefined) throw new EngineError('UnknownError', 'resize_mode is percentage but no percentage was given');
    return { width: side((width * pct) / 100, width), height: side((height * pct) / 100, height) };
  }

  const targetW = params.pixels_width ?? 0;
  const targetH = params.pixels_height ?? 0;
  if (targetW <= 0 && targetH <= 0) {
    throw new EngineError('UnknownError', 'resize_mode is pixels but neither pixels_width nor pixels_height was given');
  }
  if (params.maintain_ratio) {
    // One scale for both sides: the largest that fits the box; a missing side does not constrain.
    let scale = Math.min(targetW > 0 ? targetW / width : Infinity, targetH > 0 ? targetH / height : Infinity);
    if (noEnlarge) scale = Math.min(scale, 1);
    return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
  }
  return { width: side(targetW || width, width), height: side(targetH || height, height) };
}

export const tool = defineTool('resizeimage', {
  run(input, params, ctx) {
    return transformInPlace(input, ctx, { animated: true }, (img, src, format) => {
      const { width, height } = planResize(params, src.width, src.height);
      checkOutputSize(width, height, src.pages, format, ctx);
      if (width === src.width && height === src.height) return img;
      // We compute the exact size ourselves and 'fill' it, so the rounding is ours, the same for every
      // frame, and known to the size guard above; lanczos3 is sharp's default kernel.
      return img.resize({ width, height, fit: 'fill' });
    });
  },
});
