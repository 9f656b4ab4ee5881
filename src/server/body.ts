/**
 * Request bodies, in every encoding the official clients use (docs/protocol.md §3.4): JSON,
 * x-www-form-urlencoded and multipart/form-data, the last two in PHP bracket notation. Query-string
 * parameters are merged underneath (clients put `v` and `debug` there, even on POSTs); bodies on GET
 * are read like any other, because Guzzle and RestClient send them.
 *
 * Multipart file parts are streamed to a temp file (encrypted at rest when the caller passes a key),
 * or, for the embedded engine, held in its memory pool while it has room (memory.ts). Every size is capped; a body far past its cap is answered early (router.ts).
 */
import busboy from 'busboy';
import type { IncomingMessage } from 'node:http';
import { unlink } from 'node:fs/promises';
import { buildFields, jsonDepth, normalizeJson, type Fields } from './brackets.js';
import { HttpError, badParam } from './errors.js';
import { collect, type MemoryPool } from './memory.js';
import { writeStream, type AtRestKey } from './storage.js';

/** Deeper JSON is refused; the deepest legitimate body is `{"elements":[{…}]}`. */
export const MAX_JSON_DEPTH = 32;
/** Name/value pairs per body; a thousand-file task with four keys per file fits. */
const MAX_FIELDS = 20_000;
const MAX_FIELD_BYTES = 1024 * 1024;

/** A file part, already on disk at `tmpPath` (the caller moves or deletes it), or held in `data`. */
export interface FilePart {
  tmpPath: string;
  /** The bytes, when held in memory (nothing at `tmpPath`); their pool's share is the caller's to give back. */
  data?: Buffer;
  /** Plaintext bytes. */
  size: number;
  /** The part's filename as the client sent it (unsanitised). */
  filename: string;
  /** `file`, or `cloud_file` when ilovepdf-php sends the URL's content as a file part (its bug, §3.2). */
  field: string;
}

export interface ParsedBody {
  fields: Fields;
  file?: FilePart;
}

export interface BodyOptions {
  maxFormBytes: number;
  /** Accept one file part, streamed to `tmpPath()`; without this, file parts are drained and ignored. */
  upload?: { tmpPath: () => string; maxBytes: number; key?: AtRestKey; memory?: MemoryPool };
}

/** Removes a file part that was not stored: its temp file, or its bytes' share of the pool. */
export async function discardPart(part: FilePart, memory: MemoryPool | undefined): Promise<void> {
  if (part.data) memory?.give(part.data.length);
  else if (part.tmpPath) await unlink(part.tmpPath).catch(() => {});
  part.data = undefined;
  part.tmpPath = '';
}

/** Takes a held part's bytes (and their share of the pool) for storing: the part has nothing left to discard. */
export function takeData(part: FilePart): Buffer | undefined {
  const data = part.data;
  if (data) (part.data = undefined), (part.tmpPath = '');
  return data;
}

export async function parseBody(req: IncomingMessage, query: URLSearchParams, opts: BodyOptions): Promise<ParsedBody> {
  const fields = buildFields(query);
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  let body: ParsedBody;
  if (type === 'multipart/form-data') body = await parseMultipart(req, opts);
  else {
    const text = await readText(req, opts.maxFormBytes);
    if (type === 'application/json' || type.endsWith('+json')) body = { fields: parseJson(text) };
    else if (type === 'application/x-www-form-urlencoded') body = { fields: parseUrlEncoded(text) };
    // No or another content type: take what the body looks like, empty included.
    else if (text.trim() === '') body = { fields: {} };
    else body = { fields: text.trimStart().startsWith('{') ? parseJson(text) : parseUrlEncoded(text) };
  }
  return { fields: Object.assign(fields, body.fields), file: body.file };
}

function tooLarge(limit: number): HttpError {
  return new HttpError(400, `The request body is larger than ${limit} bytes`);
}

function aborted(): HttpError {
  return new HttpError(400, 'The request was aborted');
}

function declaredLength(req: IncomingMessage): number {
  const n = Number(req.headers['content-length']);
  return Number.isFinite(n) ? n : 0;
}

function readText(req: IncomingMessage, limit: number): Promise<string> {
  if (declaredLength(req) > limit) return Promise.reject(tooLarge(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        reject(tooLarge(limit));
      } else chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => reject(aborted()));
    // A client that goes away mid-body ends neither with 'end' nor always with 'error'.
    req.on('close', () => {
      if (!req.complete) reject(aborted());
    });
  });
}

