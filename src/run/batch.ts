/**
 * Runs a batch of inputs through one tool, or a pipeline of tools as connected tasks, and writes the
 * results. It drives the API client (it never builds a URL itself) and reports through callbacks.
 *
 * How files are spread (the part that makes a batch fast against a far-away API): inputs are split
 * into groups, one task per group, of at most 10 files and about N / concurrency each. A group is
 * start → parallel uploads → process (→ task/next → process, for each `--then` step) → one download,
 * unpacked locally. Up to `concurrency` groups run at once and at most twice that many uploads are in
 * flight, so a 100-file batch costs ~130 requests instead of the official libraries' ~100 sequential
 * ones, and one failing group or file never sinks the others.
 */
import { readFile, stat, utimes } from 'node:fs/promises';
import path from 'node:path';
import type { IloveimgClient, TaskRef } from '../api/client.js';
import { ApiError, AuthenticationError, ConnectionError } from '../api/errors.js';
import { retryDelay } from '../api/retry.js';
import { processBody } from '../api/params.js';
import type { ProcessFile, TaskResource } from '../protocol/wire.js';
import { FINAL_TASK_STATUSES } from '../protocol/wire.js';
import { displayPath, sniff, type InputItem } from './inputs.js';
import { ConflictError, copyAtomic, withExt, type PlannedOutput } from './outputs.js';
import type { BatchEvents, ConflictPolicy, FileReport, PipelineStep } from './model.js';
import { Semaphore } from '../lib/semaphore.js';
import { fetchResult, type ResultFile } from './result.js';
import { limitsFor } from '../api/download-limits.js';
import { realDirsBelow } from '../lib/safe-name.js';
import { nextTask, splittable } from './split-group.js';
import { cleanText } from '../lib/sanitize.js';
import { onHardExit } from '../lib/cleanup.js';
import { formatBytes } from '../lib/io.js';

/**
 * Lowers the concurrency of the rest of a run when the API keeps answering 429: every third rate
 * limit halves the tasks and uploads in flight (down to one).
 */
export class Throttle {
  readonly limiters: Semaphore[] = [];
  private hits = 0;

  rateLimited(): void {
    if (++this.hits % 3 !== 0) return;
    for (const l of this.limiters) l.limit = Math.max(1, Math.floor(l.limit / 2));
  }
}

export interface BatchOptions {
  steps: PipelineStep[];
  concurrency: number;
  failFast: boolean;
  onConflict: ConflictPolicy;
  inPlace: boolean;
  /** compress: keep the original unless the result saves at least this much. */
  minSavings?: { percent?: number; bytes?: number };
  /** Join every input into one output (convert to gif_animation); all inputs go into one task. */
  joined?: boolean;
  /** Don't wait for processing (webhook / --no-wait): stop after process and report the tasks. */
  noWait?: boolean;
  /** ILOVEIMG_MAX_RESULT_SIZE: replaces the result bounds derived from the inputs (download-limits.ts). */
  maxResultBytes?: number;
  /** `-o DIR`: folders below it are made one by one and never written through a symbolic link. */
  outputRoot?: string;
  /** Where the result of the `-` input is written. */
  stdout?: NodeJS.WritableStream;
  /** Paths in reports are shown relative to this directory. */
  cwd?: string;
  /** Stops starting work (first Ctrl-C); tasks already under way finish. */
  signal?: AbortSignal;
  throttle?: Throttle;
  events?: BatchEvents;
  /** Warnings about a result the server did not flag (a resize that could not enlarge: src/run/resize-check.ts). */
  checkResult?: (item: InputItem, output: string) => Promise<string[]>;
  /** Give each written result its input's modification time (--keep-dates). */
  keepDates?: boolean;
}

export interface BatchResult {
  files: FileReport[];
  tasks: { task: string; server: string; tool: string; status?: string }[];
  /** The lowest `remaining_files` the API reported when starting this run's tasks. */
  remainingFiles?: number;
  /** The first failure to reach the API at all (refused, TLS, DNS, timeout), if a task hit one. */
  connectionError?: ApiError;
}

