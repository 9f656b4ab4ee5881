/**
 * Shared plumbing for the engine's tools: loading sharp, opening an input the same way for every tool
 * (decode limits, EXIF orientation, the per-file rotation, colour space), and turning libvips failures
 * into `EngineError`s with a file status. The output formats and encoders are in formats.ts (re-exported
 * here for the tools).
 *
 * sharp is only ever loaded through `loadSharp()` (a dynamic import), never at module top level: the CLI
 * imports the engine's tool table for `--help` and must not pay sharp's ~100 ms start-up there.
 *
 * Threads: we leave libvips' thread count at sharp's default. docs/engine-notes.md §0 found that on 2 cores
 * one libvips thread per image with two images in flight is fastest; the server's job pool decides how
 * many files run at once, not this module.
 */
import type { FailOnOptions, Metadata, Sharp, SharpOptions } from 'sharp';
import { encoder, outputFormatFor, toOutput, type OutputFormat } from './formats.js';
import { EngineError, type EngineContext, type EngineInput, type EngineOutput } from './types.js';

export { EXTENSIONS, animationOptions, checkOutputSize, encoder, inputExtension, outputFormatFor, toOutput, type OutputFormat } from './formats.js';

export type SharpModule = typeof import('sharp').default;

let sharpPromise: Promise<SharpModule> | undefined;

/**
 * Loads sharp once, lazily, with its operation cache off: processed images are never reused, so the
 * cache would only hold memory (the decode budget, src/server/decode-budget.ts, counts on it).
 */
export function loadSharp(): Promise<SharpModule> {
  sharpPromise ??= import('sharp').then(({ default: sharp }) => {
    sharp.cache(false);
    return sharp;
  });
  return sharpPromise;
}

// ---------------------------------------------------------------------------------------------------
// Opening an input.

/** An opened input: what the tools need to know about it, plus a factory for fresh pipelines. */
export interface Source {
  sharp: SharpModule;
  /** The decoder sharp picked, from the bytes, never from the file name: jpeg, png, webp, gif, tiff, svg, heif… */
  format: string;
  /** The header metadata of the input as uploaded (before orientation and rotation). */
  meta: Metadata;
  /** Frame width and height after EXIF orientation and the per-file rotation. */
  width: number;
  height: number;
  /** Frames in the pipeline: >1 only for an animated input opened with `animated: true`. */
  pages: number;
  /** Per-frame delays in ms and loop count of an animated input (0 = forever). */
  delay?: number[];
  loop?: number;
  /** Decoded with `failOn: 'none'`: the input is damaged (or this is the repair tool) and was patched up. */
  lenient: boolean;
  /** A new pipeline on the decoded, oriented, rotated, sRGB-ready image, ready for the tool's operations. */
  image(): Sharp;
}

export interface OpenOptions {
  /** Keep every frame of animated GIF/WebP inputs (tools that cannot, e.g. convert to JPG, leave it off). */
  animated?: boolean;
  /** Always decode leniently (the repair tool). */
  lenient?: boolean;
}

/**
 * Opens `input`, runs `work` on it, and maps every failure to an EngineError.
 *
 * Decoding is strict first (`failOn: 'warning'`, sharp's default for untrusted input). If that fails and
 * the task allows `try_image_repair`, the whole tool is run again with `failOn: 'none'`, which lets libvips
 * fill what it cannot decode (truncated JPEG/PNG): the file then succeeds with a warning instead of failing.
 * We retry the tool rather than pre-decoding to test the file, so a healthy file is decoded only once.
 */
export async function processImage<T extends { data: Buffer; warnings?: string[] } = EngineOutput>(
  input: EngineInput,
  ctx: EngineContext,
  options: OpenOptions,
  work: (src: Source) => Promise<T>,
): Promise<T> {
  const sharp = await loadSharp();
  const meta = await readHeader(sharp, input, ctx);
  const attempt = async (failOn: FailOnOptions) => work(await openSource(sharp, input, meta, ctx, options, failOn));

  if (options.lenient) {
    try {
      return await attempt('none');
    } catch (err) {
      throw toEngineError(err, input.filename, ctx);
    }
  }
  try {
    return await attempt('warning');
  } catch (strictError) {
    const mapped = toEngineError(strictError, input.filename, ctx);
    // Only a decode failure can be cured by a lenient decode (libvips words some of those in ways we do
    // not recognise, hence UnknownError too); a timeout, an out-of-range parameter, a missing stamp or the
    // pixel limit would fail the same way again, after burning the time a second time.
    const curable = !(strictError instanceof EngineError) && (mapped.status === 'DamagedFile' || mapped.status === 'UnknownError');
    if (!ctx.tryRepair || !curable || isPixelLimit(strictError)) throw mapped;
    let out: T;
    try {
      out = await attempt('none');
    } catch (lenientError) {
      throw toEngineError(lenientError, input.filename, ctx);
    }
    const warning = `${input.filename} is damaged (${firstLine(strictError)}); it was repaired by decoding what could be read, so parts of it may be grey or missing`;
    return { ...out, warnings: [...(out.warnings ?? []), warning] };
  }
}

