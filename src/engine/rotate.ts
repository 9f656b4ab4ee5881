/**
 * rotateimage: the tool has no parameters; the per-file `rotate` (0/90/180/270 clockwise), which
 * common.ts applies to every tool's input after the EXIF orientation, is the whole job. The result keeps
 * the input's format (animated GIF/WebP keep their frames).
 */
import { transformInPlace } from './common.js';
import type { ToolImpl } from './types.js';

export const tool: ToolImpl = {
  run(input, _params, ctx) {
    return transformInPlace(input, ctx, { animated: true }, (img) => img);
  },
};
