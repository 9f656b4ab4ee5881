/**
 * Reads a downloaded zip from disk one entry at a time, each entry streamed (inflated when deflated)
 * into a file, with every byte counted: an entry stops at the first byte over its bound, so a zip
 * bomb costs neither memory nor disk (README "Security"). The central directory is the table of
 * contents (the local headers' sizes may be zero when a data descriptor follows); its declared sizes
 * are only used to find the bytes, never trusted as the result's size.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createInflateRaw } from 'node:zlib';
import { boundedCounter, type EntryBounds } from '../api/download-limits.js';

export interface ZipEntryInfo {
  name: string;
  method: number;
  compressedSize: number;
  offset: number;
  /** Where the entry's data starts (after its local header); undefined when that header is damaged. */
  start?: number;
}

const MAX_ENTRIES = 10_000;
const MAX_DIRECTORY = 16 * 1024 * 1024;

export class BadZipError extends Error {
  readonly type = 'BadZip';
}

/** The file entries (not folders) of the zip at `file`. */
export async function listZip(file: string): Promise<ZipEntryInfo[]> {
  const fd = await open(file, 'r');
  try {
    const { size } = await fd.stat();
    const tailLength = Math.min(size, 65_557);
    const tail = Buffer.alloc(tailLength);
    await fd.read(tail, 0, tailLength, size - tailLength);
    let eocd = -1;
    for (let i = tailLength - 22; i >= 0; i--) if (tail.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
    if (eocd < 0) throw new BadZipError('the result is not a readable zip (no end of central directory)');
    const count = tail.readUInt16LE(eocd + 10);
    const dirSize = tail.readUInt32LE(eocd + 12);
    const dirOffset = tail.readUInt32LE(eocd + 16);
    if (count === 0xffff || dirSize === 0xffffffff || dirOffset === 0xffffffff) throw new BadZipError('the result is a zip64 archive, which is not supported');
    if (count > MAX_ENTRIES || dirSize > MAX_DIRECTORY || dirOffset + dirSize > size) throw new BadZipError(`the result's zip directory is out of bounds (${count} entries)`);
    const dir = Buffer.alloc(dirSize);
    await fd.read(dir, 0, dirSize, dirOffset);
    const entries: ZipEntryInfo[] = [];
    for (let at = 0, n = 0; n < count; n++) {
      if (at + 46 > dir.length || dir.readUInt32LE(at) !== 0x02014b50) throw new BadZipError('the result has a damaged zip directory');
      const flags = dir.readUInt16LE(at + 8);
      const method = dir.readUInt16LE(at + 10);
      const compressedSize = dir.readUInt32LE(at + 20);
      const nameLength = dir.readUInt16LE(at + 28);
      const skip = nameLength + dir.readUInt16LE(at + 30) + dir.readUInt16LE(at + 32);
      const offset = dir.readUInt32LE(at + 42);
      const raw = dir.subarray(at + 46, at + 46 + nameLength);
      const name = raw.toString(flags & 0x800 ? 'utf8' : 'latin1');
      at += 46 + skip;
      if (name.endsWith('/') || name.endsWith('\\')) continue;
      if (compressedSize === 0xffffffff || offset === 0xffffffff) throw new BadZipError('the result is a zip64 archive, which is not supported');
      entries.push({ name, method, compressedSize, offset });
    }
    // The local headers, read here with the directory's open file rather than reopening the zip per entry.
    const local = Buffer.alloc(30);
    for (const entry of entries) {
      const { bytesRead } = await fd.read(local, 0, 30, entry.offset);
      if (bytesRead === 30 && local.readUInt32LE(0) === 0x04034b50) entry.start = entry.offset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
    }
    return entries;
  } finally {
    await fd.close();
  }
}

/**
 * Streams one entry of `file` into a new file `dest` (created exclusively); returns its size and its
 * first bytes (for sniffing). Throws ResultTooLargeError at the first byte over a bound.
 */
export async function extractEntry(
  file: string,
  entry: ZipEntryInfo,
  dest: string,
  bounds: EntryBounds,
  check?: (head: Buffer) => string | undefined,
): Promise<{ bytes: number; head: Buffer }> {
  if (entry.method !== 0 && entry.method !== 8) throw new BadZipError(`${entry.name}: zip compression method ${entry.method} is not supported`);
  const start = entry.start;
  if (start === undefined) throw new BadZipError(`${entry.name}: damaged zip entry`);
  let consumed = 0;
  const counter = boundedCounter(entry.name, bounds, () => consumed, check);
  // An empty entry still goes through the counter (and its check).
  const source = entry.compressedSize > 0 ? createReadStream(file, { start, end: start + entry.compressedSize - 1, highWaterMark: 16 * 1024 }) : Readable.from([]);
  source.on('data', (chunk: Buffer) => (consumed += chunk.length));
  const out = createWriteStream(dest, { flags: 'wx' });
  if (entry.method === 8 && entry.compressedSize > 0) await pipeline(source, createInflateRaw({ chunkSize: 64 * 1024 }), counter.stream, out);
  else await pipeline(source, counter.stream, out);
  return { bytes: counter.bytes(), head: counter.head() };
}
