/**
 * removebackgroundimage: a simple, honest background remover, not the AI segmentation of iLoveIMG's web
 * tool. It finds the colour that dominates the image's border, flood-fills from the border through the
 * pixels close to that colour, and makes what it reached transparent, with a soft edge. The output is
 * always PNG (for the transparency).
 *
 * It works for what has a near-uniform background touching the edges: product shots, logos, scans,
 * screenshots. It cannot separate a subject from a busy photo background (then the image comes back
 * unchanged, as PNG, with a warning), and background enclosed by the subject (the inside of an "O") is
 * not reached from the border and stays.
 */
import { processImage, toOutput } from './common.js';
import type { ToolImpl } from './types.js';

/** Colour distance (Euclidean RGB) up to which a pixel is fully background. */
const HARD = 24;
/** From HARD to SOFT the alpha ramps up: anti-aliased edges blend instead of keeping a halo. */
const SOFT = 48;
/** The dominant border colour must cover at least this share of the border to count as a background. */
const MIN_BORDER_SHARE = 0.3;
/** Pixels at most this opaque already are background. */
const CLEAR = 16;

/**
 * Makes the border-connected background of a raw RGBA image transparent, in place.
 * Returns how many pixels became (partly) transparent; 0 when there is no uniform border colour.
 */
export function clearBackground(rgba: Buffer, width: number, height: number): number {
  const border: number[] = [];
  for (let x = 0; x < width; x++) border.push(x, (height - 1) * width + x);
  for (let y = 1; y < height - 1; y++) border.push(y * width, y * width + width - 1);

  // The dominant border colour: the fullest bucket of a 4-bit-per-channel histogram, then its mean.
  const counts = new Uint32Array(4096);
  let opaque = 0;
  for (const p of border) {
    const i = p * 4;
    if (rgba[i + 3] <= CLEAR) continue;
    opaque++;
    counts[((rgba[i] >> 4) << 8) | ((rgba[i + 1] >> 4) << 4) | (rgba[i + 2] >> 4)]++;
  }
  if (opaque === 0) return 0;
  let best = 0;
  for (let b = 1; b < 4096; b++) if (counts[b] > counts[best]) best = b;
  if (counts[best] < MIN_BORDER_SHARE * opaque) return 0;
  let r = 0;
  let g = 0;
  let bl = 0;
  for (const p of border) {
    const i = p * 4;
    if (rgba[i + 3] > CLEAR && ((rgba[i] >> 4) << 8 | (rgba[i + 1] >> 4) << 4 | (rgba[i + 2] >> 4)) === best) {
      r += rgba[i];
      g += rgba[i + 1];
      bl += rgba[i + 2];
    }
  }
  r /= counts[best];
  g /= counts[best];
  bl /= counts[best];

  const distance = (p: number) => {
    const i = p * 4;
    if (rgba[i + 3] <= CLEAR) return 0;
    return Math.hypot(rgba[i] - r, rgba[i + 1] - g, rgba[i + 2] - bl);
  };

  // Breadth-first flood from every background pixel on the border, through 4-neighbours within SOFT.
  const total = width * height;
  const seen = new Uint8Array(total);
  const queue = new Int32Array(total);
  let head = 0;
  let tail = 0;
  const visit = (q: number) => {
    if (!seen[q] && distance(q) <= SOFT) {
      seen[q] = 1;
      queue[tail++] = q;
    }
  };
  for (const p of border) visit(p);
  let changed = 0;
  while (head < tail) {
    const p = queue[head++];
    const d = distance(p);
    const i = p * 4 + 3;
    const alpha = d <= HARD ? 0 : Math.round((255 * (d - HARD)) / (SOFT - HARD));
    if (alpha < rgba[i]) {
      rgba[i] = alpha;
      changed++;
    }
    // Only the fully-background pixels spread the fill: the ramp is the edge, not a way through it.
    if (d > HARD) continue;
    const x = p % width;
    if (x > 0) visit(p - 1);
    if (x < width - 1) visit(p + 1);
    if (p >= width) visit(p - width);
    if (p < total - width) visit(p + width);
  }
  return changed;
}

export const tool: ToolImpl = {
  run(input, _params, ctx) {
    return processImage(input, ctx, {}, async (src) => {
      const { data, info } = await src.image().ensureAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
      const changed = clearBackground(data, info.width, info.height);
      const warnings = changed === 0 ? [`${input.filename}: no uniform background touching the edges was found; the image is unchanged`] : [];
      const png = src.sharp(data, { raw: { width: info.width, height: info.height, channels: 4 } }).png();
      return toOutput(png, 'png', warnings);
    });
  },
};
