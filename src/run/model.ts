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

/** How a run reports: lines for people, one JSON document, or one JSON line per event. */
export type OutputMode = 'human' | 'json' | 'ndjson';

export const DEFAULT_CONCURRENCY = 6;

export interface RunOptions {
  outputDir?: string;
  output?: string;
  flat: boolean;
  inPlace: boolean;
  onConflict: ConflictPolicy;
  recursive: boolean;
  filesFrom: string[];
  /** Unset when not given: the profile's default applies, then DEFAULT_CONCURRENCY (see run-tool.ts). */
  concurrency?: number;
  failFast: boolean;
  /** Exit 5 when a file was written with warnings. */
  strict: boolean;
  dryRun: boolean;
  noWait: boolean;
  apiDebug: boolean;
  then: string[];
  resume: boolean;
  skipUnchanged: boolean;
  minSavings?: { percent?: number; bytes?: number };
  /** The suffix of results written beside their inputs (default: the tool's, `-compressed`). */
  suffix?: string;
  /** The file name template of results (README "Outputs"). */
  name?: string;
  /** Give each result its input's modification time. */
  keepDates: boolean;
  mode: OutputMode;
}
