/**
 * upscaleimage: enlarges 2× or 4× with lanczos3. This is classic resampling, not the AI super-resolution
 * iLoveIMG's web tool uses: edges stay sharp but no detail is invented. Outputs above the pixel limit
 * (or the output format's maximum side) fail with OutOfRange before any work is done.
 */
import { checkOutputSize, transformInPlace } from './common.js';
import { defineTool } from './types.js';

export const tool = defineTool('upscaleimage', {
  run(input, params, ctx) {
    const multiplier = Number(params.multiplier);
    return transformInPlace(input, ctx, { animated: true }, (img, src, format) => {
      const width = src.width * multiplier;
      const height = src.height * multiplier;
      checkOutputSize(width, height, src.pages, format, ctx);
      return img.resize({ width, height, fit: 'fill', kernel: 'lanczos3' });
    });
  },
});
