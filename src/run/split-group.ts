/**
 * Two recoveries that keep one bad request from costing more than its own file (README "Reliability"):
 *
 * - `splittable`: a group whose process (or task/next, or polling) request keeps failing after the
 *   client's retries is tried again in halves, down to single files, so a file the server chokes on
 *   fails alone and the other files of its group still succeed. Not for authentication, rate limits,
 *   an interrupted run, or a server that cannot be reached at all (start fails: halves would too).
 * - `nextTask`: `task/next` makes a child task on the server. When its answer is lost, the child
 *   exists but its id was in the lost answer: before asking again, the project's waiting tasks of that
 *   tool are searched for it (its files are the parent's outputs, which carry our file names) and it is
 *   adopted, so no orphan child task is left behind.
 */
import type { IloveimgClient, TaskRef } from '../api/client.js';
import { ApiError, ConnectionError } from '../api/errors.js';
import { retryDelay } from '../api/retry.js';
import type { ToolName } from '../protocol/tools.js';
import { stem } from './member.js';

export function splittable(e: unknown, signal?: AbortSignal): boolean {
  if (signal?.aborted || !(e instanceof ApiError)) return false;
  if (e.step === 'start' || e.step === 'auth' || e.step === 'download') return false;
  if (e instanceof ConnectionError) return e.step !== 'upload';
  return e.status >= 500 || (e.status >= 400 && ![401, 403, 429].includes(e.status));
}

/**
 * `task/next` for `ref`, recovering a lost answer by finding the child it made (see above). `stems`
 * are the file stems the child must hold; `known` the tasks this run already uses (never adopted).
 */
export async function nextTask(
  client: IloveimgClient,
  ref: TaskRef,
  tool: ToolName | string,
  stems: string[],
  known: Set<string>,
): Promise<TaskRef & { files: Record<string, string> }> {
  const policy = client.retryPolicy;
  for (let attempt = 0; ; attempt++) {
    try {
      return await client.next(ref, tool);
    } catch (e) {
      if (!(e instanceof ConnectionError || (e instanceof ApiError && e.status >= 500))) throw e;
      const found = await findChild(client, ref, tool, stems, known).catch(() => undefined);
      if (found) return found;
      if (attempt >= policy.retries) throw e;
      await new Promise((resolve) => setTimeout(resolve, retryDelay(attempt, e, policy)));
    }
  }
}

async function findChild(client: IloveimgClient, ref: TaskRef, tool: ToolName | string, stems: string[], known: Set<string>) {
  const want = [...stems].sort().join('\n');
  const waiting = await client.listTasks({ tool, status: 'TaskWaiting' });
  const matches = waiting.filter(
    (t) =>
      !known.has(t.task) &&
      t.task !== ref.task &&
      (t.files ?? [])
        .map((f) => stem(f.filename))
        .sort()
        .join('\n') === want,
  );
  // Two candidates: another run's child looks the same; adopt neither (the orphan then expires).
  if (matches.length !== 1) return undefined;
  const [child] = matches;
  const files = Object.fromEntries((child.files ?? []).map((f) => [f.server_filename, f.filename]));
  return { task: child.task, tool, server: ref.server, files };
}
