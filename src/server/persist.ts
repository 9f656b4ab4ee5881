/**
 * Tasks that survive a restart of `serve --data-dir`: each task's metadata lives next to its files as
 * `<task>/task.json`, written atomically (a temp file renamed over it) after every change that a
 * client has been or is about to be told of, and read back when the server starts.
 *
 * Loading is all or nothing per task: a directory without a readable record of this format (a task
 * killed while being created), or whose record names a file that is not there (killed while being
 * deleted), is removed; files the record does not name (an upload killed before its record was
 * written, a half-written output) are removed; a task caught processing goes back to TaskWaiting with
 * its uploads, to be processed again. Records of another format version are left alone (a newer
 * serve's data) and not loaded. No key is ever written: encrypted files keep only the fingerprint.
 * Decisions and their reasons: docs/protocol.md §11, "Tasks across restarts".
 */
import { randomBytes } from 'node:crypto';
import { readFile, readdir, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { isAbsolute, join, normalize, relative, sep } from 'node:path';
import { TASK_STATUSES, TOOL_NAMES } from '../protocol/tools.js';
import { looksLikeId } from './names.js';
import type { ServerLogger } from './options.js';
import { ENCRYPTION_OVERHEAD } from './storage.js';
import type { ChunkedUpload, OutputFile, StoredFile, Task } from './store.js';

export const RECORD_NAME = 'task.json';
const FORMAT = 'iloveimg-engine/task';
const VERSION = 1;

type FileRecord = Omit<StoredFile, 'path'>;
type OutputRecord = Omit<OutputFile, 'path'> & { path: string };
interface ChunkedRecord {
  serverFilename: string;
  filename: string;
  chunks: number;
  received: [number, { size: number; encrypted: boolean }][];
}

/** A task as written: its fields, with paths relative to its directory and the maps as arrays. */
type TaskRecord = Omit<Task, 'dir' | 'files' | 'chunked' | 'outputs' | 'download'> & {
  format: typeof FORMAT;
  version: number;
  files: FileRecord[];
  chunked: ChunkedRecord[];
  outputs: OutputRecord[];
  download?: OutputRecord;
};

function toRecord(task: Task): TaskRecord {
  const out = (o: OutputFile): OutputRecord => ({ ...o, path: relative(task.dir, o.path) });
  const { dir: _dir, files, chunked, outputs, download, ...fields } = task;
  return {
    format: FORMAT,
    version: VERSION,
    ...fields,
    files: [...files.values()].map(({ path: _path, ...f }) => f),
    chunked: [...chunked.values()].map((c) => ({ serverFilename: c.serverFilename, filename: c.filename, chunks: c.chunks, received: [...c.received] })),
    outputs: outputs.map(out),
    download: download ? out(download) : undefined,
  };
}

/** Writes the task's record atomically: a reader (or a restart) sees the old record or the new one. */
export async function writeRecord(task: Task): Promise<void> {
  const tmp = join(task.dir, `${RECORD_NAME}.${randomBytes(6).toString('hex')}.tmp`);
  await writeFile(tmp, JSON.stringify(toRecord(task)), { flag: 'wx' });
  await rename(tmp, join(task.dir, RECORD_NAME)).catch(async (err) => {
    await unlink(tmp).catch(() => {});
    throw err;
  });
}

/**
 * Record writes, one task at a time: writes of a task never overlap, and a save asked for during a
 * write runs once more after it with the state then, so the last record on disk is the latest state.
 */
export class RecordWriter {
  private readonly pending = new Map<Task, { done: Promise<void>; again: boolean }>();

  /** `live()` is checked before each write: a task removed meanwhile is not written again. */
  save(task: Task, live: () => boolean): Promise<void> {
    const current = this.pending.get(task);
    if (current) {
      current.again = true;
      return current.done;
    }
    const state = { again: false, done: Promise.resolve() };
    const run = async (): Promise<void> => {
      do {
        state.again = false;
        if (live()) await writeRecord(task);
      } while (state.again);
    };
    state.done = run().finally(() => this.pending.delete(task));
    this.pending.set(task, state);
    return state.done;
  }

  /** Resolves when the writes of `task` (or of every task) are over, whatever their outcome. */
  async settled(task?: Task): Promise<void> {
    const states = task ? [this.pending.get(task)] : [...this.pending.values()];
    await Promise.allSettled(states.map((s) => s?.done));
  }
}

/** A path inside the task's directory, or an error: a record must not point anywhere else. */
function inside(dir: string, rel: unknown): string {
  if (typeof rel !== 'string' || rel === '' || isAbsolute(rel) || normalize(rel).split(sep).includes('..')) throw new Error(`bad path ${String(rel)}`);
  return join(dir, normalize(rel));
}

function check(ok: unknown, what: string): asserts ok {
  if (!ok) throw new Error(what);
}

/** Builds the task from its record, checking every field and every file it names; throws on anything wrong. */
async function fromRecord(r: TaskRecord, dir: string, id: string): Promise<{ task: Task; keep: Set<string> }> {
  check(r.id === id && typeof r.project === 'string' && Number.isInteger(r.seq), 'identity');
  check((TOOL_NAMES as readonly string[]).includes(r.tool) && (TASK_STATUSES as readonly string[]).includes(r.status), 'tool or status');
  check([r.createdAt, r.touchedAt].every(Number.isFinite) && Array.isArray(r.files) && Array.isArray(r.outputs), 'shape');
  const keep = new Set<string>([join(dir, RECORD_NAME)]);
  const present = async (path: string, encrypted: boolean, size: number): Promise<string> => {
    const onDisk = (await stat(path)).size;
    check(onDisk === (encrypted ? size + ENCRYPTION_OVERHEAD : size), `size of ${path}`);
    keep.add(path);
    return path;
  };
  const files = new Map<string, StoredFile>();
  for (const f of r.files) files.set(f.serverFilename, { ...f, path: await present(inside(dir, f.serverFilename), f.encrypted, f.size) });
  const chunked = new Map<string, ChunkedUpload>();
  for (const c of r.chunked ?? []) {
    const cdir = inside(dir, join('chunks', c.serverFilename));
    for (const [i, part] of c.received) await present(join(cdir, String(i)), part.encrypted, part.size);
    chunked.set(c.filename, { serverFilename: c.serverFilename, filename: c.filename, chunks: c.chunks, dir: cdir, received: new Map(c.received) });
  }
  const output = async (o: OutputRecord): Promise<OutputFile> => ({ ...o, path: await present(inside(dir, o.path), o.encrypted, o.size) });
  const outputs = await Promise.all(r.outputs.map(output));
  const download = r.download ? await output(r.download) : undefined;
  const { format: _format, version: _version, ...fields } = r;
  const task: Task = { ...fields, dir, files, chunked, outputs, download, results: Array.isArray(r.results) ? r.results : [] };
  return { task, keep };
}

/** Every file under `dir`, recursively. */
async function allFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name));
}

