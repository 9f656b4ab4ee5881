/**
 * repairimage: decodes a damaged JPEG/PNG/GIF (or any format sharp reads) leniently, with
 * `failOn: 'none'`, so libvips keeps what it can read and fills the rest (a truncated JPEG's missing
 * rows come out grey), then re-encodes it in the same format. A file with no readable image at all
 * (empty, not an image, a header that cannot be parsed) fails with DamagedFile.
 */
import { transformInPlace } from './common.js';
import type { ToolImpl } from './types.js';

export const tool: ToolImpl = {
  run(input, _params, ctx) {
    return transformInPlace(input, ctx, { animated: true, lenient: true }, (img) => img);
  },
};