/** The note of the files a first Ctrl-C kept from starting; people see one line for all of them. */
export const NOT_STARTED = 'not started (interrupted)';

// Small enough that a first Ctrl-C (which lets started tasks finish) is not a long wait, large enough
// that the per-task requests (start, process, download) stay a small share of a batch.
const MAX_GROUP = 10;

export async function runBatch(client: IloveimgClient, items: InputItem[], plans: PlannedOutput[], opts: BatchOptions): Promise<BatchResult> {
  const result: BatchResult = { files: [], tasks: [] };
  if (items.length === 0) return result;
  const groups = opts.joined || opts.noWait ? [items.map((_, i) => i)] : partition(items.length, opts.concurrency);
  // Uploads are the latency-bound part of a batch: twice as many of them as tasks are in flight
  // (bench row 3: with 80 ms per request, 12 uploads in flight beat 6 by ~20 %).
  const uploads = new Semaphore(Math.max(1, opts.concurrency * 2));
  const pool = new Semaphore(Math.max(1, opts.concurrency));
  opts.throttle?.limiters.push(uploads, pool);
  let stop = false;
  const report = (r: FileReport) => {
    result.files.push(r);
    opts.events?.onFile?.(r);
    if (r.status === 'failed' && opts.failFast) stop = true;
  };

  await Promise.all(
    groups.map((indexes) =>
      pool.run(async () => {
        if (stop || opts.signal?.aborted) {
          // Not started is not failed: after Ctrl-C these are skipped (README "Batches"), rerun to finish them.
          for (const i of indexes) {
            if (opts.signal?.aborted) report({ input: items[i].display, status: 'skipped', inputBytes: items[i].size, note: NOT_STARTED });
            else report(failed(items[i], 'Cancelled', 'not started (--fail-fast)'));
          }
          return;
        }
        // A group whose request keeps failing is tried again in halves, down to single files, so that
        // the file the server chokes on fails alone (split-group.ts).
        const attempt = async (part: number[]): Promise<void> => {
          const retry = await runGroup(client, part.map((i) => items[i]), part.map((i) => plans[i]), opts, uploads, report, result, part.length > 1);
          if (!retry) return;
          const again = retry.map((k) => part[k]);
          const half = Math.ceil(again.length / 2);
          for (const piece of [again.slice(0, half), again.slice(half)]) if (piece.length) await attempt(piece);
        };
        await attempt(indexes);
      }),
    ),
  );
  // Reports in input order, whatever order the groups finished in.
  const order = new Map(items.map((it, i) => [it.display, i]));
  result.files.sort((a, b) => (order.get(a.input) ?? 0) - (order.get(b.input) ?? 0));
  return result;
}

/** Splits n inputs into about `concurrency` groups of at most MAX_GROUP each. */
export function partition(n: number, concurrency: number): number[][] {
  const size = Math.max(1, Math.min(MAX_GROUP, Math.ceil(n / Math.max(1, concurrency))));
  const groups: number[][] = [];
  for (let i = 0; i < n; i += size) groups.push(Array.from({ length: Math.min(size, n - i) }, (_, k) => i + k));
  return groups;
}

interface Member {
  item: InputItem;
  plan: PlannedOutput;
  serverFilename?: string;
  /** The name sent in files[]: the input's name, made unique within the task so outputs can be matched. */
  sentName: string;
  inputBytes: number;
  done: boolean;
  /** Warnings the server gave this file (TaskSuccessWithWarnings), over every step. */
  warnings: string[];
}

