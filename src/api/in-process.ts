/**
 * The client's in-process transport for the embedded engine (docs/architecture.md, "Transport"): the
 * request the client would send over loopback (method, path, bearer token, JSON or multipart body) is
 * handed to the engine's router directly, and its answer is read as a socket answer would be. The wire
 * format is the API's: uploads are multipart/form-data with the same parts, JSON bodies are JSON. Only
 * the socket, the HTTP framing and got are left out. Retries, error mapping and the download bounds
 * stay in client.ts and apply to both transports.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { InProcessDispatch } from './client-types.js';
import { MAX_JSON_BYTES } from './download-limits.js';
import { ApiError, type Step } from './errors.js';

export interface InProcessAnswer {
  statusCode: number;
  headers: IncomingHttpHeaders;
  body: Readable;
}

export interface InProcessSpec {
  method: string;
  url: string;
  headers: Record<string, string>;
  json?: unknown;
  /** An upload's multipart body, as its parts (see encodeUpload). */
  upload?: readonly UploadPart[];
  signal?: AbortSignal;
  /** The per-request bound (the client's --timeout): past it the request is cut as got cuts it. */
  timeoutMs?: number;
}

/** Sends one request to the engine; the answer's body is a stream (a download) to read or drain. */
export async function sendInProcess(dispatch: InProcessDispatch, spec: InProcessSpec): Promise<InProcessAnswer> {
  const headers: Record<string, string> = { ...spec.headers };
  let body: Buffer | Buffer[] | undefined;
  if (spec.upload) {
    const encoded = await encodeUpload(spec.upload);
    headers['content-type'] = encoded.contentType;
    headers['content-length'] = String(encoded.length);
    body = encoded.body;
  } else if (spec.json !== undefined) {
    body = Buffer.from(JSON.stringify(spec.json));
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(body.length);
  }
  const signals = [spec.signal, spec.timeoutMs ? AbortSignal.timeout(spec.timeoutMs) : undefined].filter((s): s is AbortSignal => s !== undefined);
  const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
  return dispatch({ method: spec.method, url: spec.url, headers, body, signal });
}

/** A JSON answer's text, cut off (and refused) past MAX_JSON_BYTES as the got path does. */
export async function readAnswerText(answer: InProcessAnswer, step: Step): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of answer.body) {
    if ((size += (c as Buffer).length) > MAX_JSON_BYTES) {
      answer.body.destroy();
      throw new ApiError(`the answer to ${step} is larger than ${MAX_JSON_BYTES} bytes; refused`, 0, step, 'ResponseTooLarge');
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** One part of an upload's multipart body: a text field, or a slice of a file or of bytes. */
export type UploadPart = { name: string; value: string } | { name: string; filename: string; path?: string; data?: Buffer; start: number; size: number };

/**
 * multipart/form-data as browsers and undici encode a FormData (WHATWG "multipart/form-data encoding
 * algorithm": `"`, CR and LF in names escaped as %22, %0D, %0A; a file part with its filename and
 * `application/octet-stream`). The file's bytes are read straight into their own buffer (an upload
 * part is at most CHUNK_BYTES), and the body is handed over as its pieces, not copied into one.
 */
export async function encodeUpload(parts: readonly UploadPart[]): Promise<{ contentType: string; body: Buffer[]; length: number }> {
  const boundary = `----iloveimg${randomBytes(12).toString('hex')}`;
  const escape = (s: string): string => s.replace(/\n/g, '%0A').replace(/\r/g, '%0D').replace(/"/g, '%22');
  const body: Buffer[] = [];
  let text = '';
  for (const part of parts) {
    if ('value' in part) {
      text += `--${boundary}\r\nContent-Disposition: form-data; name="${escape(part.name)}"\r\n\r\n${part.value.replace(/\r(?!\n)|(?<!\r)\n/g, '\r\n')}\r\n`;
      continue;
    }
    text += `--${boundary}\r\nContent-Disposition: form-data; name="${escape(part.name)}"; filename="${escape(part.filename)}"\r\nContent-Type: application/octet-stream\r\n\r\n`;
    body.push(Buffer.from(text), await sliceOf(part));
    text = '\r\n';
  }
  body.push(Buffer.from(`${text}--${boundary}--\r\n`));
  return { contentType: `multipart/form-data; boundary=${boundary}`, body, length: body.reduce((n, b) => n + b.length, 0) };
}

async function sliceOf(part: { path?: string; data?: Buffer; start: number; size: number }): Promise<Buffer> {
  if (!part.path) return (part.data ?? Buffer.alloc(0)).subarray(part.start, part.start + part.size);
  const buf = Buffer.allocUnsafe(part.size);
  const fh = await open(part.path, 'r');
  try {
    let got = 0;
    while (got < part.size) {
      const { bytesRead } = await fh.read(buf, got, part.size - got, part.start + got);
      if (bytesRead === 0) throw Object.assign(new Error(`${part.path} changed while it was being read`), { code: 'ECHANGED' });
      got += bytesRead;
    }
  } finally {
    await fh.close();
  }
  return buf;
}
