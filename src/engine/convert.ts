/**
 * convertimage: to jpg, png or gif, or all inputs joined into one animated GIF (gif_animation).
 *
 * The reference says png and gif can only be made from JPG; we accept any input sharp reads (PNG, WebP,
 * GIF, TIFF, AVIF, SVG…), since refusing would only make the engine less useful.
 * - jpg: the first frame, alpha flattened on white (JPEG has no transparency).
 * - png: the first frame, alpha kept.
 * - gif: a still image becomes a still GIF; an animated GIF/WebP stays animated, with its delays and loop.
 * - gif_animation: see `runJoined`.
 * The target is `to`; the server reads it from `convert_to` too (the official PHP/.NET/Python clients'
 * key, an alias in the table), trimmed and in any case (.NET sends "gif_animation ").
 */
import type { ParamsOf } from '../protocol/typed.js';
import { EngineError, defineTool, type EngineContext, type EngineInput, type EngineOutput } from './types.js';
import { checkOutputSize, encoder, loadSharp, processImage, toEngineError, toOutput, withTimeout, type OutputFormat } from './common.js';

type Params = ParamsOf<'convertimage'>;
type Target = Params['to'];

const FORMATS: Record<Exclude<Target, 'gif_animation'>, OutputFormat> = { jpg: 'jpeg', png: 'png', gif: 'gif' };

/** GIF stores delays in centiseconds but sharp takes milliseconds, at most 65535. */
const MAX_DELAY_MS = 65_535;

/**
 * One animated GIF of all inputs, one frame each (the first frame of an animated input), in order.
 *
 * Every frame is fitted to the first frame's size with 'contain', so nothing of any input is cut off, on
 * white: bars and transparent areas are flattened, because a GIF frame is drawn over the previous one and
 * the encoder does not reliably mark frames to be cleared first. Checked with sharp's decoder: a frame's
 * transparent bars showed the previous frame through them. The frames are joined as one raw strip with a
 * page height, so their sizes and order are exactly ours.
 * `gif_time` is in hundredths of a second (×10 for sharp's milliseconds, one entry per frame, or sharp
 * would time only the first frame); duplicate frames are kept, or sharp would merge them and sum their
 * delays; `gif_loop` false writes no loop block, so the animation plays once.
 */
async function joinAsGif(inputs: EngineInput[], params: Params, ctx: EngineContext): Promise<EngineOutput> {
  if (inputs.length === 0) throw new EngineError('NoImages', 'gif_animation needs at least one image');
  const sharp = await loadSharp();
  const warnings: string[] = [];
  let size: { width: number; height: number } | undefined;
  const frames: Buffer[] = [];
  for (const input of inputs) {
    const frame = await processImage<{ data: Buffer; warnings?: string[] }>(input, ctx, {}, async (src) => {
      if (!size) {
        size = { width: src.width, height: src.height };
        checkOutputSize(size.width, size.height, inputs.length, 'gif', ctx);
      }
      const img = src.image();
      const fitted = src.width === size.width && src.height === size.height
        ? img
        : img.resize({ width: size.width, height: size.height, fit: 'contain', background: '#ffffff' });
      return { data: await fitted.flatten({ background: '#ffffff' }).toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer() };
    });
    frames.push(frame.data);
    warnings.push(...(frame.warnings ?? []));
  }
  const { width, height } = size as { width: number; height: number };

  const centiseconds = params.gif_time;
  let ms = Math.max(0, Math.round(centiseconds * 10));
  if (ms > MAX_DELAY_MS) {
    warnings.push(`gif_time ${centiseconds} is longer than GIF frames can be held by this encoder; each frame shows for ${MAX_DELAY_MS / 1000} s`);
    ms = MAX_DELAY_MS;
  }
  const loop = params.gif_loop ? 0 : 1;
  const strip = sharp(Buffer.concat(frames), {
    raw: { width, height: height * frames.length, channels: 3, pageHeight: height },
    limitInputPixels: ctx.limitInputPixels,
  });
  const gif = withTimeout(strip, ctx).gif({ delay: frames.map(() => ms), loop, keepDuplicateFrames: true });
  try {
    return await toOutput(gif, 'gif', warnings);
  } catch (err) {
    throw toEngineError(err, 'the animated GIF', ctx);
  }
}

export const tool = defineTool('convertimage', {
  joins(params) {
    return params.to === 'gif_animation';
  },

  runJoined(inputs, params, ctx) {
    return joinAsGif(inputs, params, ctx);
  },

  async run(input, params, ctx) {
    const to = params.to;
    // Called for a single file (the server joins only when asked): an animation of one frame.
    if (to === 'gif_animation') return joinAsGif([input], params, ctx);
    const format = FORMATS[to];
    return processImage(input, ctx, { animated: to === 'gif' }, (src) => toOutput(encoder(src.image(), format, src), format));
  },
});