/**
 * Reads every task directory under `root`; returns the tasks that load, removes what cannot be loaded
 * (see the header). `root/.tmp` and other dot-entries are not tasks.
 */
export async function loadTasks(root: string, logger: ServerLogger): Promise<Task[]> {
  const tasks: Task[] = [];
  for (const entry of await readdir(root, { withFileTypes: true })) {
    if (!entry.isDirectory() || !looksLikeId(entry.name)) continue;
    const dir = join(root, entry.name);
    let record: TaskRecord;
    try {
      record = JSON.parse(await readFile(join(dir, RECORD_NAME), 'utf8')) as TaskRecord;
      check(record && record.format === FORMAT, 'not a task record');
    } catch (err) {
      logger('warn', `removing ${dir}: no complete task record (${(err as Error).message})`);
      await rm(dir, { recursive: true, force: true });
      continue;
    }
    if (record.version !== VERSION) {
      logger('warn', `not loading ${dir}: task record version ${String(record.version)}, this server reads version ${VERSION}`);
      continue;
    }
    try {
      const { task, keep } = await fromRecord(record, dir, entry.name);
      if (task.status === 'TaskProcessing') interrupted(task, keep);
      for (const file of await allFiles(dir)) if (!keep.has(file)) await unlink(file);
      tasks.push(task);
    } catch (err) {
      logger('warn', `removing ${dir}: its task record does not match its files (${(err as Error).message})`);
      await rm(dir, { recursive: true, force: true });
    }
  }
  return tasks;
}

/** A task the server stopped while processing: back to TaskWaiting with its uploads, outputs dropped. */
function interrupted(task: Task, keep: Set<string>): void {
  for (const o of [...task.outputs, ...(task.download ? [task.download] : [])]) keep.delete(o.path);
  Object.assign(task, { status: 'TaskWaiting', results: [], outputs: [], download: undefined, processStart: '', processedAt: undefined });
  task.statusMessage = 'Processing was interrupted by a restart of the server: process the task again';
}
