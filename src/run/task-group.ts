/**
 * One task's work for a group of inputs: start → uploads → process (→ task/next → process, for each
 * `--then` step) → download and write (write-result.ts). Each member is reported exactly once; a
 * failure of the whole task fails the members still open, or — before anything was processed — hands
 * them back to be tried again in halves (split-group.ts).
 */
import path from 'node:path';
import type { IloveimgClient, TaskRef } from '../api/client.js';
import { ApiError, AuthenticationError, ConnectionError } from '../api/errors.js';
import { processBody } from '../api/params.js';
import { sendProcess, waitTask } from '../api/task-loops.js';
import type { ProcessFile, TaskResource } from '../protocol/wire.js';
import { FINAL_TASK_STATUSES } from '../protocol/wire.js';
import { onHardExit } from '../lib/cleanup.js';
import { cleanText } from '../lib/sanitize.js';
import type { Semaphore } from '../concurrency/semaphore.js';
import type { BatchOptions, BatchResult } from './batch.js';
import { errMessage, errStep, errType, failed, stem, uniqueNames, type Fail, type Member } from './member.js';
import type { FileReport, Job, PipelineStep } from './model.js';
import { nextTask, splittable } from './split-group.js';
import { downloadAndWrite, type ResultSink } from './write-result.js';

export class TaskGroup implements ResultSink {
  readonly members: Member[];
  private ref: TaskRef | undefined;
  /** The result's entry of the task in `ref`, whose status is filled in once processed. */
  private current: BatchResult['tasks'][number] | undefined;
  /** A process step succeeded: a later failure must not read as "nothing was processed". */
  private processed: string | undefined;

  constructor(
    private readonly client: IloveimgClient,
    jobs: Job[],
    readonly opts: BatchOptions,
    private readonly uploads: Semaphore,
    readonly report: (r: FileReport) => void,
    private readonly result: BatchResult,
  ) {
    this.members = uniqueNames(jobs.map((j) => j.item)).map((sentName, i): Member => ({ item: jobs[i].item, plan: jobs[i].plan, sentName, inputBytes: jobs[i].item.size, done: false, warnings: [] }));
  }

  readonly fail: Fail = (m, type, message, task) => {
    if (m.done) return;
    m.done = true;
    this.opts.events?.onStage?.(m.item, 'done');
    this.report({ ...failed(m.item, type, message), inputBytes: m.inputBytes, task });
  };

  private alive(): Member[] {
    return this.members.filter((m) => !m.done);
  }

  /** Runs the group; returns the indexes of the members to try again in smaller groups, if any. */
  async run(canSplit = false): Promise<number[] | undefined> {
    const { client, opts } = this;
    // A second Ctrl-C deletes the task this group has open on the server.
    const unregister = onHardExit(async () => this.ref && client.deleteTask(this.ref, { unabortable: true }));
    try {
      const [first, ...rest] = opts.steps;
      const ref = await this.start(first);
      if (!(await this.upload(ref))) return;
      // First step: the uploaded files, with the per-file rotation and password.
      const files = this.alive().map((m) => withFileParams({ server_filename: m.serverFilename!, filename: m.sentName }, first));
      for (const m of this.alive()) opts.events?.onStage?.(m.item, 'processing');
      await this.process(ref, files, first);
      if (opts.noWait) {
        for (const m of this.alive()) {
          m.done = true;
          this.report({ input: m.item.display, status: 'skipped', inputBytes: m.inputBytes, note: `queued in task ${ref.task}`, task: ref.task });
        }
        return;
      }
      for (const step of rest) {
        if (this.alive().length === 0) return;
        await this.next(step);
      }
      if (this.alive().length === 0) return;
      for (const m of this.alive()) opts.events?.onStage?.(m.item, 'downloading');
      await downloadAndWrite(client, this.ref!, this.alive(), this);
    } catch (e) {
      return await this.failAll(e, canSplit);
    } finally {
      unregister();
    }
  }

  private async start(first: PipelineStep): Promise<TaskRef> {
    const started = await this.client.start(first.tool);
    this.ref = started;
    this.result.remainingFiles = Math.min(this.result.remainingFiles ?? Infinity, started.remainingFiles);
    this.track(started, first);
    return started;
  }

