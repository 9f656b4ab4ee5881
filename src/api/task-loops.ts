/**
 * The protocol's loops over single calls: send process safely when its answer may be lost, and poll a
 * task until it is final. Used by the batch runner and by `iloveimg tasks wait`; never prints.
 */
import type { IloveimgClient, TaskRef } from './client.js';
import { ApiError, ConnectionError } from './errors.js';
import { retryDelay } from './retry.js';
import type { TaskResource } from '../protocol/wire.js';
import { FINAL_TASK_STATUSES } from '../protocol/wire.js';

/**
 * Sends process and returns the status it answered. Process is not idempotent, so after a lost
 * answer (connection failure, timeout, 5xx other than 503 — the client already resends on 429/503)
 * the task is asked for first:
 * - it left TaskWaiting: the process did arrive (it ran, or runs): that status is the answer;
 * - it is confirmed TaskWaiting: nothing ran, so sending process again is safe. Should the first
 *   process start late after all, the server refuses the second with a 400 and the caller goes on
 *   from the task's real status.
 * Resent at most as often as the client retries a request, with the same backoff. Without this, one
 * 500 on process failed the whole group although nothing had happened.
 */
export async function sendProcess(client: IloveimgClient, ref: TaskRef, body: Record<string, unknown>): Promise<string | undefined> {
  const policy = client.retryPolicy;
  for (let attempt = 0; ; attempt++) {
    try {
      return (await client.process(ref, body)).status;
    } catch (e) {
      if (!(e instanceof ConnectionError || (e instanceof ApiError && e.status >= 500))) throw e;
      const task = await client.getTask(ref).catch(() => undefined);
      if (task && task.status !== 'TaskWaiting') return task.status;
      if (!task || attempt >= policy.retries) throw e;
      await new Promise((resolve) => setTimeout(resolve, retryDelay(attempt, e, policy)));
    }
  }
}

/** Polls `GET /task/{id}` with a growing interval until the task reaches a final status. */
export async function waitTask(client: IloveimgClient, ref: Pick<TaskRef, 'task' | 'server'>, signal?: AbortSignal, timeoutMs = 3_600_000): Promise<TaskResource> {
  const started = Date.now();
  for (let delay = 200; ; delay = Math.min(delay * 1.5, 5000)) {
    const task = await client.getTask(ref);
    if (FINAL_TASK_STATUSES.includes(task.status)) return task;
    if (Date.now() - started > timeoutMs) throw new ApiError(`task ${ref.task} did not finish in time (status ${task.status})`, 0, 'task', 'TimeOut');
    if (signal?.aborted) throw signal.reason;
    await new Promise((r) => setTimeout(r, delay));
  }
}
