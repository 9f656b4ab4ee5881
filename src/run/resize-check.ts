/**
 * A resize that could not do what was asked says so (README "Output for people and for scripts"): by
 * default the API never enlarges (`no_enlarge_if_smaller`), so `-p 200` or `-w 1000` on a 400×301
 * image writes it unchanged in size. The result is still written; the file gets a warning naming the
 * sizes and the flag that allows enlarging. Only the headers are read (sharp, loaded on first use).
 */
import type { PipelineStep } from './model.js';
import type { InputItem } from './inputs.js';

/** `output` is the path of the downloaded result. */
export type ResultCheck = (item: InputItem, output: string) => Promise<string[]>;

/** The check for a pipeline whose last step is a resize that may not enlarge; undefined otherwise. */
export function resizeCheck(steps: PipelineStep[]): ResultCheck | undefined {
  const step = steps.at(-1);
  if (steps.length !== 1 || step?.tool !== 'resizeimage' || step.params.no_enlarge_if_smaller === false) return undefined;
  const p = step.params;
  const percent = typeof p.percentage === 'number' ? p.percentage : undefined;
  const width = typeof p.pixels_width === 'number' ? p.pixels_width : undefined;
  const height = typeof p.pixels_height === 'number' ? p.pixels_height : undefined;
  const byPercent = p.resize_mode === 'percentage' || (p.resize_mode === undefined && percent !== undefined);
  // Nothing to check when nothing asked for could be larger than the image (`-p 50`): no header is read
  // and sharp is not loaded (this runs once per file on the hot path of a batch).
  if (byPercent ? percent === undefined || percent <= 100 : width === undefined && height === undefined) return undefined;
  return async (item, output) => {
    if (item.kind === 'url') return [];
    const { default: sharp } = await import('sharp');
    const before = await sharp(item.data ?? item.source, { limitInputPixels: false }).metadata();
    const after = await sharp(output, { limitInputPixels: false }).metadata();
    const [w, h] = (before.orientation ?? 1) >= 5 ? [before.height, before.width] : [before.width, before.height];
    if (!w || !h || after.width !== w || after.height !== h) return [];
    const asked = byPercent ? (percent !== undefined && percent > 100 ? `${percent}%` : undefined) : (width !== undefined && width > w) || (height !== undefined && height > h) ? [width && `width ${width}`, height && `height ${height}`].filter(Boolean).join(', ') : undefined;
    return asked ? [`not enlarged: the image is ${w}×${h}, smaller than the asked ${asked}; pass --enlarge-if-smaller to enlarge it`] : [];
  };
}
