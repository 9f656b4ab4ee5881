/**
 * Task resources: status (`GET /task/{task}`), deletion (`DELETE /task/{task}`), the list
 * (`POST /task`, also `GET /task`; secret_key required) and connected tasks (`POST /task/next`).
 */
import { timingSafeEqual } from 'node:crypto';
import { link, copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TOOL_NAMES, resolveToolName } from '../../protocol/tools.js';
import type { NextTaskResponse, TaskResource } from '../../protocol/wire.js';
import type { Call, ServerContext } from '../context.js';
import { UnauthorizedError, badParam } from '../errors.js';
import { sendJson } from '../http.js';
import { newServerFilename } from '../names.js';
import { writeBuffer } from '../storage.js';
import { isProcessed, taskResource } from '../store.js';
import { checkOpenTasks, integerField, requireTask, text } from './shared.js';

/** Tasks per page of the list (reference "List and filter all tasks"). */
export const TASKS_PER_PAGE = 50;

export async function getTask(ctx: ServerContext, call: Call): Promise<void> {
  const task = requireTask(ctx, call, call.params.task);
  sendJson(call.res, 200, taskResource(task, ctx.publicHost));
}

/**
 * The answer is the task as it was, with status TaskDeleted — or UploadDeleted when nothing had been
 * processed yet (reference "Delete task"; the spec's TaskStatus type does not list UploadDeleted).
 */
export async function deleteTask(ctx: ServerContext, call: Call): Promise<void> {
  const task = requireTask(ctx, call, call.params.task);
  const status = task.status === 'TaskWaiting' ? 'UploadDeleted' : 'TaskDeleted';
  const body: Omit<TaskResource, 'status'> & { status: string } = { ...taskResource(task, ctx.publicHost), status };
  await ctx.store.remove(task);
  sendJson(call.res, 200, body);
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export async function listTasks(ctx: ServerContext, call: Call): Promise<void> {
  const project = call.auth!.project;
  const secret = text(call.fields.secret_key);
  if (!secret || !sameSecret(secret, project.secretKey)) {
    throw new UnauthorizedError('secret_key is missing or does not belong to the project of the token');
  }
  // A short name (`compress`) filters like its slug; an unknown name simply matches nothing.
  const tool = resolveToolName(call.fields.tool) ?? text(call.fields.tool);
  const status = text(call.fields.status);
  const customInt = integerField(call.fields.custom_int, 'custom_int');
  const page = integerField(call.fields.page, 'page', 1) ?? 1;

  const matching = ctx.store
    .list(project.publicKey)
    .filter((t) => (tool === undefined || t.tool === tool) && (status === undefined || t.status === status))
    .filter((t) => customInt === undefined || t.customInt === customInt);
  const pageOf = matching.slice((page - 1) * TASKS_PER_PAGE, page * TASKS_PER_PAGE);
  sendJson(call.res, 200, pageOf.map((t) => taskResource(t, ctx.publicHost)));
}

/** A new task whose files are the parent's outputs, without uploading them again. */
export async function nextTask(ctx: ServerContext, call: Call): Promise<void> {
  const parent = requireTask(ctx, call, call.fields.task);
  const tool = resolveToolName(call.fields.tool);
  if (!tool) {
    throw badParam('tool', `tool must be one of ${TOOL_NAMES.join(', ')}`);
  }
  if (!isProcessed(parent) || parent.outputs.length === 0) {
    throw badParam('task', 'The parent task must be processed successfully before a task can follow it');
  }
  const project = call.auth!.project.publicKey;
  checkOpenTasks(ctx, project);

  const child = await ctx.store.create(project, tool);
  call.entry.tool = tool;
  const files: Record<string, string> = {};
  for (const output of parent.outputs) {
    const serverFilename = newServerFilename(output.name);
    const path = join(child.dir, serverFilename);
    // A hard link costs nothing and survives the parent's deletion; copy where links are refused.
    // An output held in memory is shared while the pool has room for it again, else written out.
    const data = output.data && ctx.store.memory?.take(output.size) ? output.data : undefined;
    if (output.data && !data) await writeBuffer(path, output.data);
    else if (!output.data) await link(output.path, path).catch(() => copyFile(output.path, path));
    child.files.set(serverFilename, { serverFilename, filename: output.name, path, size: output.size, encrypted: output.encrypted, data });
    files[serverFilename] = output.name;
  }
  child.keyFingerprint = parent.keyFingerprint;
  await ctx.store.save(child);
  const body: NextTaskResponse = { task: child.id, files };
  sendJson(call.res, 200, body);
}
