// The "plain sharp" baseline: the engine's settings applied by a short script with a bounded pool, no
// HTTP, no task, no zip. It is the speed limit for a sharp-based engine on this machine.
// Settings mirror src/engine (compress.ts, resize.ts, common.ts); run.mjs checks
// that the output bytes equal the CLI's, so a drift in the engine's settings shows up in the table.
//   node bench/lib/sharp-direct.mjs <op> <outdir> --jobs N files...
//   op: compress-extreme | compress-recommended | compress-low | resize50 | jpeg-default | jpeg75
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import sharp from 'sharp';

const [op, outdir, ...rest] = process.argv.slice(2);
let jobs = 2;
const files = [];
for (let i = 0; i < rest.length; i++) {
  if (rest[i] === '--jobs') jobs = Number(rest[++i]);
  else files.push(rest[i]);
}

// src/engine/compress.ts JPEG_OPTIONS and common.ts encoder() (libjpeg-turbo q80 for re-encodes).
const COMPRESS = {
  extreme: { quality: 55, mozjpeg: true },
  recommended: { quality: 75, optimiseCoding: true, chromaSubsampling: '4:2:0' },
  low: { quality: 88, mozjpeg: true },
};
const REENCODE = { quality: 80, optimiseCoding: true };
const LIMIT = 268402689; // server DEFAULT_LIMITS.maxInputPixels
const TIMEOUT = 120; // server DEFAULT_LIMITS.fileTimeoutSeconds

async function one(file) {
  const data = await readFile(file);
  const out = join(outdir, basename(file));
  // Upright, as every other encoder of row 5 writes it (sharp drops the EXIF orientation with the metadata).
  if (op === 'jpeg-default') return writeFile(out, await sharp(data, { autoOrient: true }).jpeg().toBuffer());
  if (op === 'jpeg75') return writeFile(out, await sharp(data, { autoOrient: true }).jpeg({ quality: 75 }).toBuffer());

  // As the engine opens an input: header first, then a strict, auto-oriented pipeline with a time budget.
  const meta = await sharp(data, { limitInputPixels: LIMIT }).metadata();
  if (meta.format !== 'jpeg') throw new Error(`${file}: this baseline only mirrors the engine for JPEG input`);
  let img = sharp(data, { failOn: 'warning', limitInputPixels: LIMIT, autoOrient: true }).timeout({ seconds: TIMEOUT });
  if (op.startsWith('compress-')) {
    const bytes = await img.flatten({ background: '#ffffff' }).jpeg(COMPRESS[op.slice('compress-'.length)]).toBuffer();
    // The engine never returns a larger file: it gives the input back instead.
    return writeFile(out, bytes.length >= data.length ? data : bytes);
  }
  if (op === 'resize50') {
    const { width: w, height: h } = meta.autoOrient ?? meta;
    const width = Math.max(1, Math.round(Math.min(w / 2, w)));
    const height = Math.max(1, Math.round(Math.min(h / 2, h)));
    if (width !== w || height !== h) img = img.resize({ width, height, fit: 'fill' });
    return writeFile(out, await img.flatten({ background: '#ffffff' }).jpeg(REENCODE).toBuffer());
  }
  throw new Error(`unknown op ${op}`);
}

await mkdir(outdir, { recursive: true });
let next = 0;
await Promise.all(
  Array.from({ length: Math.max(1, jobs) }, async () => {
    while (next < files.length) await one(files[next++]);
  }),
);
