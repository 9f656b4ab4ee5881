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
import { Readable } from 'node:stream';
import type { InProcessDispatch } from './client-types.js';
import { MAX_JSON_BYTES } from './download-limits.js';
import { ApiError, type Step } from './errors.js';

/** Blobs up to this size are read whole and sent as one buffer; larger ones stream. */
const WHOLE_BODY_BYTES = 4 * 1024 * 1024;

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
  form?: FormData;
  signal?: AbortSignal;
  /** The per-request bound (the client's --timeout): past it the request is cut as got cuts it. */
  timeoutMs?: number;
}

/** Sends one request to the engine; the answer's body is a stream (a download) to read or drain. */
export async function sendInProcess(dispatch: InProcessDispatch, spec: InProcessSpec): Promise<InProcessAnswer> {
  const headers: Record<string, string> = { ...spec.headers };
  let body: Buffer | Readable | undefined;
  if (spec.form) {
    const encoded = await encodeMultipart(spec.form);
    headers['content-type'] = encoded.contentType;
    if (encoded.length !== undefined) headers['content-length'] = String(encoded.length);
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

/**
 * multipart/form-data as browsers and undici encode a FormData (WHATWG "multipart/form-data encoding
 * algorithm": `"`, CR and LF in names escaped as %22, %0D, %0A; a file part with its filename and
 * `application/octet-stream` when the blob has no type). Small bodies become one buffer.
 */
export async function encodeMultipart(form: FormData): Promise<{ contentType: string; body: Buffer | Readable; length?: number }> {
  const boundary = `----iloveimg${randomBytes(12).toString('hex')}`;
  const escape = (s: string): string => s.replace(/\n/g, '%0A').replace(/\r/g, '%0D').replace(/"/g, '%22');
  const parts: (Buffer | Blob)[] = [];
  let length = 0;
  let streamed = false;
  for (const [name, value] of form) {
    if (typeof value === 'string') {
      const text = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${escape(name)}"\r\n\r\n${value.replace(/\r(?!\n)|(?<!\r)\n/g, '\r\n')}\r\n`);
      parts.push(text);
      length += text.length;
    } else {
      const head = Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${escape(name)}"; filename="${escape(value.name)}"\r\n` +
          `Content-Type: ${value.type || 'application/octet-stream'}\r\n\r\n`,
      );
      parts.push(head, value, Buffer.from('\r\n'));
      length += head.length + value.size + 2;
      if (value.size > WHOLE_BODY_BYTES) streamed = true;
    }
  }
  const tail = Buffer.from(`--${boundary}--\r\n`);
  parts.push(tail);
  length += tail.length;
  const contentType = `multipart/form-data; boundary=${boundary}`;
  if (!streamed) {
    const buffers = await Promise.all(parts.map(async (p) => (Buffer.isBuffer(p) ? p : Buffer.from(await p.arrayBuffer()))));
    return { contentType, body: Buffer.concat(buffers, length), length };
  }
  async function* chunks(): AsyncGenerator<Buffer> {
    for (const p of parts) {
      if (Buffer.isBuffer(p)) yield p;
      else for await (const c of p.stream() as unknown as AsyncIterable<Uint8Array>) yield Buffer.from(c.buffer, c.byteOffset, c.byteLength);
    }
  }
  return { contentType, body: Readable.from(chunks(), { objectMode: false }), length };
}
