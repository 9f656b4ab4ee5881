/**
 * Memory for decoding, bounded before a pixel is decoded (README "Security"): a small file can
 * describe a huge image (a 30 kB 1-bit PNG of 16000×16000 decodes to gigabytes; a 200 kB GIF may hold
 * a thousand frames), so each file's need is estimated from its header and reserved from the server's
 * `maxDecodeBytes` before its tool runs. A file that alone needs more than the whole budget is refused
 * (DamagedFile, like the pixel limit); others wait their turn, so the peak stays under the cap.
 *
 * sharp's own cache is turned off (`loadSharp`, processed images are never reused) and its inputs are read
 * sequentially (sharp's default, `sequentialRead: true`), so libvips holds no more than a tool needs.
 */
import type { Metadata } from 'sharp';
import { loadSharp } from '../engine/common.js';
import { EngineError } from '../engine/types.js';

const BYTES_PER_SAMPLE: Record<string, number> = { uchar: 1, char: 1, ushort: 2, short: 2, uint: 4, int: 4, float: 4, double: 8, complex: 8, dpcomplex: 16 };

/**
 * Bytes a tool may hold for this image: every frame of an animation, four bands (RGBA) at the
 * sample depth, twice (the decoded input and the image being built).
 */
export function decodeEstimate(meta: Pick<Metadata, 'width' | 'height' | 'pages' | 'depth' | 'format'>): number {
  const frames = meta.format === 'gif' || meta.format === 'webp' ? Math.max(1, meta.pages ?? 1) : 1;
  return (meta.width ?? 0) * (meta.height ?? 0) * frames * 4 * (BYTES_PER_SAMPLE[meta.depth ?? 'uchar'] ?? 1) * 2;
}

/** The header of `data` (nothing decoded); undefined when unreadable (the tool then says why). */
export async function readHeader(data: Buffer, limitInputPixels: number): Promise<Metadata | undefined> {
  const sharp = await loadSharp();
  return sharp(data, { limitInputPixels }).metadata().catch(() => undefined);
}

/** A first-come, first-served reservation of decode memory. */
export class DecodeBudget {
  private used = 0;
  private readonly waiting: { bytes: number; resolve: () => void }[] = [];

  constructor(readonly total: number) {}

  /** Waits until `bytes` fit, reserves them and resolves with their release (call it once). */
  async reserve(bytes: number, name: string): Promise<() => void> {
    if (this.total <= 0) return () => undefined;
    if (bytes > this.total) {
      throw new EngineError(
        'DamagedFile',
        `${name} would need about ${mb(bytes)} MB to decode, more than this server's decode memory cap of ${mb(this.total)} MB (serve --max-decode-mb); it was not decoded`,
      );
    }
    // A waiter is counted by the release that admits it.
    if (this.used + bytes > this.total || this.waiting.length > 0) await new Promise<void>((resolve) => this.waiting.push({ bytes, resolve }));
    else this.used += bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= bytes;
      while (this.waiting.length > 0 && this.used + this.waiting[0].bytes <= this.total) {
        const next = this.waiting.shift()!;
        this.used += next.bytes;
        next.resolve();
      }
    };
  }
}

function mb(bytes: number): number {
  return Math.ceil(bytes / 1_000_000);
}
