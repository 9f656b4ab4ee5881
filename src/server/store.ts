/**
 * The task store: metadata in memory, file bytes on disk under `<dataDir>/<task>/` (the embedded
 * engine holds them in its memory pool while it has room: memory.ts).
 *
 * Layout: `<task>/<server_filename>` for uploads, `<task>/chunks/<n>/<index>` for chunks of a file still
 * being uploaded, `<task>/out/<n>.<ext>` for outputs and `<task>/out/package.zip` for the download of a
 * multi-output task; `<dataDir>/.tmp/` holds uploads until their request has been validated. Every
 * on-disk name is generated here; ids start with a letter or digit, so `.tmp` cannot collide.
 *
 * Isolation lives in `get`: a task is only ever found by the project that started it.
 *
 * A persistent store (`serve --data-dir`) also keeps each task's metadata in `<task>/task.json`
 * (persist.ts): handlers call `save(task)` after a change and before they answer, and `init` loads
 * the tasks a previous run left. Otherwise (the embedded engine's temp dir) nothing is written.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { FileStatus, TaskStatus, ToolName } from '../protocol/tools.js';
import type { TaskFile, TaskResource } from '../protocol/wire.js';
import { looksLikeId, newTaskId } from './names.js';
import type { ServerLogger } from './options.js';
import type { MemoryPool } from './memory.js';
import { RECORD_NAME, RecordWriter, loadTasks } from './persist.js';

export interface StoredFile {
  serverFilename: string;
  /** The client's name for it (shown back, never used as a path). */
  filename: string;
  path: string;
  /** Plaintext bytes. */
  size: number;
  /** Stored encrypted with the task's key (see `Task.keyFingerprint`). */
  encrypted: boolean;
  /** The bytes, when held in the store's memory pool instead of at `path` (memory.ts). */
  data?: Buffer;
}

export interface OutputFile {
  /** The download name (already sanitised and unique within the task). */
  name: string;
  path: string;
  size: number;
  ext: string;
  encrypted: boolean;
  /** The bytes, when held in the store's memory pool instead of at `path` (memory.ts). */
  data?: Buffer;
}

/** A file arriving in chunks; keyed in its task by the client's file name (see upload.ts). */
export interface ChunkedUpload {
  serverFilename: string;
  filename: string;
  chunks: number;
  dir: string;
  /** chunk index → its plaintext bytes and whether it is stored encrypted */
  received: Map<number, { size: number; encrypted: boolean }>;
}

export interface Task {
  readonly id: string;
  /** Public key of the project that started it. */
  readonly project: string;
  /** Creation order, the tie-breaker for "newest first". */
  readonly seq: number;
  readonly dir: string;
  tool: ToolName;
  status: TaskStatus;
  createdAt: number;
  /** Last upload or other change; unprocessed tasks expire relative to it. */
  touchedAt: number;
  processedAt?: number;
  /** `YYYY-MM-DD HH:MM:SS` (UTC) when processing started, '' before. */
  processStart: string;
  files: Map<string, StoredFile>;
  chunked: Map<string, ChunkedUpload>;
  /** Per-file results of the last process, in request order. */
  results: TaskFile[];
  outputs: OutputFile[];
  /** What /download serves: the only output, or the zip of several. */
  download?: OutputFile;
  timer: string;
  filesize: number;
  outputFilesize: number;
  statusMessage: string;
  customInt: number | null;
  customString: string | null;
  /**
   * Fingerprint of the file_encryption_key, set when the first file is stored encrypted; every later
   * key given for the task must match it ("The File Encryption Key must be the same for same task").
   */
  keyFingerprint?: string;
}

const FINAL: ReadonlySet<TaskStatus> = new Set(['TaskSuccess', 'TaskSuccessWithWarnings', 'TaskError']);

export function isProcessed(task: Task): boolean {
  return FINAL.has(task.status);
}

export interface StoreLimits {
  taskTtlSeconds: number;
  maxOpenTasks: number;
  remainingFiles: number;
}

export class TaskStore {
  private readonly tasks = new Map<string, Task>();
  private readonly quota = new Map<string, number>();
  private seq = 0;
  private counter = 0;
  private readonly records = new RecordWriter();
  readonly tmpDir: string;

  constructor(
    readonly root: string,
    private readonly limits: StoreLimits,
    private readonly logger: ServerLogger,
    readonly persistent = false,
    /** Holds task files in memory up to its limit (the embedded engine); never with a persistent store. */
    readonly memory?: MemoryPool,
  ) {
    this.tmpDir = join(root, '.tmp');
  }

  /**
   * Creates the temp dir, emptying what a previous run that did not close cleanly left there, and, for
   * a persistent store, loads the tasks it left (expired ones go at once).
   */
  async init(): Promise<void> {
    await rm(this.tmpDir, { recursive: true, force: true });
    await mkdir(this.tmpDir, { recursive: true });
    if (!this.persistent) return;
    for (const task of await loadTasks(this.root, this.logger)) {
      this.tasks.set(task.id, task);
      this.seq = Math.max(this.seq, task.seq);
    }
    await this.sweep();
  }

  /** Writes the task's record (persistent stores only; a removed task is not written). */
  save(task: Task): Promise<void> {
    if (!this.persistent) return Promise.resolve();
    // A record that cannot be written costs the task its restart, not the request: logged only.
    return this.records.save(task, () => this.tasks.get(task.id) === task).catch((err: Error) => this.logger('error', `could not write the record of task ${task.id}: ${err.message}`));
  }

