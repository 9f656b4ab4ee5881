/**
 * The contract between the engine's HTTP layer (src/server/) and the image operations (src/engine/).
 * One file per tool in src/engine/, each exporting a `ToolImpl`. The operations know nothing of HTTP,
 * tasks or tokens: bytes and typed parameters in, bytes out, or an EngineError naming the file status.
 */
import type { FileStatus, ToolName } from '../protocol/tools.js';
import type { ParamsOf } from '../protocol/typed.js';

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

/** Parameters of some tool, as the server holds them; each tool reads its own as `ParamsOf<Tool>`. */
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

/** One tool's implementation, reading its parameters with the types of its row of the table. */
export interface TypedToolImpl<T extends ToolName> {
  run(input: EngineInput, params: ParamsOf<T>, ctx: EngineContext): Promise<EngineOutput>;
  joins?(params: ParamsOf<T>): boolean;
  runJoined?(inputs: EngineInput[], params: ParamsOf<T>, ctx: EngineContext): Promise<EngineOutput>;
}

/**
 * Declares the implementation of `tool`. The server hands every tool its parameters validated by the
 * table with its defaults applied (src/server/params.ts, `withDefaults`), which is what makes them a
 * `ParamsOf<T>`; the tool table (index.ts) holds them under the server's untyped view.
 */
export function defineTool<T extends ToolName>(_tool: T, impl: TypedToolImpl<T>): ToolImpl {
  return impl as unknown as ToolImpl;
}
