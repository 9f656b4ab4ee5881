/**
 * One batch run, from the names the user typed to files on disk and a report: resolve inputs, plan
 * outputs (and catch collisions) before anything is sent, connect (cloud or embedded engine), run the
 * pipeline, report, and turn the outcome into an error the entry point maps to an exit code.
 */
import path from 'node:path';
import { DEFAULT_CONCURRENCY, type FileReport, type Job, type PipelineStep, type RunOptions } from './model.js';
import { partition, runBatch, Throttle } from './batch.js';
import { connect, resolveSettings, type ConnectionFlags } from '../account/connection.js';
import { AuthError, CliError, PartialFailureError, UsageError, InterruptedError, StrictWarningsError } from '../lib/errors.js';
import { resolveInputs, type InputItem } from './inputs.js';
import { exists, OutputExistsError, planOutputs, type PlannedOutput } from './outputs.js';
import { createReporter, summarize, type RunReport } from './report.js';
import { Journal, pipelineSignature } from './journal.js';
import { resultSizeOverride } from './result.js';
import type { IO } from '../lib/io.js';
import { toolByName, type ToolSpec } from '../protocol/tools.js';
import { AuthenticationError, RateLimitError } from '../api/errors.js';
import { processBody } from '../api/params.js';
import { resizeCheck } from './resize-check.js';
import { checkFlags, doneEarlier, ownOutputs, unwritable } from './preflight.js';

export interface RunContext {
  io: IO;
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  cwd: string;
}

export interface ToolRun {
  /** The first tool; the name the report carries. */
  spec: ToolSpec;
  steps: PipelineStep[];
  inputs: string[];
  run: RunOptions;
  connection: ConnectionFlags;
}

