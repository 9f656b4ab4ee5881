/**
 * Running a task through the image tools: per-file work under the server-wide concurrency bound and
 * a per-file time budget, outputs stored (encrypted when the task is), names from the templates, the
 * package zip for several outputs, and the task's final status (the names and status words: outcome.ts).
 *
 * Status rules (reference "Process", `ignore_errors`): with ignore_errors (the default) failed files
 * become warnings and the task is TaskSuccessWithWarnings, unless every file failed (TaskError). Without
 * it, the first failure stops the files not yet started and the task is TaskError with no outputs.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { EngineError, type EngineContext, type EngineInput, type EngineOutput, type ToolImpl } from '../engine/types.js';
import type { FileStatus, TaskStatus } from '../protocol/tools.js';
import type { TaskFile } from '../protocol/wire.js';
import type { ServerContext } from './context.js';
import { finalStatus, outputNames, packageName, statusMessage } from './outcome.js';
import type { ProcessRequest, RequestedFile } from './params.js';
import { DecryptError, readStored, writeBuffer, type AtRestKey } from './storage.js';
import { ensureDir, formatTimestamp, type OutputFile, type Task } from './store.js';
import { packageZip } from './zip.js';
import { decodeEstimate, readHeader } from './decode-budget.js';

/**
 * libvips/sharp messages for input it cannot decode. The engine reports these as EngineErrors itself;
 * this only classifies what might escape a tool unwrapped, so it names decoder failures and nothing else.
 */
const DAMAGED = /unsupported image format|exceeds pixel limit|input buffer is empty|premature end|read error|corrupt jpeg|truncated|not a known file format|vipsjpeg|vipspng|gifload|webpload|heifload|tiffload|svgload/i;

function classify(err: unknown): { status: FileStatus; message: string } {
  if (err instanceof EngineError) return { status: err.status, message: err.message };
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof DecryptError) return { status: 'UnknownError', message };
  return { status: DAMAGED.test(message) ? 'DamagedFile' : 'UnknownError', message };
}

/** Resolves with `work`, or rejects with a TimeOut EngineError after `seconds` (0 = no budget). */
function withBudget<T>(work: Promise<T>, seconds: number): Promise<T> {
  if (seconds <= 0) return work;
  let timer: NodeJS.Timeout | undefined;
  const budget = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new EngineError('TimeOut', `Processing took longer than ${seconds} s`)), seconds * 1000);
    timer.unref();
  });
  return Promise.race([work, budget]).finally(() => clearTimeout(timer));
}

function seconds(since: number): number {
  return Math.round(performance.now() - since) / 1000;
}

/** A file's output, kept on disk under a neutral name until the download names are decided. */
interface Produced {
  index: number;
  path: string;
  size: number;
  ext: string;
  /** The bytes, kept for the zip while the task holds less than HELD_BYTES of them. */
  data?: Buffer;
  /** Held in the store's memory pool, not written to `path` (the embedded engine, memory.ts). */
  inPool?: boolean;
}

/** Outputs a task keeps in memory for its zip instead of reading them back (docs/performance.md). */
const HELD_BYTES = 32 * 1024 * 1024;

class Run {
  private held = 0;
  readonly results: TaskFile[];
  readonly produced: Produced[] = [];
  readonly warnings: string[] = [];
  /** Set on the first failure when ignore_errors is false: files not started yet are skipped. */
  stopped = false;
  private readonly outDir: string;
  private readonly engineCtx: EngineContext;

  constructor(
    private readonly ctx: ServerContext,
    private readonly task: Task,
    private readonly req: ProcessRequest,
    private readonly impl: ToolImpl,
    private readonly key: AtRestKey | undefined,
  ) {
    this.outDir = join(task.dir, 'out');
    this.warnings.push(...req.warnings);
    this.results = req.files.map((f) => ({
      server_filename: f.serverFilename,
      status: 'FileWaiting',
      status_message: '',
      filename: f.filename,
      timer: 0,
      filesize: task.files.get(f.serverFilename)?.size ?? 0,
      output_filesize: 0,
    }));
    const stamps = new Map<string, Promise<Buffer | undefined>>();
    this.engineCtx = {
      getUploaded: (serverFilename) => {
        const file = task.files.get(serverFilename);
        if (!file) return Promise.resolve(undefined);
        let bytes = stamps.get(serverFilename);
        if (!bytes) stamps.set(serverFilename, (bytes = readStored(file, key)));
        return bytes;
      },
      limitInputPixels: ctx.limits.maxInputPixels,
      timeoutSeconds: ctx.limits.fileTimeoutSeconds,
      tryRepair: req.tryRepair,
    };
  }

