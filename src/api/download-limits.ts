/**
 * How much a result may weigh before the CLI stops reading it (README "Security"). A server decides
 * what it sends; these bounds keep a hostile or broken one from filling the disk or the memory:
 *
 * - `maxBytes`: the whole download, after any Content-Encoding is undone, and the sum of a zip's entries;
 * - `maxEntryBytes`: one file (one zip entry, or the single file);
 * - `maxRatio`: a zip entry may not inflate to more than this many times its compressed size (past 1 MiB);
 * - `maxJsonBytes`: any JSON answer (start, task, process, …).
 *
 * The defaults are a generous multiple of the inputs: a result is rarely larger than its input, except
 * for upscaling (×4 in each dimension) and conversion to PNG/TIFF, which get a larger multiple.
 * `ILOVEIMG_MAX_RESULT_SIZE` (bytes, or with kB/MB/GB/KiB/MiB/GiB) replaces both byte bounds.
 */
import { Transform } from 'node:stream';
import { toolByName } from '../protocol/tools.js';

export interface DownloadLimits {
  maxBytes: number;
  maxEntryBytes: number;
  maxRatio: number;
}

export const MAX_JSON_BYTES = 8 * 1024 * 1024;
const FLOOR = 64 * 1024 * 1024;
const RATIO = 100;

/** The multiple of the input bytes a tool's result may reach (its row's `resultMultiple`). */
function multipleFor(tool: string): number {
  return toolByName(tool)?.resultMultiple ?? 20;
}

/**
 * Bounds for a result of `tool` made from inputs totalling `inputBytes`, the largest of which is
 * `largestInput` bytes; `override` (from ILOVEIMG_MAX_RESULT_SIZE) replaces the byte bounds.
 */
export function limitsFor(opts: { tools: readonly string[]; inputBytes: number; largestInput: number; override?: number }): DownloadLimits {
  if (opts.override !== undefined) return { maxBytes: opts.override, maxEntryBytes: opts.override, maxRatio: RATIO };
  const k = Math.max(...opts.tools.map(multipleFor), 1);
  return {
    maxBytes: FLOOR + k * Math.max(0, opts.inputBytes),
    maxEntryBytes: FLOOR + k * Math.max(0, opts.largestInput),
    maxRatio: RATIO,
  };
}

const UNITS: Record<string, number> = { '': 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };

/** `"500MB"` → 500000000; undefined for nothing; throws on nonsense (the caller names the variable). */
export function parseSize(text: string | undefined): number | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? UNITS[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined || Number(m[1]) <= 0) throw new Error(`"${text}" is not a size (examples: 500MB, 2GiB, 1000000)`);
  return Math.round(Number(m[1]) * unit);
}

/** A result over a bound: the download or unzip stops there, nothing of it is written. */
export class ResultTooLargeError extends Error {
  readonly type = 'ResultTooLarge';
}

export interface EntryBounds {
  /** At most this many bytes. */
  maxBytes: number;
  /** At most this many times the compressed size, once past 1 MiB (zip entries). */
  maxRatio: number;
}

/** A result whose first bytes are not what was expected (an image, or a zip of them). */
export class NotAnImageError extends Error {
  readonly type = 'NotAnImage';
}

/**
 * A pass-through that counts bytes, keeps the first 512 and fails past the bounds, or as soon as
 * `check` (given the first 512 bytes, or all of them when fewer) returns a complaint.
 */
export function boundedCounter(what: string, bounds: EntryBounds, compressed?: () => number, check?: (head: Buffer) => string | undefined) {
  let total = 0;
  const heads: Buffer[] = [];
  let headBytes = 0;
  let checked = !check;
  const verdict = (): Error | undefined => {
    checked = true;
    const complaint = check?.(Buffer.concat(heads));
    return complaint ? new NotAnImageError(`${what}: ${complaint}`) : undefined;
  };
  const stream = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      total += chunk.length;
      if (headBytes < 512) {
        heads.push(chunk.subarray(0, 512 - headBytes));
        headBytes += Math.min(chunk.length, 512 - headBytes);
      }
      if (!checked && headBytes >= 512) {
        const bad = verdict();
        if (bad) return cb(bad);
      }
      if (total > bounds.maxBytes) return cb(new ResultTooLargeError(`${what} is larger than ${bounds.maxBytes} bytes; stopped reading it (raise ILOVEIMG_MAX_RESULT_SIZE if it is legitimate)`));
      // Against the compressed bytes read so far: a bomb is caught after its first inflated chunks.
      if (compressed && total > 1024 * 1024 && total > bounds.maxRatio * Math.max(1, compressed())) {
        return cb(new ResultTooLargeError(`${what} inflates more than ${bounds.maxRatio} times its compressed size (a zip bomb?); stopped reading it`));
      }
      cb(null, chunk);
    },
    flush(cb) {
      cb(checked ? null : verdict());
    },
  });
  return { stream, bytes: () => total, head: () => Buffer.concat(heads) };
}
