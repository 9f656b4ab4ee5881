/**
 * upscaleimage: enlarges 2× or 4× with lanczos3. This is classic resampling, not the AI super-resolution
 * iLoveIMG's web tool uses: edges stay sharp but no detail is invented. Outputs above the pixel limit
 * (or the output format's maximum side) fail with OutOfRange before any work is done.
 */
import { checkOutputSize, paramNumber, transformInPlace } from './common.js';
import { EngineError, type ToolImpl } from './types.js';

export const tool: ToolImpl = {
  run(input, params, ctx) {
    const multiplier = paramNumber(params, 'multiplier', 2);
    if (multiplier !== 2 && multiplier !== 4) {
      return Promise.reject(new EngineError('UnknownError', `multiplier must be 2 or 4, got ${String(params.multiplier)}`));
    }
    return transformInPlace(input, ctx, { animated: true }, (img, src, format) => {
      const width = src.width * multiplier;
      const height = src.height * multiplier;
      checkOutputSize(width, height, src.pages, format, ctx);
      return img.resize({ width, height, fit: 'fill', kernel: 'lanczos3' });
    });
  },
};