export async function runTool(ctx: RunContext, job: ToolRun): Promise<RunReport> {
  const { io, cwd } = ctx;
  const { run } = job;
  const started = Date.now();
  // The profile may set defaults for the run: an output directory and the concurrency (flags win).
  const settings = await resolveSettings(job.connection, ctx.env);
  if (run.outputDir === undefined && run.output === undefined && !run.inPlace && settings.outputDir) run.outputDir = settings.outputDir;
  run.concurrency ??= settings.concurrency ?? DEFAULT_CONCURRENCY;
  if (job.inputs.length === 0 && run.filesFrom.length === 0) {
    throw new UsageError(`${job.spec.command}: no input files given`, `Example: iloveimg ${job.spec.examples[0]?.replace(/^iloveimg /, '') ?? `${job.spec.command} photo.jpg`}`);
  }
  checkFlags(job, io);
  const resolved = await resolveInputs(job.inputs, { recursive: run.recursive, filesFrom: run.filesFrom, cwd, stdin: io.stdin });
  for (const w of resolved.warnings) io.warn(w);
  const rejected: FileReport[] = resolved.rejected.map((r) => ({
    input: r.display,
    status: r.status,
    inputBytes: 0,
    ...(r.status === 'failed' ? { error: { type: r.type, message: r.reason } } : { note: r.reason }),
  }));
  let items = resolved.items;
  if (items.length === 0) {
    const why = rejected.length ? rejected.map((r) => `${r.input}: ${r.error?.message ?? r.note}`).join('; ') : 'nothing matched';
    throw new UsageError(`${job.spec.command}: no images to process (${why})`);
  }
  const hasStdin = items.some((i) => i.kind === 'stdin');
  if (hasStdin && items.length > 1) throw new UsageError('`-` (standard input) cannot be mixed with other inputs');
  // --fail-fast covers the checks made before anything is sent: a named input that is missing or not
  // an image stops the run before the first upload.
  if (run.failFast && rejected.some((r) => r.status === 'failed')) {
    for (const it of items) rejected.push({ input: it.display, status: 'skipped', inputBytes: it.size, note: 'not started (--fail-fast)' });
    return finishEarly(ctx, job, rejected, started);
  }
  const toStdout = run.output === '-' || (hasStdin && run.output === undefined && !run.outputDir);
  if (toStdout && run.mode !== 'human') throw new UsageError('the image goes to stdout here, so --json/--ndjson cannot be used', 'Write it to a file with -O FILE or -o DIR.');
  if (toStdout && (io.stdout as { isTTY?: boolean }).isTTY) {
    throw new UsageError('refusing to write image bytes to a terminal', 'Redirect stdout (`> out.jpg`), pipe it on, or write a file with -O FILE or -o DIR.');
  }

  // -O names a target to (re)build, as mogrify and sharp-cli do (a Makefile rule): it replaces an
  // existing file unless --on-conflict says otherwise.
  if (run.output !== undefined && run.onConflict === 'error') run.onConflict = 'overwrite';
  const joined = job.steps.some((s) => s.tool === 'convertimage' && s.params.to === 'gif_animation');
  if (!run.outputDir && run.output === undefined && !run.inPlace) {
    const own = ownOutputs(items, run.suffix ?? toolByName(job.steps.at(-1)!.tool)?.suffix ?? 'out');
    rejected.push(...own.skipped);
    items = own.keep.map((i) => items[i]);
  }
  const plans = plan(items, job, joined, cwd);
  let jobs: Job[] = items.map((item, i) => ({ item, plan: plans[i] }));
  if (!run.dryRun) {
    // Every destination can be written, before the first upload: a bad -o/-O stops the run; a
    // directory beside some inputs fails those files.
    const bad = await unwritable(plans);
    if (bad.size && (run.outputDir !== undefined || run.output !== undefined)) {
      throw new CliError([...bad.values()][0], 'Nothing was sent. Choose a directory you can write to (-o DIR).');
    }
    for (const { item, plan: p } of jobs) {
      const why = bad.get(path.dirname(p.dest));
      if (why) rejected.push({ input: item.display, status: 'failed', inputBytes: item.size, error: { type: 'OutputNotWritable', message: why } });
    }
    jobs = jobs.filter((j) => !bad.has(path.dirname(j.plan.dest)));
    if (jobs.length === 0) return finishEarly(ctx, job, rejected, started);
  }

  // Work an earlier run finished (--resume, --skip-unchanged), then destinations that exist already:
  // both decided per file before any upload (one never sinks the batch).
  const journal = run.outputDir || run.resume || run.skipUnchanged ? await Journal.open(path.resolve(cwd, run.outputDir ?? '.'), pipelineSignature(job.steps)) : undefined;
  if (journal && (run.resume || run.skipUnchanged) && !joined) {
    const left: Job[] = [];
    for (const j of jobs) {
      const done = await doneEarlier(journal, j.item, j.plan, { resume: run.resume, skipUnchanged: run.skipUnchanged, onConflict: run.onConflict, cwd });
      if (done) rejected.push(done);
      else left.push(j);
    }
    jobs = left;
  }
  const keep: Job[] = [];
  for (const [i, j] of jobs.entries()) {
    const { item, plan: { dest } } = j;
    if (dest !== '-' && !run.inPlace && run.onConflict !== 'overwrite' && run.onConflict !== 'rename' && (!joined || i === 0) && (await exists(dest))) {
      const shown = path.relative(cwd, dest) || dest;
      if (run.onConflict === 'skip') rejected.push({ input: item.display, status: 'skipped', inputBytes: item.size, output: shown, note: 'destination exists (--on-conflict skip)' });
      else {
        const e = new OutputExistsError(shown, Boolean(run.outputDir && !run.resume));
        rejected.push({ input: item.display, status: 'failed', inputBytes: item.size, error: { type: e.type, message: e.message } });
      }
      if (joined) return finishEarly(ctx, job, rejected, started);
      continue;
    }
    keep.push(j);
  }
  jobs = keep;

  if (run.dryRun) return dryRun(ctx, job, jobs, rejected, started);
  if (jobs.length === 0) return finishEarly(ctx, job, rejected, started);
  items = jobs.map((j) => j.item);

  const throttle = new Throttle();
  let reporter: Awaited<ReturnType<typeof createReporter>> | undefined;
  const conn = await connect(job.connection, {
    io,
    env: ctx.env,
    settings,
    requireRemote: run.noWait ? '--no-wait' : undefined,
    onRetry: ({ step, attempt, error, delayMs }) => {
      if (error instanceof RateLimitError) throttle.rateLimited();
      // Visible on a terminal (the bar's state), as a line with -v: a long wait is never silent.
      const text = `retrying ${step} (attempt ${attempt + 1}/${conn.client.retryPolicy.retries + 1}) in ${(delayMs / 1000).toFixed(1)} s: ${error.message}`;
      if (io.verbose) io.info(text);
      else reporter?.status(text);
    },
  });
  // The reporter starts after connecting, so the engine note is not drawn over the progress bar.
  reporter = await createReporter(io, run.mode, items);
  reporter.rejected(rejected);
  const recorded: Promise<void>[] = [];
  if (journal) {
    const byDisplay = new Map(items.map((i) => [i.display, i]));
    const onFile = reporter.events.onFile;
    reporter.events.onFile = (r) => {
      onFile?.(r);
      const item = byDisplay.get(r.input);
      // A kept original (compress not smaller) is finished work too: --resume must not redo it.
      if ((r.status === 'ok' || (r.status === 'skipped' && r.outputBytes !== undefined)) && r.output && item?.kind === 'file' && !joined) {
        recorded.push(journal.record(item.source, path.resolve(cwd, r.output), r.outputBytes ?? 0).catch((e) => io.warn(`could not write the run journal: ${(e as Error).message}`)));
      }
    };
  }
  try {
    if (run.apiDebug) return await apiDebug(ctx, job, conn.client);
    const result = await runBatch(conn.client, jobs, {
      steps: job.steps,
      concurrency: run.concurrency,
      failFast: run.failFast,
      onConflict: run.onConflict,
      inPlace: run.inPlace,
      minSavings: job.steps.at(-1)?.tool === 'compressimage' ? (run.minSavings ?? { bytes: 1 }) : undefined,
      joined,
      noWait: run.noWait,
      maxResultBytes: resultSizeOverride(ctx.env),
      outputRoot: run.outputDir ? path.resolve(cwd, run.outputDir) : undefined,
      stdout: io.stdout,
      cwd,
      signal: ctx.signal,
      throttle,
      events: reporter.events,
      checkResult: resizeCheck(job.steps),
      keepDates: run.keepDates,
    });
    await Promise.all(recorded);
    const files = [...rejected, ...result.files];
    const report: RunReport = {
      tool: job.spec.command,
      ...(job.steps.length > 1 ? { steps: job.steps.map((s) => toolByName(s.tool)?.command ?? s.tool) } : {}),
      files,
      tasks: result.tasks,
      summary: summarize(files, (Date.now() - started) / 1000),
    };
    // Credits matter in the cloud; the embedded engine's count means nothing.
    if (!conn.embedded && result.remainingFiles !== undefined && Number.isFinite(result.remainingFiles)) report.summary.remainingFiles = result.remainingFiles;
    reporter.finish(report);
    if (run.noWait && run.mode === 'human') {
      // The id is data: on stdout, one a line, so `T=$(iloveimg … --no-wait)` gets it; the hint is for people.
      for (const t of result.tasks) {
        io.stdout.write(`${t.task}\n`);
        io.info(`queued task ${t.task}; fetch it with: iloveimg tasks wait ${t.task} && iloveimg tasks download ${t.task} -o <dir>`);
      }
    }
    if (ctx.signal?.aborted) {
      const hint = run.outputDir ? 'Run the same command with --resume to finish the rest.' : 'Run the same command with --on-conflict skip to finish the rest.';
      throw new InterruptedError('interrupted; finished files were kept, no partial file was written', hint);
    }
    const authFailure = files.find((f) => f.status === 'failed' && f.error && /^(Unauthorized|Authentication)/i.test(f.error.type));
    if (authFailure && files.every((f) => f.status === 'failed')) throw new AuthError(authFailure.error!.message, 'Check your keys (`iloveimg config list`), or run `iloveimg login`.');
    if (result.connectionError && files.every((f) => f.status === 'failed')) {
      throw new CliError(`could not reach the API: ${result.connectionError.message}`, 'Check --api-url and the network; nothing was processed.');
    }
    if (report.summary.failed > 0) throw new PartialFailureError(`${report.summary.failed} of ${report.summary.total} files failed`);
    const warned = files.filter((f) => f.warnings?.length).length;
    if (warned > 0 && run.strict) throw new StrictWarningsError(`${warned} of ${report.summary.total} files were written with warnings (--strict)`);
    return report;
  } catch (e) {
    if (e instanceof AuthenticationError) throw new AuthError(`the API refused the keys: ${e.message}`, 'Check your keys (`iloveimg config list`), or run `iloveimg login`.');
    throw e;
  } finally {
    reporter.close();
    await conn.close();
  }
}

