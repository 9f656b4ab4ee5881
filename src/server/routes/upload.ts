/**
 * `POST /upload` (file part, `cloud_file` URL, chunks) and the three forms of file deletion.
 *
 * Chunked files (`chunk` 0-based, `chunks` total; only the .NET client sends them, docs/protocol.md
 * §3.2) are keyed in their task by the client's file name: every chunk of `photo.jpg` belongs to the
 * same file and gets the same server_filename back. Chunks may arrive in any order and be re-sent;
 * the file is assembled once all are there. When the last chunk arrives with earlier ones missing the
 * answer is an UploadError naming them, and the chunks received so far are kept so the client can
 * send the missing ones. Two files with the same name cannot be chunk-uploaded into one task at once.
 */
import { rename, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { UploadResponse } from '../../protocol/wire.js';
import { discardPart, takeData, type FilePart } from '../body.js';
import type { Call, ServerContext } from '../context.js';
import { HttpError, badParam, taskNotFound } from '../errors.js';
import { sendJson } from '../http.js';
import { newServerFilename } from '../names.js';
import { readBuffer, writeBuffer, writeStream, type AtRestKey } from '../storage.js';
import { ensureDir, type ChunkedUpload, type Task } from '../store.js';
import { RemoteError, fetchRemoteFile } from '../urls.js';
import { integerField, keyForTask, requireTask, text } from './shared.js';

/** A .NET client sends 2 MB chunks; this allows files far beyond any upload limit. */
const MAX_CHUNKS = 100_000;
/** Client file names are shown back, never used as paths; this only bounds memory. */
const MAX_NAME_CHARS = 255;

export async function upload(ctx: ServerContext, call: Call): Promise<void> {
  const task = requireTask(ctx, call, call.fields.task);
  if (task.status !== 'TaskWaiting') {
    throw badParam('task', 'Files can only be uploaded to a task that has not been processed yet');
  }
  // Once a task holds encrypted files, every later upload must bring the same key.
  const key = keyForTask(task, call.claimKey, task.keyFingerprint !== undefined);
  const part = call.file ?? (await fetchCloudFile(ctx, call, key));
  try {
    const filename = (part.filename || text(call.fields.filename) || 'file').slice(0, MAX_NAME_CHARS);
    const chunked = call.fields.chunk !== undefined || call.fields.chunks !== undefined;
    const serverFilename = chunked ? await storeChunk(ctx, call, task, part, filename, key) : await storeFile(task, part, filename, key);
    await ctx.store.save(task);
    const body: UploadResponse = { server_filename: serverFilename };
    sendJson(call.res, 200, body);
  } catch (err) {
    // The task was deleted while the file was arriving: its directory is gone.
    if (!ctx.store.has(task)) throw taskNotFound();
    await ctx.store.save(task); // a chunk may have been kept before the error
    throw err;
  } finally {
    // Moved away (or its bytes taken) on success; otherwise it must not linger in the temp dir or pool.
    await discardPart(part, ctx.store.memory);
  }
}

async function fetchCloudFile(ctx: ServerContext, call: Call, key: AtRestKey | undefined): Promise<FilePart> {
  const url = text(call.fields.cloud_file);
  if (!url) throw badParam('file', 'Send a file, or a cloud_file URL');
  const limits = { allowPrivate: ctx.limits.allowPrivateUrls, maxBytes: ctx.limits.maxUploadBytes, timeoutSeconds: ctx.limits.fetchTimeoutSeconds };
  let remote;
  try {
    remote = await fetchRemoteFile(url, limits, text(call.fields.cloud_token));
  } catch (err) {
    if (err instanceof RemoteError) throw badParam('cloud_file', `Cloud file rejected: ${err.message}`);
    throw err;
  }
  const tmpPath = ctx.store.tmpPath();
  try {
    const size = await writeStream(remote.body, tmpPath, key);
    return { tmpPath, size, filename: text(call.fields.filename) ?? remote.filename, field: 'cloud_file' };
  } catch (err) {
    await unlink(tmpPath).catch(() => {});
    throw badParam('cloud_file', `The cloud file could not be downloaded: ${(err as Error).message}`);
  } finally {
    remote.done();
  }
}

function rememberKey(task: Task, key: AtRestKey | undefined): void {
  if (key) task.keyFingerprint ??= key.fingerprint;
  task.touchedAt = Date.now();
}

async function storeFile(task: Task, part: FilePart, filename: string, key: AtRestKey | undefined): Promise<string> {
  const serverFilename = newServerFilename(filename);
  const path = join(task.dir, serverFilename);
  // Held in memory (the embedded engine, memory.ts): nothing is written, `path` is never made.
  const data = takeData(part);
  if (!data) await rename(part.tmpPath, path);
  task.files.set(serverFilename, { serverFilename, filename, path, size: part.size, encrypted: key !== undefined, data });
  rememberKey(task, key);
  return serverFilename;
}

async function storeChunk(
  ctx: ServerContext,
  call: Call,
  task: Task,
  part: FilePart,
  filename: string,
  key: AtRestKey | undefined,
): Promise<string> {
  const chunk = integerField(call.fields.chunk, 'chunk', 0, MAX_CHUNKS - 1);
  const chunks = integerField(call.fields.chunks, 'chunks', 1, MAX_CHUNKS);
  if (chunk === undefined || chunks === undefined) throw badParam(chunk === undefined ? 'chunk' : 'chunks', 'chunk and chunks go together');
  if (chunk >= chunks) throw badParam('chunk', `chunk must be below chunks (${chunks})`);

  let state = task.chunked.get(filename);
  if (state && state.chunks !== chunks) {
    if (chunk !== 0) throw badParam('chunks', `chunks changed from ${state.chunks} to ${chunks} in the middle of ${filename}`);
    // A new chunk 0 with another total starts the file over.
    await dropChunks(task, state);
    state = undefined;
  }
  if (!state) {
    const serverFilename = newServerFilename(filename);
    state = { serverFilename, filename, chunks, dir: join(task.dir, 'chunks', serverFilename), received: new Map() };
    await ensureDir(join(task.dir, 'chunks'));
    await ensureDir(state.dir);
    task.chunked.set(filename, state);
  }

  // Chunks always go to disk: they are assembled from there (a held part is written out, its bytes given back).
  const held = takeData(part);
  if (held) await writeBuffer(join(state.dir, String(chunk)), held).finally(() => ctx.store.memory?.give(held.length));
  else await rename(part.tmpPath, join(state.dir, String(chunk)));
  state.received.set(chunk, { size: part.size, encrypted: key !== undefined });
  rememberKey(task, key);
  const total = [...state.received.values()].reduce((sum, c) => sum + c.size, 0);
  if (total > ctx.limits.maxUploadBytes) {
    await dropChunks(task, state);
    throw badParam('file', `The file is larger than the maximum upload size of ${ctx.limits.maxUploadBytes} bytes`);
  }

  if (state.received.size === chunks) await assemble(task, state, key);
  else if (chunk === chunks - 1) {
    const missing = [];
    for (let i = 0; i < chunks && missing.length < 20; i++) if (!state.received.has(i)) missing.push(i);
    throw new HttpError(400, `The last chunk of ${filename} arrived but earlier chunks are missing`, {
      chunk: [`Missing chunks: ${missing.join(', ')}${missing.length === 20 ? ', …' : ''}`],
    });
  }
  return state.serverFilename;
}

async function dropChunks(task: Task, state: ChunkedUpload): Promise<void> {
  task.chunked.delete(state.filename);
  await rm(state.dir, { recursive: true, force: true });
}

/**
 * Concatenates the chunks in order into the task's file, one chunk in memory at a time; the file is
 * encrypted if the last request brought a key (earlier chunks each remember their own state).
 */
async function assemble(task: Task, state: ChunkedUpload, key: AtRestKey | undefined): Promise<void> {
  async function* inOrder(): AsyncGenerator<Buffer> {
    for (let i = 0; i < state.chunks; i++) {
      yield await readBuffer(join(state.dir, String(i)), state.received.get(i)!.encrypted ? key : undefined);
    }
  }
  const path = join(task.dir, state.serverFilename);
  const size = await writeStream(Readable.from(inOrder()), path, key);
  task.files.set(state.serverFilename, { serverFilename: state.serverFilename, filename: state.filename, path, size, encrypted: key !== undefined });
  await dropChunks(task, state);
}

/**
 * `DELETE /upload/{task}/{server_filename}`, `POST /upload/delete` and `DELETE /upload` with a body
 * (docs/protocol.md §3.3): all answer `{"success": true}`.
 */
export async function deleteUpload(ctx: ServerContext, call: Call): Promise<void> {
  const task = requireTask(ctx, call, call.params.task ?? call.fields.task);
  const serverFilename = call.params.server_filename ?? text(call.fields.server_filename);
  const file = serverFilename !== undefined ? task.files.get(serverFilename) : undefined;
  if (!file) throw badParam('server_filename', 'No such file in this task');
  if (task.status === 'TaskProcessing') throw badParam('task', 'Files cannot be deleted while the task is processing');
  task.files.delete(file.serverFilename);
  task.touchedAt = Date.now();
  // The record first: a restart between the two must not find a record naming a missing file.
  await ctx.store.save(task);
  if (file.data) ctx.store.memory?.give(file.data.length);
  else await rm(file.path, { force: true });
  sendJson(call.res, 200, { success: true });
}
