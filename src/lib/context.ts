/**
 * What every command receives from the entry point: the process's streams, environment and working
 * directory, and the signal that Ctrl-C aborts. Tests build one with their own streams and run the
 * program in-process (docs/architecture.md principle 4).
 */
import type { Command, OptionValues } from 'commander';
import type { Writable } from 'node:stream';
import { createIO, type IO } from './io.js';

export interface AppContext {
  env: NodeJS.ProcessEnv;
  cwd: string;
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream;
  signal: AbortSignal;
  version: string;
  /** The raw arguments, for the rare command that needs what commander drops (`chain`'s `--`). */
  argv?: string[];
}

/** The IO for a command, from the global flags (--json, --ndjson, --quiet, --verbose). */
export function ioFor(ctx: AppContext, cmd: Command): IO {
  const o = cmd.optsWithGlobals();
  return createIO({
    stdout: ctx.stdout,
    stderr: ctx.stderr,
    stdin: ctx.stdin,
    env: ctx.env,
    quiet: Boolean(o.quiet),
    verbose: Boolean(o.verbose),
    machine: Boolean(o.json || o.ndjson),
  });
}

/**
 * The root program's options as parsed, with the command's own (a tool's `--file-encryption-key`),
 * for src/account/connection.ts, which reads the settings it knows by name (the table in
 * src/account/global-options.ts): a new global option does not touch this file. An option of the root
 * is always the root's, so a command's own option of the same name (`tasks wait --timeout`, in
 * seconds) never stands in for it.
 */
export function connectionFlags(cmd: Command): OptionValues {
  let root = cmd;
  while (root.parent) root = root.parent;
  const rootOptions = root.options.map((o) => o.attributeName());
  return { ...cmd.optsWithGlobals(), ...Object.fromEntries(rootOptions.map((name) => [name, root.getOptionValue(name)])) };
}