async function runGroup(
  client: IloveimgClient,
  items: InputItem[],
  plans: PlannedOutput[],
  opts: BatchOptions,
  uploads: Semaphore,
  report: (r: FileReport) => void,
  result: BatchResult,
  canSplit = false,
): Promise<number[] | undefined> {
  const members = uniqueNames(items).map((sentName, i): Member => ({ item: items[i], plan: plans[i], sentName, inputBytes: items[i].size, done: false, warnings: [] }));
  const fail = (m: Member, type: string, message: string, task?: string) => {
    if (m.done) return;
    m.done = true;
    opts.events?.onStage?.(m.item, 'done');
    report({ ...failed(m.item, type, message), inputBytes: m.inputBytes, task });
  };
  const alive = () => members.filter((m) => !m.done);
  let ref: TaskRef | undefined;
  /** A process step succeeded: a later failure must not read as "nothing was processed". */
  let processed: string | undefined;
  // A second Ctrl-C deletes the task this group has open on the server.
  const unregister = onHardExit(async () => ref && client.deleteTask(ref, { unabortable: true }));
  try {
    const [first, ...rest] = opts.steps;
    const started = await client.start(first.tool);
    ref = started;
    result.remainingFiles = Math.min(result.remainingFiles ?? Infinity, started.remainingFiles);
    const taskInfo = { task: ref.task, server: ref.server, tool: first.tool as string, status: undefined as string | undefined };
    result.tasks.push(taskInfo);
    opts.events?.onTask?.(taskInfo);
    const startedRef = ref;

    await Promise.all(
      members.map((m) =>
        uploads.run(async () => {
          opts.events?.onStage?.(m.item, 'uploading');
          try {
            if (m.item.kind === 'url') {
              m.serverFilename = (await client.uploadCloud(startedRef, m.item.source)).server_filename;
            } else if (m.item.kind === 'stdin') {
              m.serverFilename = (await client.upload(startedRef, { data: m.item.data, filename: m.sentName }, opts.events?.onUploaded)).server_filename;
            } else {
              m.serverFilename = (await client.upload(startedRef, { path: m.item.source, filename: m.sentName }, opts.events?.onUploaded)).server_filename;
            }
          } catch (e) {
            fail(m, errType(e), errMessage(e), startedRef.task);
          }
        }),
      ),
    );
    if (alive().length === 0) return;

    // First step: the uploaded files, with the per-file rotation and password.
    let files: ProcessFile[] = alive().map((m) => withFileParams({ server_filename: m.serverFilename!, filename: m.sentName }, first));
    for (const m of alive()) opts.events?.onStage?.(m.item, 'processing');
    let status = await processAndWait(client, ref, files, await stepParams(client, ref, first), opts, members, fail);
    taskInfo.status = status;
    if (status.startsWith('TaskSuccess')) processed = ref.task;
    if (opts.noWait) {
      for (const m of alive()) {
        m.done = true;
        report({ input: m.item.display, status: 'skipped', inputBytes: m.inputBytes, note: `queued in task ${ref.task}`, task: ref.task });
      }
      return;
    }
    for (const step of rest) {
      if (alive().length === 0) return;
      const next = await nextTask(client, ref, step.tool, alive().map((m) => stem(m.sentName)), new Set(result.tasks.map((t) => t.task)));
      ref = next;
      const info = { task: next.task, server: next.server, tool: step.tool as string, status: undefined as string | undefined };
      result.tasks.push(info);
      opts.events?.onTask?.(info);
      files = Object.entries(next.files).map(([server_filename, filename]) => withFileParams({ server_filename, filename }, step));
      // Files that failed an earlier step are not in the new task: match the rest by sent name.
      const present = new Set(files.map((f) => stem(f.filename)));
      for (const m of alive()) if (!present.has(stem(m.sentName)) && !opts.joined) fail(m, 'ProcessingError', `not passed on to ${step.tool} by the server`, next.task);
      status = await processAndWait(client, ref, files, await stepParams(client, ref, step), opts, members, fail);
      info.status = status;
      if (status.startsWith('TaskSuccess')) processed = ref.task;
    }
    if (alive().length === 0) return;
    for (const m of alive()) opts.events?.onStage?.(m.item, 'downloading');
    await downloadAndWrite(client, ref, alive(), opts, report, fail);
  } catch (e) {
    if (canSplit && !processed && splittable(e, opts.signal) && alive().length > 0) {
      const retry = alive().map((m) => members.indexOf(m));
      for (const m of alive()) m.done = true;
      if (ref) await client.deleteTask(ref).catch(() => undefined);
      return retry;
    }
    const message = processed ? `${errMessage(e)} (the ${errStep(e)} step failed after task ${processed} was processed; \`iloveimg tasks download ${processed}\` may still fetch it)` : errMessage(e);
    for (const m of alive()) fail(m, errType(e), message, ref?.task);
    if (e instanceof ConnectionError && !processed) result.connectionError ??= e;
    if (e instanceof AuthenticationError) throw e;
  } finally {
    unregister();
  }
}