/** Reads the header only: cheap, and enough to reject empty files, non-images and pixel bombs. */
async function readHeader(sharp: SharpModule, input: EngineInput, ctx: EngineContext): Promise<Metadata> {
  if (input.data.length === 0) throw new EngineError('DamagedFile', `${input.filename} is empty (0 bytes)`);
  let meta: Metadata;
  try {
    meta = input.header ?? (await sharp(input.data, { limitInputPixels: ctx.limitInputPixels }).metadata());
  } catch (err) {
    // A pixel bomb: say how many pixels it has against the limit (the header alone tells).
    const size = isPixelLimit(err) ? await sharp(input.data, { limitInputPixels: false }).metadata().catch(() => undefined) : undefined;
    if (size?.width && size.height) {
      const pixels = size.width * size.height;
      throw new EngineError('DamagedFile', `${input.filename} is ${size.width}×${size.height} = ${pixels} pixels, which exceeds the pixel limit of ${ctx.limitInputPixels} (a decompression bomb guard); it was not decoded`);
    }
    throw toEngineError(err, input.filename, ctx);
  }
  if (meta.format === 'heif' && meta.compression === 'hevc') {
    // The header parses, but the prebuilt libvips has no HEVC decoder (docs/dependencies.md §2): say so plainly
    // rather than calling the file damaged after a failed decode.
    throw new EngineError('DamagedFile', `${input.filename} is a HEIC (HEVC) image, which this engine cannot decode; convert it to JPEG or AVIF first`);
  }
  return meta;
}

function baseOptions(ctx: EngineContext, failOn: FailOnOptions): SharpOptions {
  return { failOn, limitInputPixels: ctx.limitInputPixels };
}

/** Applies the per-file processing budget; sharp aborts the pipeline with "timeout: N% complete". */
export function withTimeout(img: Sharp, ctx: EngineContext): Sharp {
  return ctx.timeoutSeconds > 0 ? img.timeout({ seconds: ctx.timeoutSeconds }) : img;
}

async function openSource(
  sharp: SharpModule,
  input: EngineInput,
  meta: Metadata,
  ctx: EngineContext,
  options: OpenOptions,
  failOn: FailOnOptions,
): Promise<Source> {
  // The contract says 0/90/180/270; tolerate wire strings and whole turns rather than fail a file on it.
  const rotate = ((Math.round((Number(input.rotate) || 0) / 90) * 90) % 360 + 360) % 360;
  const quarterTurn = rotate === 90 || rotate === 270;
  const oriented = meta.autoOrient ?? { width: meta.width, height: meta.height };
  const width = quarterTurn ? oriented.height : oriented.width;
  const height = quarterTurn ? oriented.width : oriented.height;
  // Only GIF and WebP are animations; the pages of a multi-page TIFF are separate pictures (and may differ
  // in size), so a TIFF is processed by its first page.
  const animated = Boolean(options.animated) && (meta.format === 'gif' || meta.format === 'webp') && (meta.pages ?? 1) > 1;
  const common = {
    sharp,
    format: meta.format,
    meta,
    width,
    height,
    pages: animated ? (meta.pages as number) : 1,
    delay: animated ? meta.delay : undefined,
    loop: animated ? (meta.loop ?? 0) : undefined,
    lenient: failOn === 'none',
  };

  if (meta.space === 'cmyk' && !meta.hasProfile && meta.channels === 4) {
    const rgb = await cmykToRgbNaive(sharp, input.data, ctx, failOn);
    return {
      ...common,
      image: () => rotated(sharp(rgb.data, { raw: rgb.info, limitInputPixels: ctx.limitInputPixels }), rotate, ctx),
    };
  }

  if (animated && rotate !== 0) {
    // libvips cannot rotate a multi-page image ("Rotate is not supported for multi-page images"),
    // so decode the frames, turn each one, and hand the tools a raw strip of turned frames.
    const strip = await rotateFrames(sharp, input.data, meta, rotate, ctx, failOn);
    return {
      ...common,
      image: () =>
        withTimeout(
          sharp(strip, {
            raw: { width, height: height * common.pages, channels: 4, pageHeight: height },
            limitInputPixels: ctx.limitInputPixels,
          }),
          ctx,
        ),
    };
  }

  return {
    ...common,
    // autoOrient applies the EXIF orientation first; `.rotate(angle)` then turns the upright image.
    image: () => rotated(sharp(input.data, { ...baseOptions(ctx, failOn), autoOrient: true, animated }), rotate, ctx),
  };
}

function rotated(img: Sharp, rotate: number, ctx: EngineContext): Sharp {
  return withTimeout(rotate ? img.rotate(rotate) : img, ctx);
}

