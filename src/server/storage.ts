/**
 * Files at rest: plain, or encrypted with the task's `file_encryption_key` (reference "File Encryption").
 *
 * Encrypted layout: 12-byte IV | AES-256-GCM ciphertext | 16-byte tag. The AES key is SHA-256 of the
 * client's 16/24/32-character key, so any of the allowed lengths gives a 256-bit key. The server never
 * keeps the client's key: tasks remember a fingerprint only, and every request that needs the plaintext
 * must bring the key again (JWT claim or parameter), as on the real service.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, readFile, stat, writeFile } from 'node:fs/promises';
import { Readable, Transform, pipeline as pipeStreams } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Bytes an encrypted file has on top of its plaintext. */
export const ENCRYPTION_OVERHEAD = IV_BYTES + TAG_BYTES;

/** A client key turned into what the storage functions take. */
export interface AtRestKey {
  aes: Buffer;
  /** Identifies the key without revealing it; compared to refuse a different key on the same task. */
  fingerprint: string;
}

export function atRestKey(clientKey: string): AtRestKey {
  const aes = createHash('sha256').update(clientKey, 'utf8').digest();
  const fingerprint = createHash('sha256').update('iloveimg-engine/fingerprint').update(aes).digest('hex').slice(0, 32);
  return { aes, fingerprint };
}

/** Thrown when stored bytes do not decrypt: a wrong key, or a damaged file. */
export class DecryptError extends Error {
  constructor(message = 'The file could not be decrypted with the given file_encryption_key') {
    super(message);
    this.name = 'DecryptError';
  }
}

function encryptor(key: Buffer): Transform {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  let wroteIv = false;
  const ivOnce = (t: Transform): void => {
    if (!wroteIv) t.push(iv);
    wroteIv = true;
  };
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      ivOnce(this);
      done(null, cipher.update(chunk));
    },
    flush(done) {
      ivOnce(this);
      this.push(cipher.final());
      done(null, cipher.getAuthTag());
    },
  });
}

/** Streams `source` into `path`, encrypting when a key is given. Resolves with the plaintext size. */
export async function writeStream(source: Readable, path: string, key?: AtRestKey): Promise<number> {
  let size = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      done(null, chunk);
    },
  });
  const sink = createWriteStream(path, { flags: 'wx' });
  if (key) await pipeline(source, counter, encryptor(key.aes), sink);
  else await pipeline(source, counter, sink);
  return size;
}

export async function writeBuffer(path: string, data: Buffer, key?: AtRestKey): Promise<void> {
  if (!key) return writeFile(path, data, { flag: 'wx' });
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key.aes, iv);
  const body = Buffer.concat([iv, cipher.update(data), cipher.final(), cipher.getAuthTag()]);
  return writeFile(path, body, { flag: 'wx' });
}

export async function readBuffer(path: string, key?: AtRestKey): Promise<Buffer> {
  const raw = await readFile(path);
  if (!key) return raw;
  if (raw.length < ENCRYPTION_OVERHEAD) throw new DecryptError('The stored file is damaged');
  const decipher = createDecipheriv('aes-256-gcm', key.aes, raw.subarray(0, IV_BYTES));
  decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]);
  } catch {
    throw new DecryptError();
  }
}

/** A stored file's plaintext: its bytes when held in memory (the embedded engine, memory.ts), else read from `path`. */
export async function readStored(file: { path: string; encrypted: boolean; data?: Buffer }, key?: AtRestKey): Promise<Buffer> {
  return file.data ?? readBuffer(file.path, file.encrypted ? key : undefined);
}

/**
 * A plaintext stream of a stored file and its plaintext size, for downloads. GCM only authenticates at
 * the end, so callers must have checked the key's fingerprint first; a failure at the end then means
 * damage on disk and the stream errors.
 */
export async function openStream(path: string, key?: AtRestKey): Promise<{ stream: Readable; size: number }> {
  const { size } = await stat(path);
  if (!key) return { stream: createReadStream(path), size };
  if (size < ENCRYPTION_OVERHEAD) throw new DecryptError('The stored file is damaged');
  const fh = await open(path, 'r');
  const header = Buffer.alloc(IV_BYTES);
  const tag = Buffer.alloc(TAG_BYTES);
  try {
    await fh.read(header, 0, IV_BYTES, 0);
    await fh.read(tag, 0, TAG_BYTES, size - TAG_BYTES);
  } finally {
    await fh.close();
  }
  const decipher = createDecipheriv('aes-256-gcm', key.aes, header);
  decipher.setAuthTag(tag);
  const plainSize = size - ENCRYPTION_OVERHEAD;
  const cipherText = plainSize > 0 ? createReadStream(path, { start: IV_BYTES, end: size - TAG_BYTES - 1 }) : Readable.from([]);
  // A read error or a bad tag destroys `decipher`, which the caller's own pipeline then reports.
  pipeStreams(cipherText, decipher, () => {});
  return { stream: decipher, size: plainSize };
}
