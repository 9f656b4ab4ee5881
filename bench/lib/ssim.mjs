// Luma quality of an output against its original: SSIM over non-overlapping 8×8 blocks and PSNR, on
// full-resolution 8-bit luma decoded by sharp (greyscale().raw()), C1 = (0.01·255)², C2 = (0.03·255)².
// A cheap stand-in for full SSIM that ranks encoders the same way; bench/README.md (row 5) says how it is used.
import sharp from 'sharp';

const C1 = (0.01 * 255) ** 2;
const C2 = (0.03 * 255) ** 2;

/** 8-bit luma of an image, EXIF orientation applied (the engine's outputs are upright). */
export async function luma(file) {
  const { data, info } = await sharp(file, { autoOrient: true, failOn: 'none', limitInputPixels: false })
    .greyscale()
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels === 1) return { data, width: info.width, height: info.height };
  const one = Buffer.allocUnsafe(info.width * info.height);
  for (let i = 0, j = 0; j < one.length; i += info.channels, j++) one[j] = data[i];
  return { data: one, width: info.width, height: info.height };
}

/** Mean block-SSIM and PSNR (dB) of b against a; both must have the same size. */
export function compare(a, b, block = 8) {
  if (a.width !== b.width || a.height !== b.height) {
    throw new Error(`size differs: ${a.width}×${a.height} vs ${b.width}×${b.height}`);
  }
  const { width, height } = a;
  const n = block * block;
  let ssimSum = 0;
  let blocks = 0;
  for (let by = 0; by + block <= height; by += block) {
    for (let bx = 0; bx + block <= width; bx += block) {
      let sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
      for (let y = by; y < by + block; y++) {
        const row = y * width;
        for (let x = bx; x < bx + block; x++) {
          const p = a.data[row + x];
          const q = b.data[row + x];
          sx += p; sy += q; sxx += p * p; syy += q * q; sxy += p * q;
        }
      }
      const mx = sx / n, my = sy / n;
      const vx = sxx / n - mx * mx, vy = syy / n - my * my, cxy = sxy / n - mx * my;
      ssimSum += ((2 * mx * my + C1) * (2 * cxy + C2)) / ((mx * mx + my * my + C1) * (vx + vy + C2));
      blocks++;
    }
  }
  let se = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = a.data[i] - b.data[i];
    se += d * d;
  }
  const mse = se / a.data.length;
  return { ssim: blocks ? ssimSum / blocks : 1, psnr: mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse) };
}