  /** A task of this group into the result and the events. */
  private track(ref: TaskRef, step: PipelineStep): void {
    const info = { task: ref.task, server: ref.server, tool: step.tool as string, status: undefined as string | undefined };
    this.current = info;
    this.result.tasks.push(info);
    this.opts.events?.onTask?.(info);
  }

  /** Uploads every member in parallel (bounded by the batch's upload pool); false when none is left. */
  private async upload(ref: TaskRef): Promise<boolean> {
    const { client, opts } = this;
    await Promise.all(
      this.members.map((m) =>
        this.uploads.run(async () => {
          opts.events?.onStage?.(m.item, 'uploading');
          try {
            if (m.item.kind === 'url') {
              m.serverFilename = (await client.uploadCloud(ref, m.item.source)).server_filename;
            } else if (m.item.kind === 'stdin') {
              m.serverFilename = (await client.upload(ref, { data: m.item.data, filename: m.sentName }, opts.events?.onUploaded)).server_filename;
            } else {
              m.serverFilename = (await client.upload(ref, { path: m.item.source, filename: m.sentName }, opts.events?.onUploaded)).server_filename;
            }
          } catch (e) {
            this.fail(m, errType(e), errMessage(e), ref.task);
          }
        }),
      ),
    );
    return this.alive().length > 0;
  }

  /** Processes one step in `ref` and records its status on the task's entry of the result. */
  private async process(ref: TaskRef, files: ProcessFile[], step: PipelineStep): Promise<void> {
    const status = await processAndWait(this.client, ref, files, await stepParams(this.client, ref, step), this);
    this.current!.status = status;
    if (status.startsWith('TaskSuccess')) this.processed = ref.task;
  }

  /** A `--then` step: the server's results become the files of a connected task (task/next). */
  private async next(step: PipelineStep): Promise<void> {
    const next = await nextTask(this.client, this.ref!, step.tool, this.alive().map((m) => stem(m.sentName)), new Set(this.result.tasks.map((t) => t.task)));
    this.ref = next;
    this.track(next, step);
    const files = Object.entries(next.files).map(([server_filename, filename]) => withFileParams({ server_filename, filename }, step));
    // Files that failed an earlier step are not in the new task: match the rest by sent name.
    const present = new Set(files.map((f) => stem(f.filename)));
    for (const m of this.alive()) if (!present.has(stem(m.sentName)) && !this.opts.joined) this.fail(m, 'ProcessingError', `not passed on to ${step.tool} by the server`, next.task);
    await this.process(next, files, step);
  }

  private async failAll(e: unknown, canSplit: boolean): Promise<number[] | undefined> {
    const { ref, processed } = this;
    if (canSplit && !processed && splittable(e, this.opts.signal) && this.alive().length > 0) {
      const retry = this.alive().map((m) => this.members.indexOf(m));
      for (const m of this.alive()) m.done = true;
      if (ref) await this.client.deleteTask(ref).catch(() => undefined);
      return retry;
    }
    const message = processed ? `${errMessage(e)} (the ${errStep(e)} step failed after task ${processed} was processed; \`iloveimg tasks download ${processed}\` may still fetch it)` : errMessage(e);
    for (const m of this.alive()) this.fail(m, errType(e), message, ref?.task);
    if (e instanceof ConnectionError && !processed) this.result.connectionError ??= e;
    if (e instanceof AuthenticationError) throw e;
    return undefined;
  }
}

/**
 * Sends process and, when the answer is not final (webhook, an early answer, or an answer lost to
 * the network), polls the task until it is. Marks the files the server reports as failed.
 */
