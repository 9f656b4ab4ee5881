// The bytes / quality / time frontier of the JPEG settings sharp offers (bench row 5, and how the
// compress levels of src/engine/compress.ts were chosen: docs/performance.md).
//   node bench/lib/jpeg-frontier.mjs [--full] [--magick /usr/bin/mogrify] files...      prints a Markdown table
//
// Every setting encodes every file from the same decoded, upright pixels (decode excluded from the time;
// one encode at a time, one libvips thread, the faster of two rounds, so the times are CPU per megapixel
// of the encoder alone).
// Quality is luma block-SSIM and PSNR against the original (ssim.mjs). A setting is
// on the bytes–SSIM frontier when no other setting is at most as large at an equal or better SSIM, and on
// the frontier with time when no other setting is also at most as slow.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { compare, luma } from './ssim.mjs';

const turbo = (q, extra = {}) => ({ quality: q, optimiseCoding: true, ...extra });
const mozTables = (q, extra = {}) => ({ quality: q, quantisationTable: 3, optimiseCoding: true, ...extra });

/** The rows below that hold the settings of compress's levels (src/engine/compress.ts JPEG_OPTIONS). */
export const LEVEL_SETTINGS = {
  extreme: 'mozjpeg q55 (trellis, scans, progressive)',
  recommended: 'libjpeg-turbo q75, Huffman optimised',
  low: 'mozjpeg q88 (trellis, scans, progressive)',
};

/** [name, sharp jpeg() options]. `--full` adds the less promising corners of the space. */
export function settings(full = false) {
  const s = [
    ['libjpeg-turbo q75, Huffman optimised', turbo(75, { chromaSubsampling: '4:2:0' })],
    ['libjpeg-turbo q80, Huffman optimised', turbo(80)],
    ['libjpeg-turbo q75, progressive', turbo(75, { progressive: true })],
    ['mozjpeg tables q75, no trellis', mozTables(75)],
    ['mozjpeg tables q78, no trellis', mozTables(78)],
    ['mozjpeg tables q80, no trellis', mozTables(80)],
    ['mozjpeg tables q80, no trellis, progressive', mozTables(80, { progressive: true })],
    ['mozjpeg tables q82, no trellis, progressive', mozTables(82, { progressive: true })],
    ['mozjpeg tables q55, no trellis, progressive', mozTables(55, { progressive: true })],
    ['mozjpeg tables q88, no trellis, progressive', mozTables(88, { progressive: true })],
    ['mozjpeg tables q80, trellis', mozTables(80, { trellisQuantisation: true })],
    ['mozjpeg q83 (trellis, scans, progressive)', { quality: 83, mozjpeg: true }],
    ['mozjpeg q55 (trellis, scans, progressive)', { quality: 55, mozjpeg: true }],
    ['mozjpeg q88 (trellis, scans, progressive)', { quality: 88, mozjpeg: true }],
  ];
  if (full) {
    s.push(
      ['libjpeg-turbo q70, Huffman optimised', turbo(70)],
      ['libjpeg-turbo q75, not optimised', { quality: 75 }],
      ['libjpeg-turbo q75, 4:4:4', turbo(75, { chromaSubsampling: '4:4:4' })],
      ['mozjpeg tables q82, no trellis', mozTables(82)],
      ['mozjpeg tables q85, no trellis, progressive', mozTables(85, { progressive: true })],
      ['mozjpeg tables q80, trellis, progressive', mozTables(80, { trellisQuantisation: true, progressive: true })],
      ['mozjpeg tables q60, no trellis, progressive', mozTables(60, { progressive: true })],
      ['mozjpeg tables q50, no trellis, progressive', mozTables(50, { progressive: true })],
      ['mozjpeg q80 (trellis, scans, progressive)', { quality: 80, mozjpeg: true }],
    );
  }
  return s;
}

