/** Helpers the route handlers share: task lookup, field access, the task's encryption key. */
import { ParamError, checkEncryptionKey, coerceParam } from '../../protocol/tools.js';
import type { Call, ServerContext } from '../context.js';
import { HttpError, badParam, taskNotFound } from '../errors.js';
import { atRestKey, type AtRestKey } from '../storage.js';
import type { Task } from '../store.js';

/** The caller's task named by `id`, or a 404 TaskNotFound (also for other projects' tasks). */
export function requireTask(ctx: ServerContext, call: Call, id: unknown): Task {
  const task = ctx.store.get(call.auth!.project.publicKey, id);
  if (!task) throw taskNotFound();
  call.entry.task = task.id;
  call.entry.tool ??= task.tool;
  return task;
}

/** A non-empty string field (numbers are accepted as their text), else undefined. */
export function text(value: unknown): string | undefined {
  if (typeof value === 'number') return String(value);
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

/** A whole-number field checked with the spec's own coercion; undefined when absent. */
export function integerField(value: unknown, name: string, min?: number, max?: number): number | undefined {
  if (text(value) === undefined) return undefined;
  try {
    return coerceParam({ name, type: 'integer', min, max, description: '' }, value) as number;
  } catch (err) {
    throw badParam(name, (err as ParamError).message);
  }
}

/** Refuses to open another task past `maxOpenTasks` (reference "Open task limitation"). */
export function checkOpenTasks(ctx: ServerContext, project: string): void {
  const open = ctx.store.openTasks(project);
  if (open >= ctx.limits.maxOpenTasks) {
    throw new HttpError(400, `Too many open tasks (${open}): process or delete some before starting new ones`, {
      task: [`At most ${ctx.limits.maxOpenTasks} tasks may be open at once`],
    });
  }
}

/** A client key checked for length and turned into an at-rest key. */
export function checkedKey(clientKey: string): AtRestKey {
  try {
    checkEncryptionKey(clientKey);
  } catch (err) {
    throw badParam('file_encryption_key', (err as ParamError).message);
  }
  return atRestKey(clientKey);
}

/**
 * The key to use with this task's stored files: `key` must match the task's fingerprint, and a task
 * with encrypted files cannot be used without one (`needed`).
 */
export function keyForTask(task: Task, key: AtRestKey | undefined, needed: boolean): AtRestKey | undefined {
  if (key && task.keyFingerprint && key.fingerprint !== task.keyFingerprint) {
    throw badParam('file_encryption_key', "The file_encryption_key is not the one this task's files were stored with");
  }
  if (!key && needed) {
    throw badParam('file_encryption_key', "This task's files are stored encrypted: send the same file_encryption_key");
  }
  return key;
}
