/**
 * The contract between the engine's HTTP layer (src/server/) and the image operations (src/engine/).
 * One file per tool in src/engine/, each exporting a `ToolImpl`. The operations know nothing of HTTP,
 * tasks or tokens: bytes and typed parameters in, bytes out, or an EngineError naming the file status.
 */
import type { FileStatus } from '../protocol/tools.js';

export interface EngineInput {
  /** The uploaded bytes (already decrypted, already reassembled from chunks). */
  data: Buffer;
  /** The original file name as given in `files[].filename` (used for naming and format hints). */
  filename: string;
  /** Per-file rotation from `files[].rotate`, applied after EXIF orientation and before the tool. */
  rotate: 0 | 90 | 180 | 270;
  /** The header sharp read from `data` with the same pixel limit (the server's decode budget): not read again. */
  header?: import('sharp').Metadata;
}

export interface EngineOutput {
  data: Buffer;
  /** The output's extension without the dot, lower case: jpg, png, gif, webp, tiff, avif, svg. */
  ext: string;
  /** Warnings that make the task TaskSuccessWithWarnings (e.g. a font fallback). */
  warnings?: string[];
}

export interface EngineContext {
  /** Bytes of another file uploaded into the same task (watermark stamps), by server filename. */
  getUploaded(serverFilename: string): Promise<Buffer | undefined>;
  /** Decompression-bomb guard handed to sharp's `limitInputPixels`. */
  limitInputPixels: number;
  /** Per-file processing budget in seconds (sharp `.timeout`), 0 = none. */
  timeoutSeconds: number;
  /** `try_image_repair`: on a decode failure, retry leniently (`failOn: 'none'`). */
  tryRepair: boolean;
}

/** A file could not be processed; `status` becomes the file's status in the task resource. */
export class EngineError extends Error {
  constructor(
    readonly status: FileStatus,
    message: string,
  ) {
    super(message);
    this.name = 'EngineError';
  }
}

/** Validated, typed parameters of one tool (the server coerces wire values with src/protocol/tools.ts). */
export type ToolParams = Record<string, unknown>;

export interface ToolImpl {
  /** Processes one file. */
  run(input: EngineInput, params: ToolParams, ctx: EngineContext): Promise<EngineOutput>;
  /**
   * Processes all the task's files into one output (convert `to=gif_animation`). The server calls it
   * instead of `run` when `joins(params)` is true.
   */
  joins?(params: ToolParams): boolean;
  runJoined?(inputs: EngineInput[], params: ToolParams, ctx: EngineContext): Promise<EngineOutput>;
}