/** Measures every setting on every file; `magick` ({ cmd, pre } of mogrify) adds ImageMagick -quality 75. */
export async function frontier(files, { full = false, magick } = {}) {
  sharp.concurrency(1);
  const rows = settings(full).map(([name, options]) => ({ name, options, bytes: 0, ssim: [], psnr: [], ms: 0 }));
  const im = magick ? { name: 'ImageMagick -quality 75 (reference)', bytes: 0, ssim: [], psnr: [], ms: 0 } : undefined;
  const tmp = magick ? mkdtempSync(path.join(os.tmpdir(), 'iloveimg-frontier-')) : undefined;
  let inputBytes = 0;
  let megapixels = 0;
  try {
    for (const file of files) {
      inputBytes += readFileSync(file).length;
      const { data, info } = await sharp(file, { autoOrient: true }).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
      megapixels += (info.width * info.height) / 1e6;
      const original = await luma(file);
      // Timing pass first, SSIM after: two rounds over every setting, the faster encode of each counts,
      // so neither the machine's other load nor the first encode after a decode decides a row's time.
      const outs = new Array(rows.length);
      const best = rows.map(() => Infinity);
      for (let k = 0; k < 2; k++) {
        for (let j = 0; j < rows.length; j++) {
          const t0 = process.hrtime.bigint();
          outs[j] = await sharp(data, { raw: info }).jpeg(rows[j].options).toBuffer();
          best[j] = Math.min(best[j], Number(process.hrtime.bigint() - t0) / 1e6);
        }
      }
      for (let j = 0; j < rows.length; j++) {
        rows[j].ms += best[j];
        add(rows[j], outs[j], compare(original, await luma(outs[j])));
      }
      if (im) {
        const out = path.join(tmp, path.basename(file));
        const t0 = process.hrtime.bigint();
        execFileSync(magick.cmd, [...(magick.pre ?? []), '-path', tmp, '-auto-orient', '-strip', '-quality', '75', file]);
        im.ms += Number(process.hrtime.bigint() - t0) / 1e6;
        add(im, readFileSync(out), compare(original, await luma(out)));
      }
    }
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
  const all = im ? [...rows, im] : rows;
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const table = all.map((r) => ({ name: r.name, bytes: r.bytes, percent: (r.bytes / inputBytes) * 100, ssim: mean(r.ssim), psnr: mean(r.psnr), msPerMp: r.ms / megapixels, reference: r === im }));
  const level = Object.fromEntries(Object.entries(LEVEL_SETTINGS).map(([k, v]) => [v, k]));
  for (const r of table) {
    r.level = level[r.name];
    // Bytes against SSIM only: no other setting is at most as large at an equal or better SSIM.
    r.onSizeFrontier = !r.reference && !table.some((o) => o !== r && !o.reference && o.bytes <= r.bytes && o.ssim >= r.ssim && (o.bytes < r.bytes || o.ssim > r.ssim));
    r.onFrontier = !r.reference && !table.some((o) => o !== r && !o.reference && o.bytes <= r.bytes && o.ssim >= r.ssim && o.msPerMp <= r.msPerMp && (o.bytes < r.bytes || o.ssim > r.ssim || o.msPerMp < r.msPerMp));
  }
  return { files: files.length, inputBytes, megapixels, rows: table };
}

function add(r, out, q) {
  r.bytes += out.length;
  r.ssim.push(q.ssim);
  r.psnr.push(q.psnr);
}

export function frontierMarkdown(f) {
  const L = [
    `JPEG encoder frontier: ${f.files} photos, ${f.megapixels.toFixed(1)} MP, ${f.inputBytes.toLocaleString('en-US')} bytes in; encode time per MP on one thread (the decode is not counted, except in ImageMagick's row, which is a whole process)`,
    '',
    '| setting | output bytes | % of input | mean SSIM | mean PSNR-Y | ms per MP | on the bytes–SSIM frontier | … and time | compress level |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of f.rows) {
    L.push(`| ${r.name} | ${r.bytes.toLocaleString('en-US')} | ${r.percent.toFixed(1)} % | ${r.ssim.toFixed(4)} | ${r.psnr.toFixed(2)} dB | ${r.msPerMp.toFixed(1)} | ${r.reference ? '(reference)' : r.onSizeFrontier ? 'yes' : ''} | ${r.onFrontier ? 'yes' : ''} | ${r.level ?? ''} |`);
  }
  return L.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const full = args.includes('--full');
  const magickArg = args.indexOf('--magick');
  const magick = magickArg >= 0 ? { cmd: args[magickArg + 1] } : undefined; // a mogrify binary
  const files = args.filter((a, i) => !a.startsWith("--") && !(magickArg >= 0 && i === magickArg + 1));
  process.stdout.write(frontierMarkdown(await frontier(files, { full, magick })) + '\n');
}
