/**
 * The client's network transport: one request over HTTP(S) with got (lazily imported), for the cloud,
 * a `serve` reached with --api-url, and the embedded engine over loopback when that transport is
 * selected (docs/architecture.md, "Transport"). Retries are the client's (client.ts), never got's.
 */
import type { Got, Response } from 'got';
import type { Readable } from 'node:stream';
import type { RequestSpec, ResolvedClientOptions } from './client-types.js';
import { MAX_JSON_BYTES } from './download-limits.js';
import { ApiError } from './errors.js';
import { refuseOtherOrigins } from './http-helpers.js';

export function makeGot(got: Got, options: ResolvedClientOptions): Got {
  return got.extend({
    headers: { 'user-agent': options.userAgent ?? 'iloveimg-cli', accept: 'application/json' },
    retry: { limit: 0 }, // retries are ours (retry.ts): got cannot replay a FormData body
    throwHttpErrors: false,
    timeout: { request: options.timeoutMs },
    hooks: { beforeRedirect: [refuseOtherOrigins] },
  });
}

/** One JSON request: the status, headers and text of the answer (refused past MAX_JSON_BYTES). */
export async function gotCall(got: Got, spec: RequestSpec, headers: Record<string, string>, signal: AbortSignal | undefined): Promise<Response<string>> {
  const req = got(spec.url, {
    method: spec.method,
    headers,
    json: spec.json,
    body: spec.form ? await spec.form() : undefined,
    signal,
    responseType: 'text',
  });
  if (spec.onUploadProgress) req.on('uploadProgress', (p) => spec.onUploadProgress?.(p.transferred));
  // A JSON answer is small: one larger than MAX_JSON_BYTES (after decompression) is cut off there.
  let tooLarge = false;
  req.on('downloadProgress', (p) => {
    if (p.transferred > MAX_JSON_BYTES && !tooLarge) {
      tooLarge = true;
      req.cancel();
    }
  });
  return req.catch((e: unknown) => {
    if (tooLarge) throw new ApiError(`the answer to ${spec.step} is larger than ${MAX_JSON_BYTES} bytes; refused`, 0, spec.step, 'ResponseTooLarge');
    throw e;
  });
}

/** A download's answer as a stream, once its head has arrived. */
export async function gotOpenDownload(
  got: Got,
  url: string,
  headers: Record<string, string>,
  options: ResolvedClientOptions,
): Promise<{ statusCode: number; headers: Response['headers']; body: Readable }> {
  const stream = got.stream(url, {
    headers,
    throwHttpErrors: false,
    // The total bound per attempt, and a stall bound: a server that stops sending mid-download
    // costs idleTimeoutMs per attempt, not the whole per-request timeout.
    timeout: { request: options.timeoutMs, socket: options.idleTimeoutMs },
    retry: { limit: 0 },
    signal: options.signal,
  });
  const response = await new Promise<Response>((resolve, reject) => {
    stream.once('response', resolve);
    stream.once('error', reject);
  });
  return { statusCode: response.statusCode, headers: response.headers, body: stream };
}
