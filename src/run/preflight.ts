/**
 * Checks made before anything is sent (README "Outputs"), so a run that cannot finish fails before it
 * spends time or an account's credits:
 * - inputs that are this command's own earlier outputs (`a-compressed.jpg` beside `a.jpg`, swept in
 *   by a glob on a second run) are skipped, and say so;
 * - every destination directory is created and probed for writing;
 * - work an earlier run finished (--resume, --skip-unchanged) is not sent again;
 * - flags that contradict each other, and `-` on a terminal, are usage errors at once.
 */
import path from 'node:path';
import type { ConflictPolicy, FileReport, RunOptions } from './model.js';
import type { InputItem } from './inputs.js';
import { checkWritableDir, ConflictError, copyAtomic, withExt, type PlannedOutput } from './outputs.js';
import type { Journal } from './journal.js';
import type { IO } from '../lib/io.js';
import { UsageError } from '../lib/errors.js';

/**
 * Splits off the inputs named `{stem}-{suffix}.{ext}` that sit beside another input `{stem}.*`: the
 * result an earlier run of this command wrote. Only when results go beside their inputs.
 */
export function ownOutputs(items: InputItem[], suffix: string): { keep: number[]; skipped: FileReport[] } {
  const stems = new Set(items.filter((i) => i.kind === 'file').map((i) => stemOf(i.source)));
  const keep: number[] = [];
  const skipped: FileReport[] = [];
  items.forEach((item, i) => {
    const s = item.kind === 'file' ? stemOf(item.source) : '';
    const tail = `-${suffix}`;
    if (s.endsWith(tail) && stems.has(s.slice(0, -tail.length))) {
      skipped.push({ input: item.display, status: 'skipped', inputBytes: item.size, note: `it is this command's own output (*${tail}.*) for another input; name it alone to process it` });
    } else keep.push(i);
  });
  return { keep, skipped };
}

function stemOf(file: string): string {
  const ext = path.extname(file);
  return ext ? file.slice(0, -ext.length) : file;
}

/** The directories the plans write into that cannot be written, with the reason (probed once each). */
export async function unwritable(plans: PlannedOutput[]): Promise<Map<string, string>> {
  const dirs = new Set(plans.filter((p) => p.dest !== '-').map((p) => path.dirname(p.dest)));
  const bad = new Map<string, string>();
  for (const dir of dirs) {
    const why = await checkWritableDir(dir);
    if (why) bad.set(dir, why);
  }
  return bad;
}

/**
 * The report for an input an earlier run already finished, or undefined when it must be processed.
 * A match by content (--skip-unchanged) against another input's record — a renamed or copied file —
 * is not done until its own destination exists: the earlier result is copied there (nothing is sent
 * again), so its output is never missing.
 */
export async function doneEarlier(
  journal: Journal,
  item: InputItem,
  plan: PlannedOutput,
  opts: { resume: boolean; skipUnchanged: boolean; onConflict: ConflictPolicy; cwd: string },
): Promise<FileReport | undefined> {
  const done = await journal.done(item, { resume: opts.resume, unchanged: opts.skipUnchanged });
  if (!done) return undefined;
  const shown = (p: string) => path.relative(opts.cwd, p) || p;
  const report: FileReport = { input: item.display, status: 'skipped', inputBytes: item.size, output: shown(done.output), outputBytes: done.outputBytes, note: 'already done by an earlier run' };
  if (plan.dest === '-' || stemOf(done.output) === stemOf(plan.dest)) return report;
  const target = plan.literal ? plan.dest : withExt(plan.dest, path.extname(done.output).slice(1));
  try {
    const written = await copyAtomic(done.output, target, opts.onConflict);
    if (!written) return undefined;
    return { ...report, output: shown(written), note: `same content as ${shown(done.output)}, done by an earlier run; its result was copied` };
  } catch (e) {
    if (e instanceof ConflictError) return undefined;
    throw e;
  }
}

/** Flags that make no sense together or alone (README "Batches"), and `-` with nothing piped in. */
export function checkFlags(job: { inputs: string[]; run: RunOptions }, io: IO): void {
  const { run } = job;
  if (run.flat && !run.outputDir) throw new UsageError('--flat needs -o/--output-dir (it flattens the tree written there)');
  if (run.resume && !run.outputDir) throw new UsageError('--resume needs -o/--output-dir (the run journal is kept there)');
  if (job.inputs.includes('-') && (io.stdin as { isTTY?: boolean }).isTTY) {
    throw new UsageError('`-` reads an image from standard input, but standard input is a terminal', 'Pipe an image in: `cat photo.jpg | iloveimg … -`.');
  }
}
