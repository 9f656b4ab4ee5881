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
import { PassThrough } from 'node:stream';
import { readBuffer, writeStream, type AtRestKey } from './storage.js';

export interface ZipEntry {
  /** The entry name: already a safe, unique file name (no separators, no `..`). */
  name: string;
  path: string;
  /** The entry's bytes when they are still in memory (just produced): not read back from `path`. */
  data?: Buffer;
}

/** Writes `entries` as a zip to `dest` (encrypted with `key` when given); resolves with the zip's size. */
export async function writeZip(entries: readonly ZipEntry[], dest: string, key?: AtRestKey): Promise<number> {
  const out = new PassThrough();
  const written = writeStream(out, dest, key);
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
  return written;
}