  private shouldSkip(): boolean {
    return this.stopped || this.ctx.closing || !this.ctx.store.has(this.task);
  }

  private fail(index: number, status: FileStatus, message: string): void {
    Object.assign(this.results[index], { status, status_message: message });
    if (!this.req.ignoreErrors) this.stopped = true;
  }

  private async store(index: number, out: EngineOutput): Promise<void> {
    const ext = /^[a-z0-9]{1,10}$/.test(out.ext) ? out.ext : 'bin';
    const path = join(this.outDir, `${index + 1}.${ext}`);
    const inPool = !this.key && this.ctx.store.memory?.take(out.data.length) === true;
    if (!inPool) await this.outDirMade().then(() => writeBuffer(path, out.data, this.key));
    const keep = inPool || (this.held += out.data.length) <= HELD_BYTES;
    this.produced.push({ index, path, size: out.data.length, ext, data: keep ? out.data : undefined, inPool });
    this.results[index].output_filesize = out.data.length;
    for (const w of out.warnings ?? []) this.warnings.push(`${this.req.files[index].filename}: ${w}`);
    // The file's own warnings on its entry too, so a client can tell which file they are about.
    if (out.warnings?.length) this.results[index].status_message = out.warnings.join('; ');
  }

  /**
   * Runs `start` in a concurrency slot with the file budget. The slot is held until the tool really
   * finishes, even past a TimeOut, so a runaway file still counts against the bound.
   */
  private async inSlot(budgetSeconds: number, start: () => Promise<EngineOutput>): Promise<EngineOutput | undefined> {
    const release = await this.ctx.slots.acquire(this.task.project);
    if (this.shouldSkip()) {
      release();
      return undefined;
    }
    const work = start();
    work.then(release, release);
    return withBudget(work, budgetSeconds);
  }

  /** Reserves the decode memory the inputs' headers call for (decode-budget.ts); throws when over the cap. */
  private async reserveDecode(inputs: EngineInput[]): Promise<() => void> {
    let bytes = 0;
    for (const input of inputs) {
      const meta = await readHeader(input.data, this.ctx.limits.maxInputPixels);
      // Passed on: the tool does not read the header a second time (docs/performance.md).
      if (meta) (input.header = meta), (bytes += decodeEstimate(meta));
    }
    return this.ctx.decodeBudget.reserve(bytes, inputs.length === 1 ? inputs[0].filename : `these ${inputs.length} files`);
  }

  private async input(file: RequestedFile): Promise<EngineInput> {
    const data = await readStored(this.task.files.get(file.serverFilename)!, this.key);
    return { data, filename: file.filename, rotate: file.rotate };
  }

  async one(index: number): Promise<void> {
    const file = this.req.files[index];
    if (!this.task.files.has(file.serverFilename)) return this.fail(index, 'ServerFileNotFound', 'The file was not found in this task');
    const started = performance.now();
    try {
      const out = await this.inSlot(this.ctx.limits.fileTimeoutSeconds, async () => {
        const input = await this.input(file);
        const release = await this.reserveDecode([input]);
        return this.impl.run(input, this.req.params, this.engineCtx).finally(release);
      });
      if (!out) return;
      await this.store(index, out);
      this.results[index].status = 'FileSuccess';
    } catch (err) {
      const { status, message } = classify(err);
      this.fail(index, status, message);
    } finally {
      this.results[index].timer = seconds(started);
    }
  }

  /** gif_animation: all present files into one output; a failure is every file's failure. */
  async joined(): Promise<void> {
    const present: number[] = [];
    this.req.files.forEach((f, i) => {
      if (this.task.files.has(f.serverFilename)) present.push(i);
      else this.fail(i, 'ServerFileNotFound', 'The file was not found in this task');
    });
    if (present.length === 0 || this.stopped) return;
    const started = performance.now();
    try {
      const budget = this.ctx.limits.fileTimeoutSeconds * present.length;
      const out = await this.inSlot(budget, async () => {
        const inputs = await Promise.all(present.map((i) => this.input(this.req.files[i])));
        const release = await this.reserveDecode(inputs);
        return this.impl.runJoined!(inputs, this.req.params, this.engineCtx).finally(release);
      });
      if (!out) return;
      await this.store(present[0], out);
      for (const i of present) this.results[i].status = 'FileSuccess';
    } catch (err) {
      const { status, message } = classify(err);
      for (const i of present) this.fail(i, status, message);
    } finally {
      for (const i of present) this.results[i].timer = seconds(started);
    }
  }

