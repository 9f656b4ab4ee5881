/**
 * The types and constants the rest of the CLI shares with the batch run: what a step sends, what a
 * run reports per file, the events a reporter receives, the options of a run. Flag parsing
 * (`src/flags/`) and commands import them from here, never from the runner itself.
 */
import type { ToolName } from '../protocol/tools.js';
import type { InputItem } from './inputs.js';
import type { PlannedOutput } from './outputs.js';

/** One input of a run and the destination planned for it. */
export interface Job {
  item: InputItem;
  plan: PlannedOutput;
}

export interface PipelineStep {
  tool: ToolName;
  /** Typed tool and common parameters, API names. */
  params: Record<string, unknown>;
  /** Per-file `rotate` and `password`, sent in each entry of this step's `files[]`. */
  fileParams: { rotate?: number; password?: string };
  /** Local stamp images (watermark) that elements reference by path: uploaded into the step's task. */
  stampFiles?: string[];
}

export type FileStatus = 'ok' | 'failed' | 'skipped';

export interface FileReport {
  input: string;
  output?: string;
  status: FileStatus;
  inputBytes: number;
  outputBytes?: number;
  error?: { type: string; message: string };
  /** Why an ok-looking file was skipped, e.g. "result not smaller; kept the original". */
  note?: string;
  /** What the server or the CLI flagged about an ok result (TaskSuccessWithWarnings, a resize that could not enlarge, …). */
  warnings?: string[];
  task?: string;
}

export type Stage = 'queued' | 'uploading' | 'processing' | 'downloading' | 'done';

export interface BatchEvents {
  onStage?(item: InputItem, stage: Stage): void;
  onUploaded?(bytes: number): void;
  onFile?(report: FileReport): void;
  onTask?(task: { task: string; server: string; tool: string }): void;
}

/** What to do when a destination exists (`--on-conflict`). */
export type ConflictPolicy = 'error' | 'skip' | 'overwrite' | 'rename';
export const CONFLICT_POLICIES: readonly ConflictPolicy[] = ['error', 'skip', 'overwrite', 'rename'];

/** `--min-savings`: a share of the input (percent) or a number of bytes a result must save. */
export interface MinSavings {
  percent?: number;
  bytes?: number;
}

/** How a run reports: lines for people, one JSON document, or one JSON line per event. */
export type OutputMode = 'human' | 'json' | 'ndjson';

export const DEFAULT_CONCURRENCY = 6;

/**
 * The options of a run, one row each (the flags every batch command shares: inputs, outputs, how to run,
 * how to report). `src/flags/run-options.ts` builds the commander options from the rows and reads them
 * back; `RunOptions` is derived from them. Adding a run option is its row here and the place where it
 * takes effect (docs/architecture.md, "How to add a flag").
 *
 * kind: `boolean` (a switch), `negated` (`--no-x`: true when given), `string` (unset when not given),
 * `list` (repeatable, [] when not given), `choice` (one of `choices`, else `default`), `count` (a whole
 * number in [min, max], unset when not given), `savings` (`--min-savings`). `parse: 'suffix'` checks a
 * name suffix. `only`: the option exists only where the command asks for it (`compress`'s savings, `--then`).
 */
export interface RunOptionRow {
  key: string;
  flags: string;
  help: string;
  kind: 'boolean' | 'negated' | 'string' | 'list' | 'choice' | 'count' | 'savings';
  choices?: readonly string[];
  default?: string;
  min?: number;
  max?: number;
  parse?: 'suffix';
  only?: 'savings' | 'then';
}

