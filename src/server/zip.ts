/**
 * The package of a multi-output task, written once at process time so downloads are plain file
 * streams with a known Content-Length.
 *
 * Entries are stored, not deflated: the outputs are already-compressed images, and deflating them
 * would cost CPU for nothing. One output is read at a time (or taken from memory when the process step
 * still holds it), so memory stays at one image beyond what the step already holds.
 */
import { Zip, ZipPassThrough } from 'fflate';
import { once } from 'node:events';
import { PassThrough, type Writable } from 'node:stream';
import type { MemoryPool } from './memory.js';
import { readBuffer, writeBuffer, writeStream, type AtRestKey } from './storage.js';

export interface ZipEntry {
  /** The entry name: already a safe, unique file name (no separators, no `..`). */
  name: string;
  path: string;
  /** The entry's bytes when they are still in memory (just produced): not read back from `path`. */
  data?: Buffer;
}

/** Writes `entries` as a zip to `dest` (encrypted with `key` when given); resolves with the zip's size. */
async function writeZip(entries: readonly ZipEntry[], dest: string, key?: AtRestKey): Promise<number> {
  const out = new PassThrough();
  const written = writeStream(out, dest, key);
  await fill(entries, out, key);
  return written;
}

/**
 * A task's package: made in memory and held in `pool` when one is given (every entry is held) and
 * the zip fits, else written to `dest` once `makeDir` has made its directory.
 */
export async function packageZip(
  entries: readonly ZipEntry[],
  dest: string,
  key: AtRestKey | undefined,
  pool: MemoryPool | undefined,
  makeDir: () => Promise<void>,
): Promise<{ size: number; data?: Buffer }> {
  const zipped = pool ? await zipBuffer(entries) : undefined;
  if (zipped && pool!.take(zipped.length)) return { size: zipped.length, data: zipped };
  await makeDir();
  if (zipped) await writeBuffer(dest, zipped);
  return { size: zipped ? zipped.length : await writeZip(entries, dest, key) };
}

/** The zip of `entries` (all in memory), for the embedded engine's memory pool (memory.ts). */
async function zipBuffer(entries: readonly ZipEntry[]): Promise<Buffer> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (chunk: Buffer) => chunks.push(chunk));
  const ended = once(out, 'end');
  await fill(entries, out);
  await ended;
  return Buffer.concat(chunks);
}

/** Streams the zip of `entries` into `out` and ends it (or destroys it on a failure). */
async function fill(entries: readonly ZipEntry[], out: Writable, key?: AtRestKey): Promise<void> {
  const zip = new Zip((err, chunk, final) => {
    if (err) out.destroy(err);
    else {
      out.write(chunk);
      if (final) out.end();
    }
  });
  try {
    for (const entry of entries) {
      const data = entry.data ?? (await readBuffer(entry.path, key));
      const file = new ZipPassThrough(entry.name);
      zip.add(file);
      file.push(data, true);
      if (out.writableNeedDrain) await once(out, 'drain');
    }
    zip.end();
  } catch (err) {
    out.destroy(err as Error);
  }
}