/**
 * CMYK without an embedded profile is converted with the plain formula R = (1−C)(1−K), as browsers do
 * (Blink's JPEG decoder), not through libvips' fallback press profile. On derived-cmyk-storm (an RGB photo
 * turned CMYK by ImageMagick) the formula gives back the RGB original's channel means to within 0.3 and a
 * mean pixel error of ~1 level, where the profile route is off by 13 levels. CMYK with a profile keeps
 * libvips' ICC conversion, which is the colour-managed answer.
 */
async function cmykToRgbNaive(
  sharp: SharpModule,
  data: Buffer,
  ctx: EngineContext,
  failOn: FailOnOptions,
): Promise<{ data: Buffer; info: { width: number; height: number; channels: 3 } }> {
  // pipelineColourspace('cmyk') keeps libvips from importing the pixels through a profile; raw() then
  // hands back the decoded ink values (Adobe's inverted CMYK already un-inverted by the JPEG loader).
  const { data: cmyk, info } = await withTimeout(
    sharp(data, { ...baseOptions(ctx, failOn), autoOrient: true }).pipelineColourspace('cmyk').toColourspace('cmyk'),
    ctx,
  )
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  const pixels = info.width * info.height;
  const rgb = Buffer.allocUnsafe(pixels * 3);
  for (let i = 0, j = 0; i < pixels * 4; i += 4, j += 3) {
    const k = 255 - cmyk[i + 3];
    rgb[j] = ((255 - cmyk[i]) * k + 127) / 255;
    rgb[j + 1] = ((255 - cmyk[i + 1]) * k + 127) / 255;
    rgb[j + 2] = ((255 - cmyk[i + 2]) * k + 127) / 255;
  }
  return { data: rgb, info: { width: info.width, height: info.height, channels: 3 } };
}

async function rotateFrames(
  sharp: SharpModule,
  data: Buffer,
  meta: Metadata,
  rotate: number,
  ctx: EngineContext,
  failOn: FailOnOptions,
): Promise<Buffer> {
  const { data: all, info } = await withTimeout(sharp(data, { ...baseOptions(ctx, failOn), animated: true }).ensureAlpha(), ctx)
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  const pages = meta.pages ?? 1;
  const frameHeight = info.height / pages;
  const frameBytes = info.width * frameHeight * 4;
  const turned: Buffer[] = [];
  for (let p = 0; p < pages; p++) {
    const frame = all.subarray(p * frameBytes, (p + 1) * frameBytes);
    turned.push(
      await sharp(frame, { raw: { width: info.width, height: frameHeight, channels: 4 } })
        .rotate(rotate)
        .raw()
        .toBuffer(),
    );
  }
  return Buffer.concat(turned);
}

/** Opens, lets the tool shape the pipeline, and encodes in the input's own format: the common case. */
export function transformInPlace(
  input: EngineInput,
  ctx: EngineContext,
  options: OpenOptions,
  shape: (img: Sharp, src: Source, format: OutputFormat) => Sharp | Promise<Sharp>,
): Promise<EngineOutput> {
  return processImage(input, ctx, options, async (src) => {
    const format = outputFormatFor(src.format);
    return toOutput(encoder(await shape(src.image(), src, format), format, src), format);
  });
}

// ---------------------------------------------------------------------------------------------------
// Errors.

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0].trim();
}

function isPixelLimit(err: unknown): boolean {
  return /exceeds pixel limit/i.test(firstLine(err));
}

/** libvips and sharp messages that mean "the bytes could not be decoded". */
const DECODE_FAILURE =
  /premature end|corrupt|truncat|read error|libpng|vipsjpeg|jpegload|pngload|gifload|webpload|tiffload|heifload|svgload|vipsforeignload|not a known|unsupported image format|input buffer|input file|bogus|huffman|invalid (sos|marker|png|gif|jpeg)|bad (huffman|marker|png)|crc|decompress|unsupported compression|unable to (read|load)/i;

/** Maps anything thrown while processing one file to an EngineError naming the file's status. */
export function toEngineError(err: unknown, name: string, ctx: EngineContext): EngineError {
  if (err instanceof EngineError) return err;
  const message = firstLine(err);
  if (/^timeout\b|killed for image/i.test(message)) {
    return new EngineError('TimeOut', `${name} took longer than the ${ctx.timeoutSeconds} s processing limit (${message})`);
  }
  if (isPixelLimit(err)) {
    return new EngineError(
      'DamagedFile',
      `${name} exceeds the pixel limit of ${ctx.limitInputPixels} pixels (a decompression bomb guard); it was not decoded`,
    );
  }
  if (/unsupported image format/i.test(message)) {
    return new EngineError('DamagedFile', `${name} is not an image in a format the engine can read (${message})`);
  }
  if (/buffer is empty/i.test(message)) {
    return new EngineError('DamagedFile', `${name} is empty (0 bytes)`);
  }
  if (DECODE_FAILURE.test(message)) {
    return new EngineError('DamagedFile', `${name} is damaged and could not be decoded (${message})`);
  }
  return new EngineError('UnknownError', `${name} could not be processed: ${message}`);
}
