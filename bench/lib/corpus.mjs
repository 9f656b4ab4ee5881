// Inputs of the bench, derived from the corpus photos (../shared/corpus/photo-*.jpg) into a temp dir.
import { copyFile, mkdir, readdir, truncate } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';

export async function corpusPhotos(dir, limit = Infinity) {
  if (!existsSync(dir)) return [];
  const names = (await readdir(dir)).filter((n) => /^photo-.*\.jpe?g$/i.test(n)).sort();
  return names.slice(0, limit).map((n) => path.join(dir, n));
}

const baseCache = new Map();

/** Decodes each photo once, upright, to a base no longer than `maxSide` px (raw RGB); memoised. */
function bases(photos, maxSide) {
  const key = `${maxSide}\0${photos.join('\0')}`;
  if (!baseCache.has(key)) baseCache.set(key, decodeBases(photos, maxSide));
  return baseCache.get(key);
}

async function decodeBases(photos, maxSide) {
  const out = new Array(photos.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < photos.length; i = next++) {
      const { data, info } = await sharp(photos[i], { autoOrient: true })
        .resize({ width: maxSide, height: maxSide, fit: 'inside', withoutEnlargement: true })
        .raw()
        .toBuffer({ resolveWithObject: true });
      out[i] = { name: path.basename(photos[i]).replace(/\.[^.]+$/, ''), data, info };
    }
  };
  await Promise.all([worker(), worker()]);
  return out;
}

/**
 * `count` distinct JPEGs (q90, libjpeg-turbo, 4:2:0, no metadata) cycling over the photos; the k-th
 * copy of a photo has its long side at `longSide + step·k` px, so no two files are byte-identical.
 */
export async function derivedSet(photos, dir, { count, longSide, step }) {
  await mkdir(dir, { recursive: true });
  // One shared base size (≥ 880 px) so that several sets decode the big photos only once.
  const base = await bases(photos, Math.max(880, longSide + step * Math.ceil(count / photos.length) + 8));
  const files = Array.from({ length: count }, (_, i) => {
    const k = Math.floor(i / base.length);
    return path.join(dir, `${base[i % base.length].name}-${String(k).padStart(2, '0')}.jpg`);
  });
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      const b = base[i % base.length];
      const side = longSide + step * Math.floor(i / base.length);
      await sharp(b.data, { raw: b.info }).resize({ width: side, height: side, fit: 'inside' }).jpeg({ quality: 90 }).toFile(files[i]);
    }
  };
  await Promise.all([worker(), worker()]);
  return files;
}

/** `count` files in `dir`: copies (new names) of `sources`, cycling. */
export async function copiedSet(sources, dir, count) {
  await mkdir(dir, { recursive: true });
  const files = [];
  for (let i = 0; i < count; i++) {
    const src = sources[i % sources.length];
    const file = path.join(dir, `c${String(Math.floor(i / sources.length)).padStart(3, '0')}-${path.basename(src)}`);
    await copyFile(src, file);
    files.push(file);
  }
  return files;
}

/** A file of `bytes` bytes: a real JPEG followed by zero padding (sparse, so it is made instantly). */
export async function paddedImage(source, file, bytes) {
  await copyFile(source, file);
  await truncate(file, bytes);
  return file;
}