/**
 * Sends process and, when the answer is not final (webhook, an early answer, or an answer lost to
 * the network), polls the task until it is. Marks the files the server reports as failed.
 */
async function processAndWait(
  client: IloveimgClient,
  ref: TaskRef,
  files: ProcessFile[],
  params: Record<string, unknown>,
  opts: BatchOptions,
  members: Member[],
  fail: (m: Member, type: string, message: string, task?: string) => void,
): Promise<string> {
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
async function sendProcess(client: IloveimgClient, ref: TaskRef, body: Record<string, unknown>): Promise<string | undefined> {
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
function markFromParam(e: ApiError, members: Member[], fail: (m: Member, type: string, message: string, task?: string) => void, task: string) {
  if (!Array.isArray(e.param)) return;
  for (const p of e.param as Record<string, unknown>[]) {
    const m = members.find((x) => x.serverFilename === p.server_filename || (p.filename && stem(x.sentName) === stem(String(p.filename))));
    if (m) fail(m, String(p.status ?? p.error ?? e.type), String(p.status_message || p.message || p.error || e.message), task);
  }
}

async function downloadAndWrite(
  client: IloveimgClient,
  ref: TaskRef,
  members: Member[],
  opts: BatchOptions,
  report: (r: FileReport) => void,
  fail: (m: Member, type: string, message: string, task?: string) => void,
): Promise<void> {
  const inputBytes = members.map((m) => m.inputBytes);
  const limits = limitsFor({ tools: opts.steps.map((s) => s.tool), inputBytes: inputBytes.reduce((a, b) => a + b, 0), largestInput: Math.max(0, ...inputBytes), override: opts.maxResultBytes });
  await fetchResult(client, ref, { fallbackName: () => members[0].sentName, limits }, async (result) => {
    // A single result refused outright (not an image, too large) is every member's failure.
    const refused = !result.zip && result.files[0]?.error;
    if (refused) {
      for (const m of members) fail(m, refused.type, refused.message, ref.task);
      return;
    }
    // Zip entry names are only ever used to match stems (no zip-slip); empty entries are no output.
    const outputs = result.zip ? result.files.filter((f) => f.bytes > 0 || f.error) : result.files;
    // A joined output (animated GIF) is one file for all its inputs: written once, reported for each.
    let joinedWrite: Promise<string | undefined> | undefined;
    let joinedReported = false;
    for (const [m, out] of matchOutputs(members, outputs, opts.joined)) {
      if (!out) {
        fail(m, 'DownloadError', 'the server returned no output for this file', ref.task);
        continue;
      }
      if (out.error) {
        fail(m, out.error.type, out.error.message, ref.task);
        continue;
      }
      const write = async (dest: string) => {
        if (opts.outputRoot) await realDirsBelow(opts.outputRoot, path.dirname(dest));
        return opts.joined ? (joinedWrite ??= copyAtomic(out.path, dest, opts.onConflict)) : copyAtomic(out.path, dest, opts.onConflict, opts.inPlace);
      };
      // The joined file's size is counted once, on its first input; the others say where they went.
      const joinedRest = Boolean(opts.joined) && joinedReported;
      joinedReported = Boolean(opts.joined);
      await writeOne(m, out, opts, report, ref.task, write, joinedRest).catch((e) => fail(m, errType(e), errMessage(e), ref.task));
    }
  });
}

/**
 * Pairs outputs with inputs: by name stem (the server names outputs after `files[].filename`, which we
 * made unique), else — when the user's --output-filename renamed them — by position.
 */
function matchOutputs(members: Member[], outputs: ResultFile[], joined?: boolean): [Member, ResultFile | undefined][] {
  if (joined || (members.length === 1 && outputs.length === 1)) return members.map((m) => [m, outputs[0]]);
  const byStem = new Map(outputs.map((o) => [stem(o.name), o]));
  const all = members.every((m) => byStem.has(stem(m.sentName)));
  if (!all && outputs.length === members.length) return members.map((m, i) => [m, outputs[i]]);
  return members.map((m) => [m, byStem.get(stem(m.sentName))]);
}

async function writeOne(
  m: Member,
  out: ResultFile,
  opts: BatchOptions,
  report: (r: FileReport) => void,
  task: string,
  write: (dest: string) => Promise<string | undefined>,
  joinedRest = false,
): Promise<void> {
  const fmt = sniff(out.head);
  let dest = m.plan.dest;
  // -O names exactly that file (README "Outputs"); otherwise the extension follows the real format.
  if (fmt && dest !== '-' && !opts.inPlace && !m.plan.literal) dest = withExt(dest, fmt);
  const base = { input: m.item.display, inputBytes: m.inputBytes, task, ...(m.warnings.length ? { warnings: [...m.warnings] } : {}) };
  if (opts.minSavings && !opts.joined && !savesEnough(m.inputBytes, out.bytes, opts.minSavings)) {
    // Keep the original: never hand back a larger (or not worth it) result.
    m.done = true;
    let note = `${savingsShortfall(m.inputBytes, out.bytes, opts.minSavings)}; kept the original`;
    let written: string | undefined;
    // Copied where a result was asked for (-o DIR, -O FILE), so the target exists; not as a
    // `-compressed` twin beside the input.
    if (m.item.kind === 'file' && !opts.inPlace && dest !== '-' && (m.plan.literal || path.dirname(dest) !== path.dirname(m.item.source))) {
      written = await copyAtomic(m.item.source, dest, opts.onConflict).catch((e) => {
        if (e instanceof ConflictError) return undefined;
        throw e;
      });
      if (written) note += ` (copied to ${displayPath(written, opts.cwd ?? process.cwd())})`;
      if (written && opts.keepDates) {
        const st = await stat(m.item.source);
        await utimes(written, st.atime, st.mtime);
      }
    } else if (dest === '-' && m.item.data) {
      opts.stdout?.write(m.item.data);
    }
    opts.events?.onStage?.(m.item, 'done');
    report({ ...base, status: 'skipped', output: written ? displayPath(written, opts.cwd ?? process.cwd()) : undefined, outputBytes: m.inputBytes, note });
    return;
  }
  if (dest === '-') {
    const data = await readFile(out.path);
    await new Promise<void>((resolve, reject) => opts.stdout!.write(data, (e) => (e ? reject(e) : resolve())));
    m.done = true;
    opts.events?.onStage?.(m.item, 'done');
    report({ ...base, status: 'ok', output: '<stdout>', outputBytes: out.bytes });
    return;
  }
  const checked = (await opts.checkResult?.(m.item, out.path).catch(() => [])) ?? [];
  if (checked.length) Object.assign(base, { warnings: [...m.warnings, ...checked] });
  try {
    // Read before writing: in place, the input is the destination.
    const dates = opts.keepDates && m.item.kind === 'file' ? await stat(m.item.source) : undefined;
    const written = await write(dest);
    if (written && dates) await utimes(written, dates.atime, dates.mtime);
    m.done = true;
    opts.events?.onStage?.(m.item, 'done');
    if (written === undefined) report({ ...base, status: 'skipped', output: displayPath(dest, opts.cwd ?? process.cwd()), note: 'destination exists (--on-conflict skip)' });
    else if (joinedRest) report({ ...base, status: 'ok', output: displayPath(written, opts.cwd ?? process.cwd()), outputBytes: 0, note: 'joined into the same file; its size is counted once' });
    else report({ ...base, status: 'ok', output: displayPath(written, opts.cwd ?? process.cwd()), outputBytes: out.bytes });
  } catch (e) {
    if (e instanceof ConflictError) throw new ConflictOnWrite(displayPath(dest, opts.cwd ?? process.cwd()));
    throw e;
  }
}

class ConflictOnWrite extends Error {
  readonly type = 'OutputExists';
  constructor(dest: string) {
    super(`${dest} already exists; pass --on-conflict overwrite|rename|skip, or choose another --output-dir`);
  }
}

/** Why a compressed result was not kept, with the numbers: what it saved against what was asked. */
function savingsShortfall(before: number, after: number, min: { percent?: number; bytes?: number }): string {
  const saved = before - after;
  if (saved <= 0) return `the result (${formatBytes(after)}) is not smaller than the original (${formatBytes(before)})`;
  const asked = [min.percent !== undefined ? `${min.percent}%` : '', min.bytes !== undefined ? formatBytes(min.bytes) : ''].filter(Boolean).join(' and ');
  return `the result saves ${formatBytes(saved)} (${((saved / before) * 100).toFixed(1)}%), less than --min-savings ${asked}`;
}

function savesEnough(before: number, after: number, min: { percent?: number; bytes?: number }): boolean {
  const saved = before - after;
  if (saved <= 0) return false;
  if (min.bytes !== undefined && saved < min.bytes) return false;
  if (min.percent !== undefined && (saved / before) * 100 < min.percent) return false;
  return true;
}

function stem(name: string): string {
  const base = path.posix.basename(name.replace(/\\/g, '/'));
  const dot = base.lastIndexOf('.');
  return (dot > 0 ? base.slice(0, dot) : base).toLowerCase();
}

/** `a/x.jpg`, `b/x.png` → `x.jpg`, `x~2.png`: unique stems within one task. */
function uniqueNames(items: InputItem[]): string[] {
  const used = new Set<string>();
  return items.map((item) => {
    const base = path.posix.basename(item.rel.replace(/\\/g, '/')) || 'file';
    const dot = base.lastIndexOf('.');
    const s = dot > 0 ? base.slice(0, dot) : base;
    const ext = dot > 0 ? base.slice(dot) : '';
    let name = base;
    for (let n = 2; used.has(stem(name)); n++) name = `${s}~${n}${ext}`;
    used.add(stem(name));
    return name;
  });
}

function withFileParams(file: ProcessFile, step: PipelineStep): ProcessFile {
  if (step.fileParams.rotate) file.rotate = step.fileParams.rotate;
  if (step.fileParams.password) file.password = step.fileParams.password;
  return file;
}

/** A failed file; its type and message may carry a server's words, so they are cleaned (sanitize.ts). */
function failed(item: InputItem, type: string, message: string): FileReport {
  return { input: item.display, status: 'failed', inputBytes: item.size, error: { type: cleanText(type), message: cleanText(message) } };
}

function errType(e: unknown): string {
  if (e instanceof ApiError) return e.type;
  return (e as { type?: string })?.type ?? (e as Error)?.name ?? 'Error';
}

function errStep(e: unknown): string {
  return e instanceof ApiError ? e.step : 'download';
}

function errMessage(e: unknown): string {
  return (e as Error)?.message ?? String(e);
}


