/** Shared fixtures for the engine tests: corpus files, contexts, synthetic images and decoding. */
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import type { EngineContext, EngineInput, EngineOutput } from '../../src/engine/types.js';
import { fixture } from '../helpers/fixtures.js';
import { parseProcessRequest } from '../../src/server/params.js';
import type { ToolName } from '../../src/protocol/tools.js';
import type { ParamsOf } from '../../src/protocol/typed.js';


export function corpus(name: string): Buffer {
  return readFileSync(fixture(name));
}

export function input(data: Buffer | string, rotate: EngineInput['rotate'] = 0, filename?: string): EngineInput {
  return typeof data === 'string' ? { data: corpus(data), filename: data, rotate } : { data, filename: filename ?? 'synthetic.png', rotate };
}

/** sharp's own default limit, as the server will pass it. */
export const DEFAULT_PIXEL_LIMIT = 0x3fff * 0x3fff;

export function context(overrides: Partial<EngineContext> & { uploads?: Record<string, Buffer> } = {}): EngineContext {
  const { uploads = {}, ...rest } = overrides;
  return {
    getUploaded: async (name) => uploads[name],
    limitInputPixels: DEFAULT_PIXEL_LIMIT,
    timeoutSeconds: 0,
    tryRepair: true,
    ...rest,
  };
}

/** A solid image, encoded. */
export function solid(width: number, height: number, colour: string, format: 'png' | 'jpeg' | 'gif' | 'webp' = 'png', channels: 3 | 4 = 3): Promise<Buffer> {
  return sharp({ create: { width, height, channels, background: colour } }).toFormat(format).toBuffer();
}

export interface Decoded {
  format: string;
  width: number;
  /** Frame height for animations. */
  height: number;
  pages: number;
  channels: number;
  space: string;
  hasProfile: boolean;
  delay?: number[];
  loop?: number;
  data: Buffer;
  /** RGBA of pixel (x, y) of frame `page` (alpha 255 when the image has none). */
  pixel(x: number, y: number, page?: number): number[];
}

/** Decodes an output: metadata of the bytes, plus all frames as raw RGBA. */
export async function decode(out: EngineOutput | Buffer): Promise<Decoded> {
  const bytes = Buffer.isBuffer(out) ? out : out.data;
  const meta = await sharp(bytes, { animated: true }).metadata();
  const { data, info } = await sharp(bytes, { animated: true }).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const pages = meta.pages ?? 1;
  const height = meta.pageHeight ?? meta.height;
  return {
    format: meta.format,
    width: meta.width,
    height,
    pages,
    channels: meta.channels,
    space: meta.space ?? '',
    hasProfile: Boolean(meta.hasProfile),
    delay: meta.delay,
    loop: meta.loop,
    data,
    pixel(x, y, page = 0) {
      const i = ((page * height + y) * info.width + x) * 4;
      return [data[i], data[i + 1], data[i + 2], data[i + 3]];
    },
  };
}

/** Mean of each RGB channel of an encoded image (after sharp's decode to sRGB). */
export async function means(bytes: Buffer): Promise<number[]> {
  const stats = await sharp(bytes).stats();
  return stats.channels.slice(0, 3).map((c) => c.mean);
}

/** Expects a rejected promise to be an EngineError with this status; returns its message. */
export async function failure(p: Promise<unknown>): Promise<{ status: string; message: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as { name?: string; status?: string; message?: string };
    return { status: e.name === 'EngineError' ? String(e.status) : `not an EngineError: ${String(err)}`, message: String(e.message) };
  }
  return { status: 'resolved', message: '' };
}

/**
 * A tool's parameters as the server hands them to the engine: a /process body's fields validated by
 * the table, with the shared rules and the table's defaults applied (src/server/params.ts).
 */
export function wire<T extends ToolName>(tool: T, fields: Record<string, unknown>): ParamsOf<T> {
  return parseProcessRequest({ ...fields, files: [{ server_filename: 'in.png' }] }, tool).params as ParamsOf<T>;
}
