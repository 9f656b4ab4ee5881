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
import type { IloveimgClient } from '../api/client.js';
import type { ApiError } from '../api/errors.js';
import { Semaphore } from '../concurrency/semaphore.js';
import type { InputItem } from './inputs.js';
import { failed } from './member.js';
import type { BatchEvents, ConflictPolicy, FileReport, Job, MinSavings, PipelineStep } from './model.js';
import { TaskGroup } from './task-group.js';

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
  minSavings?: MinSavings;
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

export async function runBatch(client: IloveimgClient, jobs: Job[], opts: BatchOptions): Promise<BatchResult> {
  const result: BatchResult = { files: [], tasks: [] };
  if (jobs.length === 0) return result;
  const groups = opts.joined || opts.noWait ? [jobs.map((_, i) => i)] : partition(jobs.length, opts.concurrency);
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
          for (const { item } of indexes.map((i) => jobs[i])) {
            if (opts.signal?.aborted) report({ input: item.display, status: 'skipped', inputBytes: item.size, note: NOT_STARTED });
            else report(failed(item, 'Cancelled', 'not started (--fail-fast)'));
          }
          return;
        }
        // A group whose request keeps failing is tried again in halves, down to single files, so that
        // the file the server chokes on fails alone (split-group.ts).
        const attempt = async (part: number[]): Promise<void> => {
          const retry = await new TaskGroup(client, part.map((i) => jobs[i]), opts, uploads, report, result).run(part.length > 1);
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
  const order = new Map(jobs.map((j, i) => [j.item.display, i]));
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