  /** A fresh path in the temp dir, for an upload whose request is not validated yet. */
  tmpPath(): string {
    return join(this.tmpDir, `${randomBytes(12).toString('hex')}-${++this.counter}`);
  }

  async create(project: string, tool: ToolName): Promise<Task> {
    const id = newTaskId();
    const dir = join(this.root, id);
    await mkdir(dir);
    const now = Date.now();
    const task: Task = {
      id,
      project,
      seq: ++this.seq,
      dir,
      tool,
      status: 'TaskWaiting',
      createdAt: now,
      touchedAt: now,
      processStart: '',
      files: new Map(),
      chunked: new Map(),
      results: [],
      outputs: [],
      timer: '0',
      filesize: 0,
      outputFilesize: 0,
      statusMessage: '',
      customInt: null,
      customString: null,
    };
    this.tasks.set(id, task);
    await this.save(task);
    return task;
  }

  /** The project's task, or undefined for unknown, expired and other projects' ids alike. */
  get(project: string, id: unknown): Task | undefined {
    if (!looksLikeId(id)) return undefined;
    const task = this.tasks.get(id);
    if (!task || task.project !== project) return undefined;
    if (this.expired(task, Date.now())) {
      void this.remove(task);
      return undefined;
    }
    return task;
  }

  /** Whether the task is still in the store (a background job checks this after deletion). */
  has(task: Task): boolean {
    return this.tasks.get(task.id) === task;
  }

  /** Forgets the task at once, then removes its files. */
  async remove(task: Task): Promise<void> {
    if (this.tasks.get(task.id) === task) this.tasks.delete(task.id);
    this.release(task);
    await this.records.settled(task);
    // The record goes first: a restart during the removal finds no record and removes the rest.
    if (this.persistent) await unlink(join(task.dir, RECORD_NAME)).catch(() => {});
    await rm(task.dir, { recursive: true, force: true }).catch((err: Error) =>
      this.logger('warn', `could not remove ${task.dir}: ${err.message}`),
    );
  }

  /** Gives the bytes the task holds in memory back to the pool (once: they are dropped). */
  release(task: Task): void {
    if (!this.memory) return;
    const files = [...task.files.values(), ...task.outputs, ...(task.download && !task.outputs.includes(task.download) ? [task.download] : [])];
    for (const f of files) {
      if (f.data) this.memory.give(f.data.length);
      f.data = undefined;
    }
  }

  /** The project's live tasks, newest first. */
  list(project: string): Task[] {
    const now = Date.now();
    return [...this.tasks.values()].filter((t) => t.project === project && !this.expired(t, now)).sort((a, b) => b.seq - a.seq);
  }

  /** Tasks that have been started and not processed yet (reference "Open task limitation"). */
  openTasks(project: string): number {
    let n = 0;
    for (const t of this.tasks.values()) if (t.project === project && (t.status === 'TaskWaiting' || t.status === 'TaskProcessing')) n++;
    return n;
  }

  remaining(project: string): number {
    return this.quota.get(project) ?? this.limits.remainingFiles;
  }

  charge(project: string, files: number): void {
    this.quota.set(project, Math.max(0, this.remaining(project) - files));
  }

  private expired(task: Task, now: number): boolean {
    const ttl = this.limits.taskTtlSeconds * 1000;
    if (ttl === 0 || task.status === 'TaskProcessing') return false;
    return now - (task.processedAt ?? task.touchedAt) > ttl;
  }

  /** Removes expired tasks; run from an unref'd interval. */
  async sweep(): Promise<void> {
    const now = Date.now();
    const expired = [...this.tasks.values()].filter((t) => this.expired(t, now));
    await Promise.all(expired.map((t) => this.remove(t)));
  }

  /** Removes every task's files, unless the store is persistent (then the tasks stay for the next run). */
  async clear(): Promise<void> {
    if (this.persistent) {
      await this.records.settled();
      this.tasks.clear();
      await rm(this.tmpDir, { recursive: true, force: true });
      return;
    }
    const all = [...this.tasks.values()];
    this.tasks.clear();
    await Promise.all(all.map((t) => this.remove(t)));
    await rm(this.tmpDir, { recursive: true, force: true });
  }
}

/**
 * Creates one directory level inside a task. Deliberately not recursive: if the task's directory has
 * been removed (task deleted, server closing) this fails instead of quietly re-creating it as an orphan.
 */
export async function ensureDir(path: string): Promise<void> {
  await mkdir(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
}

/** `2025-02-04 09:36:45`, the format of `process_start`. */
export function formatTimestamp(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

/** The wire form of a task (`GET /task/{task}`, list items, webhook payloads). */
export function taskResource(task: Task, server: string): TaskResource {
  const files: TaskFile[] =
    task.results.length > 0
      ? task.results
      : [...task.files.values()].map((f) => ({
          server_filename: f.serverFilename,
          status: 'FileWaiting' as FileStatus,
          status_message: '',
          filename: f.filename,
          timer: 0,
          filesize: f.size,
          output_filesize: 0,
        }));
  return {
    tool: task.tool,
    process_start: task.processStart,
    status: task.status,
    status_message: task.statusMessage,
    timer: task.timer,
    filesize: task.filesize || files.reduce((sum, f) => sum + f.filesize, 0),
    output_filesize: task.outputFilesize,
    output_filenumber: task.outputs.length,
    output_extensions: [...new Set(task.outputs.map((o) => o.ext))],
    server,
    task: task.id,
    file_number: String(files.length),
    download_filename: task.download?.name ?? '',
    custom_int: task.customInt,
    custom_string: task.customString,
    files,
  };
}
