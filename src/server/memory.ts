/**
 * Task files held in memory instead of on disk: the embedded engine's uploads, outputs and zips
 * (docs/performance.md, "The per-file trip"). The engine lives as long as one command and its files
 * are the user's own, so writing each upload to a temp dir and reading it back only costs file-system
 * calls. A pool bounds the bytes held across all tasks; above it (and for encrypted files) bytes go
 * to disk as they do for `serve`, which never holds files in memory.
 */
import type { Readable } from 'node:stream';
import { Readable as ReadableStream } from 'node:stream';
import { writeStream } from './storage.js';

/** The embedded engine's pool: uploads and outputs held in memory up to this many bytes in all. */
export const EMBEDDED_MEMORY_BYTES = 256 * 1024 * 1024;

export class MemoryPool {
  private held = 0;

  constructor(readonly limit: number) {}

  /** Reserves `bytes` when they fit under the limit; false (nothing reserved) when they do not. */
  take(bytes: number): boolean {
    if (this.held + bytes > this.limit) return false;
    this.held += bytes;
    return true;
  }

  give(bytes: number): void {
    this.held = Math.max(0, this.held - bytes);
  }

  /** Bytes held now (tests). */
  get bytes(): number {
    return this.held;
  }
}

/**
 * Reads `stream` into memory while the pool has room; once it has not, what was read and the rest
 * go to `spillPath` instead (and the pool gets its bytes back). Resolves with the bytes (held in the
 * pool: the caller gives them back) or, spilled, with the size of the file at `spillPath`.
 */
export async function collect(stream: Readable, pool: MemoryPool, spillPath: string): Promise<{ data?: Buffer; size: number }> {
  const chunks: Buffer[] = [];
  let size = 0;
  const it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  try {
    for (let next = await it.next(); !next.done; next = await it.next()) {
      const chunk = next.value;
      if (pool.take(chunk.length)) {
        chunks.push(chunk);
        size += chunk.length;
        continue;
      }
      pool.give(size);
      const held = chunks.splice(0);
      size = 0;
      async function* rest(): AsyncGenerator<Buffer> {
        yield* held;
        yield chunk;
        for (let more = await it.next(); !more.done; more = await it.next()) yield more.value;
      }
      return { size: await writeStream(ReadableStream.from(rest()), spillPath) };
    }
  } catch (err) {
    pool.give(size);
    throw err;
  }
  return { data: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size), size };
}
