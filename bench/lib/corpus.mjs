// Inputs of the bench. By default they come from the repository alone: the photos committed in
// examples/*.jpg and test/fixtures/photo-*.jpg are the sources, and every set the rows use is derived
// from them into the bench's temp dir at run time (bench/README.md, "Inputs"). `--corpus DIR` (or the
// BENCH_CORPUS environment variable) uses the JPEGs of DIR instead: as they are for the photo rows, and
// as the sources of the small-file sets.
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, truncate } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';

const JPEG = /\.jpe?g$/i;

/** The committed source photos, one per distinct content (examples/storm.jpg is also a fixture). */
export async function committedPhotos(root) {
  const candidates = [];
  for (const [dir, re] of [
    ['examples', JPEG],
    [path.join('test', 'fixtures'), /^photo-.*\.jpe?g$/i],
  ]) {
    const abs = path.join(root, dir);
    if (!existsSync(abs)) continue;
    for (const n of (await readdir(abs)).sort()) if (re.test(n)) candidates.push(path.join(abs, n));
  }
  const seen = new Set();
  const out = [];
  for (const f of candidates) {
    const sum = createHash('sha256').update(await readFile(f)).digest('hex');
    if (!seen.has(sum)) seen.add(sum), out.push(f);
  }
  return out;
}

/** The JPEGs of a user's folder (not recursive), sorted by name. */
export async function folderPhotos(dir, limit = Infinity) {
  if (!existsSync(dir)) return [];
  const names = (await readdir(dir)).filter((n) => JPEG.test(n) && !n.startsWith('.')).sort();
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
  await pool(photos.length, async (i) => {
    const { data, info } = await sharp(photos[i], { autoOrient: true })
      .removeAlpha()
      .toColourspace('srgb')
      .resize({ width: maxSide, height: maxSide, fit: 'inside', withoutEnlargement: true })
      .raw()
      .toBuffer({ resolveWithObject: true });
    out[i] = { name: path.basename(photos[i]).replace(/\.[^.]+$/, ''), data, info };
  });
  return out;
}

/** Runs `fn(0 … count−1)` two at a time (the machine has 2 cores). */
async function pool(count, fn) {
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) await fn(i);
  };
  await Promise.all([worker(), worker()]);
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
  await pool(count, async (i) => {
    const b = base[i % base.length];
    const side = longSide + step * Math.floor(i / base.length);
    await sharp(b.data, { raw: b.info }).resize({ width: side, height: side, fit: 'inside' }).jpeg({ quality: 90 }).toFile(files[i]);
  });
  return files;
}

// Shapes of the camera-sized photos: 4:3, 3:2, 16:9, and every fifth one portrait.
const ASPECTS = [4 / 3, 3 / 2, 16 / 9, 4 / 3, 3 / 4];
const TILE_LONG_SIDE = 1100; // px: about the committed photos' own scale, so detail per pixel stays photographic

/**
 * `count` distinct camera-sized JPEGs (q90, 4:2:0, no metadata) of `minMp`–`maxMp` megapixels, made
 * by tiling the source photos at about their own scale (a grid of crops, each source at a different
 * place in every file): enough real detail per pixel that encoders and resizers work as on a camera
 * photo, which an upscaled small photo would not give. Sizes follow minMp + (maxMp − minMp)·u², u
 * evenly spread over [0, 1] in a shuffled order, so the mean is about a third of the way up the range.
 */
export async function photoSet(photos, dir, { count, minMp, maxMp }) {
  await mkdir(dir, { recursive: true });
  const base = await bases(photos, 1400);
  const files = Array.from({ length: count }, (_, i) => path.join(dir, `photo-${String(i).padStart(3, '0')}.jpg`));
  await pool(count, async (i) => {
    const u = count > 1 ? ((i * 37) % count) / (count - 1) : 1;
    const mp = (minMp + (maxMp - minMp) * u * u) * 1e6;
    const aspect = ASPECTS[i % ASPECTS.length];
    const width = Math.round(Math.sqrt(mp * aspect));
    const height = Math.round(mp / width);
    const cols = Math.max(1, Math.round(width / TILE_LONG_SIDE));
    const rows = Math.max(1, Math.round(height / (TILE_LONG_SIDE * 0.75)));
    const cuts = (total, n) => Array.from({ length: n + 1 }, (_, k) => Math.round((total * k) / n));
    const xs = cuts(width, cols);
    const ys = cuts(height, rows);
    const tiles = [];
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const b = base[(i + r * cols + c) % base.length];
        const w = xs[c + 1] - xs[c];
        const h = ys[r + 1] - ys[r];
        const data = await sharp(b.data, { raw: b.info }).resize({ width: w, height: h, fit: 'cover' }).raw().toBuffer();
        tiles.push({ input: data, raw: { width: w, height: h, channels: 3 }, left: xs[c], top: ys[r] });
      }
    }
    await sharp({ create: { width, height, channels: 3, background: '#808080' } })
      .composite(tiles)
      .jpeg({ quality: 90 })
      .toFile(files[i]);
  });
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
