/**
 * cropimage: keeps the width × height area whose top-left corner is (x, y), in the coordinates of the
 * upright image (after EXIF orientation and the per-file rotation).
 *
 * An area that runs past the right or bottom edge is clamped to the image; an area that starts outside
 * it (x ≥ width or y ≥ height) leaves nothing to keep and fails the file with OutOfRange. A missing width
 * or height means "to the edge". Animated GIF/WebP are cropped frame by frame.
 */
import type { ParamsOf } from '../protocol/typed.js';
import { transformInPlace } from './common.js';
import { EngineError, defineTool } from './types.js';

/** The clamped extract area, or OutOfRange. */
export function planCrop(params: Partial<ParamsOf<'cropimage'>>, width: number, height: number): { left: number; top: number; width: number; height: number } {
  const left = Math.max(0, Math.floor(params.x ?? 0));
  const top = Math.max(0, Math.floor(params.y ?? 0));
  if (left >= width || top >= height) {
    throw new EngineError(
      'OutOfRange',
      `the crop area starts at x=${left}, y=${top}, outside the ${width}×${height} image: x must be below ${width} and y below ${height}`,
    );
  }
  const w = Math.floor(params.width ?? width - left);
  const h = Math.floor(params.height ?? height - top);
  if (w <= 0 || h <= 0) throw new EngineError('OutOfRange', `the crop area ${w}×${h} is empty`);
  return { left, top, width: Math.min(w, width - left), height: Math.min(h, height - top) };
}

export const tool = defineTool('cropimage', {
  run(input, params, ctx) {
    return transformInPlace(input, ctx, { animated: true }, (img, src) => {
      const area = planCrop(params, src.width, src.height);
      const whole = area.left === 0 && area.top === 0 && area.width === src.width && area.height === src.height;
      // sharp throws "bad extract area" on anything outside the image, hence the clamping above.
      return whole ? img : img.extract(area);
    });
  },
});