async function processAndWait(client: IloveimgClient, ref: TaskRef, files: ProcessFile[], params: Record<string, unknown>, group: TaskGroup): Promise<string> {
  const { opts, members, fail } = group;
  let status: string | undefined;
  try {
    status = await sendProcess(client, ref, processBody(files, params));
  } catch (e) {
    if (e instanceof ApiError && e.status === 400) {
      markFromParam(e, members, fail, ref.task);
      // Nothing processed at all: every remaining file fails with the server's words.
      // (A resent process refused because the first one did start after all lands here too, and
      // goes on below with the task's real status.)
      const task = await client.getTask(ref).catch(() => undefined);
      if (!task || task.status === 'TaskError' || task.status === 'TaskWaiting') {
        for (const m of members) fail(m, e.type, e.message, ref.task);
        return task?.status ?? 'TaskError';
      }
      status = task.status;
    } else {
      throw e;
    }
  }
  if (opts.noWait) return status ?? 'TaskProcessing';
  let task: TaskResource | undefined;
  if (!FINAL_TASK_STATUSES.includes(status as never)) task = await waitTask(client, ref);
  if (status !== 'TaskSuccess' || task) {
    task ??= await client.getTask(ref).catch(() => undefined);
    if (task) {
      status = task.status;
      for (const f of task.files ?? []) {
        if (f.status && f.status !== 'FileSuccess') {
          const m = members.find((x) => stem(x.sentName) === stem(f.filename) || x.serverFilename === f.server_filename);
          if (m) fail(m, f.status, f.status_message || f.status, ref.task);
        }
      }
      if (status === 'TaskSuccessWithWarnings') collectWarnings(task, members);
    }
  }
  if (status === 'TaskError') for (const m of members) fail(m, 'TaskError', 'the server could not process this file', ref.task);
  return status ?? 'TaskSuccess';
}

/**
 * A step's parameters for one task: watermark stamps are uploaded into that task and each element's
 * local path is replaced by the server filename (the stamp is never put in `files[]`).
 */
async function stepParams(client: IloveimgClient, ref: TaskRef, step: PipelineStep): Promise<Record<string, unknown>> {
  if (!step.stampFiles?.length) return step.params;
  const names = new Map<string, string>();
  for (const file of step.stampFiles) {
    names.set(file, (await client.upload(ref, { path: file, filename: path.basename(file) })).server_filename);
  }
  const elements = (step.params.elements as Record<string, unknown>[]).map((el) =>
    el.type === 'image' && typeof el.image === 'string' && names.has(el.image) ? { ...el, image: names.get(el.image) } : el,
  );
  return { ...step.params, elements };
}

/**
 * A TaskSuccessWithWarnings task's warnings onto its files (README "Output for people and for
 * scripts"): a successful file's own `status_message` when the server gives one, else the parts of the
 * task's `status_message` that name the file, else (a task-wide warning) every file still alive.
 */
function collectWarnings(task: TaskResource, members: Member[]): void {
  const alive = members.filter((m) => !m.done);
  const owner = (name: string) => alive.find((m) => stem(m.sentName) === stem(name));
  let perFile = false;
  for (const f of task.files ?? []) {
    const m = f.status === 'FileSuccess' && f.status_message ? owner(f.filename) : undefined;
    if (m) (perFile = true), m.warnings.push(cleanText(f.status_message));
  }
  if (perFile || !task.status_message) return;
  for (const part of task.status_message.split('; ').filter((p) => p && !/^\d+ of \d+ files failed/.test(p))) {
    const named = alive.filter((m) => part.startsWith(`${m.sentName}:`) || part.startsWith(`${m.sentName} `));
    for (const m of named.length ? named : alive) m.warnings.push(cleanText(part.startsWith(`${m.sentName}: `) ? part.slice(m.sentName.length + 2) : part));
  }
}

/** `param: [{server_filename|filename, error|status}]` of a ProcessingError → per-file failures. */
function markFromParam(e: ApiError, members: Member[], fail: Fail, task: string) {
  if (!Array.isArray(e.param)) return;
  for (const p of e.param as Record<string, unknown>[]) {
    const m = members.find((x) => x.serverFilename === p.server_filename || (p.filename && stem(x.sentName) === stem(String(p.filename))));
    if (m) fail(m, String(p.status ?? p.error ?? e.type), String(p.status_message || p.message || p.error || e.message), task);
  }
}

function withFileParams(file: ProcessFile, step: PipelineStep): ProcessFile {
  if (step.fileParams.rotate) file.rotate = step.fileParams.rotate;
  if (step.fileParams.password) file.password = step.fileParams.password;
  return file;
}
