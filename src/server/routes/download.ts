/**
 * `GET /download/{task}`: the only output itself, or the zip of several, with the exact
 * Content-Disposition the PHP/Ruby/.NET clients parse (docs/protocol.md §3.5). The token may come as
 * `?token=` (the official MCP server builds shareable links that way).
 */
import { pipeline } from 'node:stream/promises';
import type { Call, ServerContext } from '../context.js';
import { HttpError } from '../errors.js';
import { contentDisposition, mediaType } from '../names.js';
import { openStream } from '../storage.js';
import { checkedKey, keyForTask, requireTask, text } from './shared.js';

export async function download(ctx: ServerContext, call: Call): Promise<void> {
  const task = requireTask(ctx, call, call.params.task);
  if (task.status === 'TaskWaiting' || task.status === 'TaskProcessing') {
    throw new HttpError(400, "We can't serve the download: the task has not been processed yet", { task: [task.status] });
  }
  const file = task.download;
  if (!file) throw new HttpError(400, "We can't serve the download: the task has no output", { task: [task.status] });

  const given = text(call.fields.file_encryption_key);
  const key = keyForTask(task, given !== undefined ? checkedKey(given) : call.claimKey, file.encrypted);
  // Held in memory (the embedded engine, memory.ts): sent as it is.
  const { stream, size } = file.data ? { stream: undefined, size: file.data.length } : await openStream(file.path, file.encrypted ? key : undefined);
  call.res.writeHead(200, {
    'Content-Type': mediaType(file.ext),
    'Content-Length': String(size),
    'Content-Disposition': contentDisposition(file.name),
  });
  if (call.req.method === 'HEAD') {
    stream?.destroy();
    call.res.end();
    return;
  }
  if (stream) await pipeline(stream, call.res);
  else call.res.end(file.data);
}