export const RUN_OPTIONS = [
  { key: 'outputDir', flags: '-o, --output-dir <dir>', kind: 'string', help: 'Write results here, mirroring the input tree (default: beside each input, with a suffix)' },
  { key: 'output', flags: '-O, --output <file>', kind: 'string', help: 'Write the single result to this file (one input, or convert --to gif_animation)' },
  { key: 'flat', flags: '--flat', kind: 'boolean', help: 'With -o: put every result directly in the directory instead of mirroring the input tree' },
  { key: 'inPlace', flags: '--in-place', kind: 'boolean', help: 'Replace each input with its result (atomically)' },
  // The suffix of results written beside their inputs (default: the tool's, `-compressed`).
  { key: 'suffix', flags: '--suffix <text>', kind: 'string', parse: 'suffix', help: "Suffix of results written beside their inputs (default: the tool's, e.g. photo-compressed.jpg)" },
  // The file name template of results (README "Outputs").
  { key: 'name', flags: '--name <template>', kind: 'string', help: "File name of each result: {name} (input name without extension), {ext}, {tool}, {n} (1, 2, …), e.g. '{name}.min.{ext}'" },
  { key: 'keepDates', flags: '--keep-dates', kind: 'boolean', help: "Give each result its input's modification time" },
  { key: 'onConflict', flags: '--on-conflict <policy>', kind: 'choice', choices: CONFLICT_POLICIES, default: 'error', help: 'What to do when a destination exists' },
  { key: 'recursive', flags: '-r, --recursive', kind: 'boolean', help: 'Process the images inside directory arguments, recursively' },
  { key: 'filesFrom', flags: '--files-from <file>', kind: 'list', help: 'Read input names from a file, one a line or NUL-separated (- for stdin)' },
  // Unset when not given: the profile's default applies, then DEFAULT_CONCURRENCY (see run-tool.ts).
  { key: 'concurrency', flags: '-j, --concurrency <n>', kind: 'count', min: 1, max: 64, help: `Tasks in flight at once, with twice as many uploads (default ${DEFAULT_CONCURRENCY})` },
  { key: 'failFast', flags: '--fail-fast', kind: 'boolean', help: 'Stop starting new work at the first failed file' },
  { key: 'strict', flags: '--strict', kind: 'boolean', help: 'Exit with code 5 when a file was written with warnings (default: warnings are shown, exit 0)' },
  { key: 'dryRun', flags: '--dry-run', kind: 'boolean', help: 'Show what would be done (inputs, outputs, conflicts, tasks) without sending anything' },
  { key: 'noWait', flags: '--no-wait', kind: 'negated', help: 'Do not wait for processing: print the task id (fetch it later with `iloveimg tasks download`)' },
  { key: 'apiDebug', flags: '--api-debug', kind: 'boolean', help: "Send the API's debug parameter: the server echoes what it received and processes nothing" },
  { key: 'resume', flags: '--resume', kind: 'boolean', help: 'Skip inputs an earlier run of the same command already finished (from the run journal in the output directory)' },
  { key: 'skipUnchanged', flags: '--skip-unchanged', kind: 'boolean', help: 'Skip inputs whose content was already processed the same way and whose output is still there' },
  { key: 'minSavings', flags: '--min-savings <pct|size>', kind: 'savings', only: 'savings', help: 'Keep the original unless the result is at least this much smaller (e.g. 5%, 20KB); default: any saving' },
  { key: 'then', flags: '--then <step>', kind: 'list', only: 'then', help: "Then run another tool on the results, as a connected task (repeatable), e.g. --then 'compress -l extreme'" },
] as const satisfies readonly RunOptionRow[];

type Row = (typeof RUN_OPTIONS)[number];
type ValueOf<R extends Row> = R['kind'] extends 'boolean' | 'negated'
  ? boolean
  : R['kind'] extends 'list'
    ? string[]
    : R extends { choices: readonly (infer C)[] }
      ? C
      : R['kind'] extends 'count'
        ? number
        : R['kind'] extends 'savings'
          ? MinSavings
          : string;
type AlwaysSet = Extract<Row, { kind: 'boolean' | 'negated' | 'list' | 'choice' }>;

/** A run's options as read from its flags (see RUN_OPTIONS), plus how it reports. */
export type RunOptions = { [R in AlwaysSet as R['key']]: ValueOf<R> } & { [R in Exclude<Row, AlwaysSet> as R['key']]?: ValueOf<R> } & {
  mode: OutputMode;
};
