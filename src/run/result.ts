/**
 * Fetching a task's result: streamed to a temporary file under the download bounds (download-limits.ts),
 * and a zip unpacked entry by entry into files beside it (unzip-bounded.ts), so nothing of a result
 * is ever held in memory whole and a bomb stops at its bound. Every file is sniffed: one that is not
 * an image comes back with an `error` (a failed file), never as a result.
 * Entry names come from the server and are untrusted: callers match them (batch.ts) or reduce them to
 * one safe file name (task-download.ts), never use them as paths.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { IloveimgClient, TaskRef } from '../api/client.js';
import { NotAnImageError, parseSize, ResultTooLargeError, type DownloadLimits } from '../api/download-limits.js';
import { UsageError } from '../lib/errors.js';
import { ApiError } from '../api/errors.js';
import { trackTempDir } from '../lib/cleanup.js';
import { sniff } from './inputs.js';
import { extractEntry, listZip } from './unzip-bounded.js';

export interface ResultFile {
  name: string;
  /** A temporary file holding the bytes (removed when `fetchResult`'s callback returns). */
  path: string;
  bytes: number;
  /** The first 512 bytes, for sniffing. */
  head: Buffer;
  /** Why this file is not a usable result (not an image, over a bound): report it failed. */
  error?: { type: string; message: string };
}

export interface FetchedResult {
  /** The server sent a zip (several outputs). */
  zip: boolean;
  /** The zip's file entries; or the one file (or the kept zip) named from Content-Disposition, else `fallbackName`. */
  files: ResultFile[];
}

/** Complains about bytes that are neither an image nor (when allowed) a zip; empty is "no output". */
function imageCheck(allowZip: boolean) {
  return (head: Buffer): string | undefined => {
    if (head.length === 0 || sniff(head) || (allowZip && isZip(head))) return undefined;
    return `the server's result is not an image (it starts with bytes ${head.subarray(0, 8).toString('hex')})`;
  };
}

/** Downloads and unpacks the result of `ref`, hands it to `use`, then removes the temporary files. */
export async function fetchResult<T>(
  client: IloveimgClient,
  ref: TaskRef,
  opts: { keepZip?: boolean; fallbackName: (zip: boolean) => string; limits: DownloadLimits },
  use: (result: FetchedResult) => Promise<T>,
): Promise<T> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'iloveimg-dl-'));
  const untrack = trackTempDir(dir);
  try {
    const tmp = path.join(dir, 'download');
    const res = await client.download(ref, tmp, { maxBytes: opts.limits.maxBytes, check: imageCheck(true) }).catch((e: unknown) => {
      // Refused by its bounds or its first bytes: a failed file, not a failed command.
      if (e instanceof ApiError && (e.type === 'NotAnImage' || e.type === 'ResultTooLarge')) return e;
      throw e;
    });
    if (res instanceof ApiError) {
      const error = { type: res.type, message: res.message };
      return await use({ zip: false, files: [{ name: opts.fallbackName(false), path: tmp, bytes: 0, head: Buffer.alloc(0), error }] });
    }
    const { head, bytes } = res;
    const zip = isZip(head);
    if (!zip || opts.keepZip) {
      const error = bytes === 0 ? { type: 'DownloadError', message: 'the server sent an empty result' } : !zip && bytes > opts.limits.maxEntryBytes ? tooLarge(bytes, opts.limits) : undefined;
      return await use({ zip, files: [{ name: res.filename ?? opts.fallbackName(zip), path: tmp, bytes, head, error }] });
    }
    const files: ResultFile[] = [];
    let total = 0;
    for (const [i, entry] of (await listZip(tmp)).entries()) {
      const dest = path.join(dir, `entry-${i}`);
      const bounds = { maxBytes: Math.min(opts.limits.maxEntryBytes, opts.limits.maxBytes - total), maxRatio: opts.limits.maxRatio };
      try {
        const out = await extractEntry(tmp, entry, dest, bounds, imageCheck(false));
        total += out.bytes;
        files.push({ name: entry.name, path: dest, ...out });
      } catch (e) {
        if (!(e instanceof ResultTooLargeError || e instanceof NotAnImageError)) throw e;
        await rm(dest, { force: true });
        files.push({ name: entry.name, path: dest, bytes: 0, head: Buffer.alloc(0), error: { type: e.type, message: e.message } });
      }
    }
    await rm(tmp, { force: true });
    return await use({ zip, files });
  } finally {
    await rm(dir, { recursive: true, force: true });
    untrack();
  }
}

function tooLarge(bytes: number, limits: DownloadLimits) {
  return { type: 'ResultTooLarge', message: `the result (${bytes} bytes) is larger than ${limits.maxEntryBytes} bytes (raise ILOVEIMG_MAX_RESULT_SIZE if it is legitimate)` };
}

/** A zip's local-file or (empty archive) end-of-directory signature. */
function isZip(b: Buffer): boolean {
  return b.length >= 4 && b[0] === 0x50 && b[1] === 0x4b && (b[2] === 0x03 || b[2] === 0x05) && (b[3] === 0x04 || b[3] === 0x06);
}

/** ILOVEIMG_MAX_RESULT_SIZE, read once per run (download-limits.ts). */
export function resultSizeOverride(env: NodeJS.ProcessEnv): number | undefined {
  try {
    return parseSize(env.ILOVEIMG_MAX_RESULT_SIZE);
  } catch (e) {
    throw new UsageError(`ILOVEIMG_MAX_RESULT_SIZE: ${(e as Error).message}`);
  }
}