function plan(items: InputItem[], job: ToolRun, joined: boolean, cwd: string): PlannedOutput[] {
  const { run } = job;
  const convert = [...job.steps].reverse().find((s) => s.tool === 'convertimage');
  const target = convert ? (convert.params.to === 'gif_animation' ? 'gif' : String(convert.params.to ?? 'jpg')) : undefined;
  const suffix = run.suffix ?? toolByName(job.steps.at(-1)!.tool)?.suffix ?? 'out';
  const naming = { name: run.name, tool: job.spec.command };
  if (run.output !== undefined) {
    if (items.length > 1 && !joined) throw new UsageError('-O/--output names one file: give one input, or use -o/--output-dir for several');
    // Literal (README "Outputs"): exactly this name whatever the format, `-` for stdout.
    const dest = run.output === '-' ? '-' : path.resolve(cwd, run.output);
    return items.map(() => ({ dest, ext: path.extname(dest).slice(1) || (target ?? 'jpg'), literal: true }));
  }
  if (joined) {
    const [first] = planOutputs(items.slice(0, 1), { outputDir: run.outputDir, flat: run.flat, inPlace: false, suffix, onConflict: run.onConflict, cwd, naming }, target);
    return items.map(() => first);
  }
  return planOutputs(items, { outputDir: run.outputDir, flat: run.flat, inPlace: run.inPlace, suffix, onConflict: run.onConflict, cwd, naming }, target);
}