export function parseJson(text: string): Fields {
  if (jsonDepth(text) > MAX_JSON_DEPTH) throw new HttpError(400, `The JSON body is nested deeper than ${MAX_JSON_DEPTH} levels`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'The request body is not valid JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new HttpError(400, 'The JSON body must be an object');
  }
  return normalizeJson(value) as Fields;
}

export function parseUrlEncoded(text: string): Fields {
  const params = new URLSearchParams(text);
  let count = 0;
  for (const _ of params.keys()) {
    if (++count > MAX_FIELDS) throw new HttpError(400, `More than ${MAX_FIELDS} fields in the request body`);
  }
  return buildFields(params);
}

function parseMultipart(req: IncomingMessage, opts: BodyOptions): Promise<ParsedBody> {
  const upload = opts.upload;
  // Past this the client is not sending a file we could accept, whatever the parts: stop reading.
  const hardCap = (upload?.maxBytes ?? 0) + opts.maxFormBytes;
  const overCap = (): HttpError =>
    upload ? badParam('file', `The file is larger than the maximum upload size of ${upload.maxBytes} bytes`) : tooLarge(hardCap);
  if (declaredLength(req) > hardCap) return Promise.reject(overCap());

  let bb: busboy.Busboy;
  try {
    bb = busboy({
      headers: req.headers,
      // Without this busboy decodes non-ASCII file names as latin1.
      defParamCharset: 'utf8',
      limits: { files: upload ? 1 : 0, fileSize: upload?.maxBytes, fields: MAX_FIELDS, fieldSize: MAX_FIELD_BYTES, parts: MAX_FIELDS + 1 },
    });
  } catch {
    return Promise.reject(new HttpError(400, 'Malformed multipart/form-data request'));
  }

  const pairs: [string, string][] = [];
  let file: FilePart | undefined;
  let writing: Promise<void> = Promise.resolve();
  let failure: HttpError | undefined;

  bb.on('field', (name, value, info) => {
    if (info.valueTruncated) failure ??= new HttpError(400, `The field ${name.slice(0, 80)} is longer than ${MAX_FIELD_BYTES} bytes`);
    pairs.push([name, value]);
  });
  bb.on('file', (name, stream, info) => {
    const field = name.trim();
    if (!upload || file || (field !== 'file' && field !== 'cloud_file')) {
      stream.resume();
      return;
    }
    const part: FilePart = { tmpPath: upload.tmpPath(), size: 0, filename: info.filename ?? '', field };
    file = part;
    // Held in memory only unencrypted: an encrypted file is meant to be at rest encrypted (storage.ts).
    const memory = upload.key ? undefined : upload.memory;
    const stored = memory ? collect(stream, memory, part.tmpPath) : writeStream(stream, part.tmpPath, upload.key).then((size) => ({ size, data: undefined }));
    writing = stored.then(({ size, data }) => {
      part.size = size;
      part.data = data;
      if ((stream as { truncated?: boolean }).truncated) {
        failure ??= badParam('file', `The file is larger than the maximum upload size of ${upload.maxBytes} bytes`);
      }
    });
  });
  const tooMany = (): void => {
    failure ??= new HttpError(400, `More than ${MAX_FIELDS} fields in the request body`);
  };
  bb.on('fieldsLimit', tooMany);
  bb.on('partsLimit', tooMany);

  return new Promise<ParsedBody>((resolve, reject) => {
    let settled = false;
    const fail = (err: HttpError): void => {
      if (settled) return;
      settled = true;
      req.unpipe(bb);
      // Destroying busboy errors a half-written file part, which ends `writing`.
      bb.destroy();
      // Let the write finish or fail before removing what it wrote.
      void writing.catch(() => {}).then(() => file && discardPart(file, upload?.memory));
      reject(err);
    };
    let received = 0;
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > hardCap) fail(overCap());
    });
    req.on('error', () => fail(aborted()));
    req.on('close', () => {
      if (!req.complete) fail(aborted());
    });
    bb.on('error', (err: Error) => fail(new HttpError(400, `Malformed multipart/form-data request: ${err.message}`)));
    bb.on('close', () => {
      writing.then(
        () => {
          if (failure) return fail(failure);
          let fields: Fields;
          try {
            fields = buildFields(pairs);
          } catch (err) {
            return fail(err as HttpError);
          }
          if (!settled) {
            settled = true;
            resolve({ fields, file });
          }
        },
        (err: Error) => fail(new HttpError(400, `The upload could not be stored: ${err.message}`)),
      );
    });
    req.pipe(bb);
  });
}
