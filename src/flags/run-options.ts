/**
 * The options every batch command shares (tool commands and `chain`): inputs, outputs, how to run,
 * and how to report. Parsed and checked here so each command file stays declarative.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { numberOption } from './number-option.js';
import { CONFLICT_POLICIES, DEFAULT_CONCURRENCY, type ConflictPolicy, type RunOptions } from '../run/model.js';

/** `10%`, `50KB`, `2000` (bytes) → {percent} or {bytes}. */
export function parseSavings(raw: string): { percent?: number; bytes?: number } {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(%|b|kb|kib|mb|mib)?\s*$/i.exec(raw);
  if (!m) throw new InvalidArgumentError('use a percentage (10%) or a size (50KB, 2000)');
  const n = Number(m[1]);
  const unit = (m[2] ?? 'b').toLowerCase();
  if (unit === '%') {
    if (n > 100) throw new InvalidArgumentError('a percentage is at most 100%');
    return { percent: n };
  }
  const mult = { b: 1, kb: 1000, kib: 1024, mb: 1e6, mib: 1024 * 1024 }[unit] ?? 1;
  return { bytes: Math.round(n * mult) };
}

export function addRunOptions(cmd: Command, opts: { savings?: boolean; then?: boolean } = {}): void {
  cmd
    .option('-o, --output-dir <dir>', 'Write results here, mirroring the input tree (default: beside each input, with a suffix)')
    .option('-O, --output <file>', 'Write the single result to this file (one input, or convert --to gif_animation)')
    .option('--flat', 'With -o: put every result directly in the directory instead of mirroring the input tree')
    .option('--in-place', 'Replace each input with its result (atomically)')
    .option('--suffix <text>', 'Suffix of results written beside their inputs (default: the tool\'s, e.g. photo-compressed.jpg)', (v: string) => {
      if (!v || /[/\\]/.test(v)) throw new InvalidArgumentError('give a non-empty suffix without slashes');
      return v;
    })
    .option('--name <template>', 'File name of each result: {name} (input name without extension), {ext}, {tool}, {n} (1, 2, …), e.g. \'{name}.min.{ext}\'')
    .option('--keep-dates', "Give each result its input's modification time")
    .addOption(new Option('--on-conflict <policy>', 'What to do when a destination exists').choices(CONFLICT_POLICIES as string[]).default('error'))
    .option('-r, --recursive', 'Process the images inside directory arguments, recursively')
    .option('--files-from <file>', 'Read input names from a file, one a line or NUL-separated (- for stdin)', (v: string, prev: string[] = []) => [...prev, v])
    .option('-j, --concurrency <n>', `Tasks in flight at once, with twice as many uploads (default ${DEFAULT_CONCURRENCY})`, numberOption('--concurrency', { min: 1, max: 64 }))
    .option('--fail-fast', 'Stop starting new work at the first failed file')
    .option('--strict', 'Exit with code 5 when a file was written with warnings (default: warnings are shown, exit 0)')
    .option('--dry-run', 'Show what would be done (inputs, outputs, conflicts, tasks) without sending anything')
    .option('--no-wait', 'Do not wait for processing: print the task id (fetch it later with `iloveimg tasks download`)')
    .option('--api-debug', "Send the API's debug parameter: the server echoes what it received and processes nothing")
    .option('--resume', 'Skip inputs an earlier run of the same command already finished (from the run journal in the output directory)')
    .option('--skip-unchanged', 'Skip inputs whose content was already processed the same way and whose output is still there');
  if (opts.savings) {
    cmd.option('--min-savings <pct|size>', 'Keep the original unless the result is at least this much smaller (e.g. 5%, 20KB); default: any saving', parseSavings);
  }
  if (opts.then) {
    cmd.option('--then <step>', "Then run another tool on the results, as a connected task (repeatable), e.g. --then 'compress -l extreme'", (v: string, prev: string[] = []) => [...prev, v]);
  }
}

export function readRunOptions(cmd: Command): RunOptions {
  const o = cmd.optsWithGlobals();
  return {
    outputDir: o.outputDir,
    output: o.output,
    flat: Boolean(o.flat),
    inPlace: Boolean(o.inPlace),
    onConflict: (o.onConflict ?? 'error') as ConflictPolicy,
    recursive: Boolean(o.recursive),
    filesFrom: o.filesFrom ?? [],
    concurrency: o.concurrency,
    failFast: Boolean(o.failFast),
    strict: Boolean(o.strict),
    dryRun: Boolean(o.dryRun),
    noWait: o.wait === false,
    apiDebug: Boolean(o.apiDebug),
    then: o.then ?? [],
    resume: Boolean(o.resume),
    skipUnchanged: Boolean(o.skipUnchanged),
    minSavings: o.minSavings,
    suffix: o.suffix,
    name: o.name,
    keepDates: Boolean(o.keepDates),
    mode: o.json ? 'json' : o.ndjson ? 'ndjson' : 'human',
  };
}