/** Nothing left to send (every input skipped or failed before upload): the same report, no connection. */
async function finishEarly(ctx: RunContext, job: ToolRun, files: FileReport[], started: number): Promise<RunReport> {
  const report: RunReport = { tool: job.spec.command, files, summary: summarize(files, (Date.now() - started) / 1000) };
  const reporter = await createReporter(ctx.io, job.run.mode, []);
  reporter.rejected(files);
  reporter.finish(report);
  if (report.summary.failed > 0) throw new PartialFailureError(`${report.summary.failed} of ${report.summary.total} files failed`);
  return report;
}

/** `--dry-run`: the plan, with no request and no engine. */
function dryRun(ctx: RunContext, job: ToolRun, jobs: Job[], rejected: FileReport[], started: number): RunReport {
  const { io } = ctx;
  const groups = partition(jobs.length, job.run.concurrency ?? DEFAULT_CONCURRENCY).length;
  const files: FileReport[] = [
    ...rejected,
    ...jobs.map(({ item: it, plan: p }): FileReport => ({ input: it.display, output: p.dest === '-' ? '<stdout>' : path.relative(ctx.cwd, p.dest) || p.dest, status: 'skipped', inputBytes: it.size, note: 'dry run' })),
  ];
  const report: RunReport = {
    tool: job.spec.command,
    ...(job.steps.length > 1 ? { steps: job.steps.map((s) => toolByName(s.tool)?.command ?? s.tool) } : {}),
    files,
    summary: summarize(files, (Date.now() - started) / 1000),
  };
  if (job.run.mode === 'json') io.json({ ...report, dryRun: true, tasks: groups * job.steps.length });
  else {
    for (const f of files) io.error(f.note === 'dry run' ? `${f.input} → ${f.output}` : `${f.status === 'failed' ? '✗' : '-'} ${f.input}: ${f.error?.message ?? f.note}`);
    io.error(`dry run: ${jobs.length} file(s) would be sent in ${groups} task(s) × ${job.steps.length} step(s); nothing was sent`);
  }
  return report;
}

/**
 * `--api-debug`: start a task and send process with the API's `debug` flag, which makes the server echo
 * the parameters it received without processing or charging anything; the echo goes to stdout.
 */
async function apiDebug(ctx: RunContext, job: ToolRun, client: import('../api/client.js').IloveimgClient): Promise<RunReport> {
  const step = job.steps[0];
  const ref = await client.start(step.tool);
  const echo = await client.process(ref, processBody([], { ...step.params, debug: true }));
  ctx.io.json(echo);
  return { tool: job.spec.command, files: [], summary: summarize([], 0) };
}
