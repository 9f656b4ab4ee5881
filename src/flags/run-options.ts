/**
 * The options every batch command shares (tool commands and `chain`): inputs, outputs, how to run,
 * and how to report. Their rows are RUN_OPTIONS (`src/run/model.ts`); commander options are built from
 * the rows and read back here, so each command file stays declarative.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { numberOption } from './number-option.js';
import { RUN_OPTIONS, type MinSavings, type RunOptionRow, type RunOptions } from '../run/model.js';

/** `10%`, `50KB`, `2000` (bytes) → {percent} or {bytes}. */
export function parseSavings(raw: string): MinSavings {
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

/** A suffix of result names: not empty, no slashes. */
function parseSuffix(v: string): string {
  if (!v || /[/\\]/.test(v)) throw new InvalidArgumentError('give a non-empty suffix without slashes');
  return v;
}

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

function optionOf(row: RunOptionRow): Option {
  const opt = new Option(row.flags, row.help);
  if (row.kind === 'choice') opt.choices(row.choices ?? []).default(row.default);
  else if (row.kind === 'count') opt.argParser(numberOption(opt.long ?? row.flags, { min: row.min ?? 1, max: row.max }));
  else if (row.kind === 'list') opt.argParser(collect);
  else if (row.kind === 'savings') opt.argParser(parseSavings);
  else if (row.parse === 'suffix') opt.argParser(parseSuffix);
  return opt;
}

/** Adds the rows of RUN_OPTIONS to a batch command; `savings` and `then` add the rows only some commands have. */
export function addRunOptions(cmd: Command, opts: { savings?: boolean; then?: boolean } = {}): void {
  for (const row of RUN_OPTIONS as readonly RunOptionRow[]) {
    if (row.only === undefined || opts[row.only]) cmd.addOption(optionOf(row));
  }
}

/** The run options back from the parsed flags, by row: a switch is a boolean, a list [] when absent. */
export function readRunOptions(cmd: Command): RunOptions {
  const o = cmd.optsWithGlobals();
  const run: Record<string, unknown> = { mode: o.json ? 'json' : o.ndjson ? 'ndjson' : 'human' };
  for (const row of RUN_OPTIONS as readonly RunOptionRow[]) {
    const value = o[new Option(row.flags).attributeName()];
    if (row.kind === 'boolean') run[row.key] = Boolean(value);
    else if (row.kind === 'negated') run[row.key] = value === false;
    else if (row.kind === 'list') run[row.key] = value ?? [];
    else if (row.kind === 'choice') run[row.key] = value ?? row.default;
    else run[row.key] = value;
  }
  return run as RunOptions;
}