  private madeOutDir?: Promise<void>;
  /** The out dir, made once the first output goes to disk (none is made when all stay in memory). */
  outDirMade(): Promise<void> {
    return (this.madeOutDir ??= ensureDir(this.outDir));
  }

  /** Drops the outputs made so far, which the task keeps none of: held ones back to the pool, written ones removed with `dir`. */
  async discardOutputs(dir = this.outDir): Promise<void> {
    for (const p of this.produced) if (p.inPool) this.ctx.store.memory?.give(p.size);
    await rm(dir, { recursive: true, force: true });
  }

  async execute(): Promise<void> {
    if (this.impl.joins?.(this.req.params) && this.impl.runJoined) await this.joined();
    else await Promise.all(this.req.files.map((_, i) => this.one(i)));
    const why = this.stopped ? 'another file failed and ignore_errors is false' : 'the task was deleted or the server is stopping';
    for (const r of this.results) if (r.status === 'FileWaiting') r.status_message = `Not processed: ${why}`;
  }
}

/**
 * Processes the task (its status is already TaskProcessing) and records the outcome on it. Throws
 * only on server-side trouble (disk); file failures are results.
 *
 * A WrongPassword file puts the task back to TaskWaiting (reference "Process": the client may resend
 * with the password); those results are returned and nothing is recorded.
 */
export async function processTask(
  ctx: ServerContext,
  task: Task,
  req: ProcessRequest,
  impl: ToolImpl,
  key?: AtRestKey,
): Promise<{ status: TaskStatus; wrongPassword?: TaskFile[] }> {
  const started = performance.now();
  const date = new Date();
  task.processStart = formatTimestamp(date.getTime());

  const run = new Run(ctx, task, req, impl, key);
  await run.execute();
  run.produced.sort((a, b) => a.index - b.index);

  if (!ctx.store.has(task)) {
    // Deleted while processing: whatever was written since belongs to nobody.
    await run.discardOutputs(task.dir);
    return { status: 'TaskDeleted' };
  }
  if (run.results.some((r) => r.status === 'WrongPassword')) {
    await run.discardOutputs();
    task.processStart = '';
    task.status = 'TaskWaiting';
    task.touchedAt = Date.now();
    return { status: 'TaskWaiting', wrongPassword: run.results.filter((r) => r.status === 'WrongPassword') };
  }

  const status = finalStatus(req, run.results, run.warnings);
  let outputs: OutputFile[] = [];
  let download: OutputFile | undefined;
  if (status !== 'TaskError') {
    const names = outputNames(req, run.produced, date);
    const encrypted = key !== undefined;
    outputs = run.produced.map((p, i) => ({ name: names[i], path: p.path, size: p.size, ext: p.ext, encrypted, data: p.inPool ? p.data : undefined }));
    if (outputs.length === 1) download = outputs[0];
    else {
      const path = join(task.dir, 'out', 'package.zip');
      const entries = run.produced.map((p, i) => ({ name: names[i], path: p.path, data: p.data }));
      const pool = run.produced.every((p) => p.inPool) ? ctx.store.memory : undefined;
      const { size, data } = await packageZip(entries, path, key, pool, () => run.outDirMade());
      download = { name: packageName(req, outputs.length, date), path, size, ext: 'zip', encrypted, data };
    }
  } else {
    await run.discardOutputs();
  }

  task.tool = req.tool;
  if (req.customInt !== undefined) task.customInt = req.customInt;
  if (req.customString !== undefined) task.customString = req.customString;
  task.results = run.results;
  task.outputs = outputs;
  task.download = download;
  // Deleted while its zip was made: the outputs it holds in memory go back to the pool.
  if (!ctx.store.has(task)) ctx.store.release(task);
  task.filesize = run.results.reduce((sum, r) => sum + r.filesize, 0);
  task.outputFilesize = outputs.reduce((sum, o) => sum + o.size, 0);
  task.statusMessage = statusMessage(status, run.results, run.warnings);
  task.timer = seconds(started).toFixed(3);
  task.processedAt = Date.now();
  task.status = status;
  if (status !== 'TaskError') {
    ctx.store.charge(task.project, run.results.filter((r) => r.status === 'FileSuccess').length);
  }
  return { status };
}
