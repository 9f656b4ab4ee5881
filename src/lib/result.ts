/**
 * Fetching a task's result: downloaded through a temporary file (so a large result never sits in a
 * socket buffer), and a zip unpacked into its file entries unless the caller wants the zip itself.
 * Entry names come from the server and are untrusted: callers match them (batch.ts) or pass them
 * through safeJoin (task-download.ts), never use them as paths directly.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { IloveimgClient, TaskRef } from '../api/client.js';

export interface ResultFile {
  name: string;
  data: Buffer;
}

export interface FetchedResult {
  /** The server sent a zip (several outputs). */
  zip: boolean;
  /** The zip's file entries; or the one file (or the kept zip) named from Content-Disposition, else `fallbackName`. */
  files: ResultFile[];
}

export async function fetchResult(client: IloveimgClient, ref: TaskRef, opts: { keepZip?: boolean; fallbackName: (zip: boolean) => string }): Promise<FetchedResult> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'iloveimg-dl-'));
  try {
    const tmp = path.join(dir, 'download');
    const res = await client.download(ref, tmp);
    const data = await readFile(tmp);
    const zip = isZip(data);
    if (!zip || opts.keepZip) return { zip, files: [{ name: res.filename ?? opts.fallbackName(zip), data }] };
    const { unzipSync } = await import('fflate');
    const entries = unzipSync(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    const files = Object.entries(entries)
      .filter(([name]) => !name.endsWith('/'))
      .map(([name, bytes]) => ({ name, data: Buffer.from(bytes) }));
    return { zip, files };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A zip's local-file or (empty archive) end-of-directory signature. */
function isZip(b: Buffer): boolean {
  return b.length >= 4 && b[0] === 0x50 && b[1] === 0x4b && (b[2] === 0x03 || b[2] === 0x05) && (b[3] === 0x04 || b[3] === 0x06);
}
