/**
 * `POST /process`: validate, then run the task and answer when done — or, with `webhook` in the
 * body, answer `{status: 'TaskProcessing', task}` at once and (for a non-empty URL) POST the task
 * resource there when done.
 */
import type { Call, ServerContext } from '../context.js';
import { HttpError, badParam, taskNotFound } from '../errors.js';
import { sendJson } from '../http.js';
import { parseProcessRequest } from '../params.js';
import { processTask } from '../process.js';
import { failedFiles, processResponse } from '../outcome.js';
import { isProcessed, taskResource, type Task } from '../store.js';
import { toBracketPairs } from '../brackets.js';
import { RemoteError, checkUrl, postForm } from '../urls.js';
import { checkedKey, keyForTask, requireTask } from './shared.js';

export async function processRoute(ctx: ServerContext, call: Call): Promise<void> {
  const task = requireTask(ctx, call, call.fields.task);
  const req = parseProcessRequest(call.fields, task.tool);
  call.entry.tool = req.tool;
  call.entry.params = req.echo;

  const engine = await ctx.loadEngine();
  const impl = engine[req.tool];
  if (!impl) throw badParam('tool', `${req.tool} is not available in this engine`);

  const key = req.encryptionKey !== undefined ? checkedKey(req.encryptionKey) : call.claimKey;
  const needsKey = req.files.some((f) => task.files.get(f.serverFilename)?.encrypted);
  keyForTask(task, key, needsKey);

  if (req.webhook) {
    try {
      await checkUrl(req.webhook, ctx.limits.allowPrivateUrls);
    } catch (err) {
      if (err instanceof RemoteError) throw badParam('webhook', `Webhook rejected: ${err.message}`);
      throw err;
    }
  }

  // From here to `status = TaskProcessing` there is no await: two concurrent /process calls on one
  // task cannot both pass the check.
  if (!ctx.store.has(task)) throw taskNotFound();
  if (task.status === 'TaskProcessing') throw badParam('task', 'This task is already being processed');
  if (isProcessed(task)) throw badParam('task', 'This task has already been processed: start a new task, or chain one with /task/next');
  const remaining = ctx.store.remaining(task.project);
  if (remaining < req.files.length) throw badParam('files', `Only ${remaining} files remain in this project's quota`);
  task.status = 'TaskProcessing';
  if (key) task.keyFingerprint ??= key.fingerprint;
  const saved = ctx.store.save(task);

  // The outcome is on disk (persistent stores) before anyone hears of it: the answer, a webhook, GET /task.
  const job = processTask(ctx, task, req, impl, key).then(
    async (outcome) => {
      await saved;
      await ctx.store.save(task);
      return outcome;
    },
    async (err: Error) => {
      ctx.logger('error', `processing task ${task.id} failed: ${err.stack ?? err.message}`);
      Object.assign(task, { status: 'TaskError', statusMessage: 'The server failed while processing this task', processedAt: Date.now() });
      await ctx.store.save(task);
      throw err;
    },
  );

  if (req.webhook !== undefined) {
    const callback = req.webhook;
    ctx.track(job.then(() => (callback ? deliverWebhook(ctx, task, callback) : undefined)).catch(() => {}));
    sendJson(call.res, 200, { status: 'TaskProcessing', task: task.id });
    return;
  }
  ctx.track(job.catch(() => {}));
  const outcome = await job;
  if (!ctx.store.has(task)) throw taskNotFound();
  if (outcome.wrongPassword) {
    throw new HttpError(400, 'A file needs a password: the task is still waiting', outcome.wrongPassword, 'ProcessingError');
  }
  if (outcome.status === 'TaskError') {
    throw new HttpError(400, `The task failed: ${task.statusMessage || 'no file could be processed'}`, failedFiles(task), 'ProcessingError');
  }
  sendJson(call.res, 200, processResponse(task));
}

/**
 * The callback: the task resource, form-encoded in PHP bracket notation, with `server` as the worker's
 * base URL (scheme included) because the official listener hands it straight to `setWorkerServer()`
 * before `download()` (docs/protocol.md §11, "Webhooks").
 */
export function webhookForm(ctx: ServerContext, task: Task): URLSearchParams {
  const resource = { ...taskResource(task, ctx.publicHost), server: ctx.publicUrl };
  return new URLSearchParams(toBracketPairs(resource));
}

async function deliverWebhook(ctx: ServerContext, task: Task, url: string): Promise<void> {
  try {
    const status = await postForm(url, webhookForm(ctx, task), {
      allowPrivate: ctx.limits.allowPrivateUrls,
      timeoutSeconds: ctx.limits.fetchTimeoutSeconds,
    });
    if (status >= 300) ctx.logger('warn', `webhook for task ${task.id} answered HTTP ${status}`);
  } catch (err) {
    ctx.logger('warn', `webhook for task ${task.id} failed: ${(err as Error).message}`);
  }
}
