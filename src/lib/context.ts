/**
 * What every command receives from the entry point: the process's streams, environment and working
 * directory, and the signal that Ctrl-C aborts. Tests build one with their own streams and run the
 * program in-process (docs/architecture.md principle 4).
 */
import type { Command } from 'commander';
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

/** The connection flags of the root program, for src/account/connection.ts. */
export function connectionFlags(cmd: Command) {
  const o = cmd.optsWithGlobals();
  return {
    apiUrl: o.apiUrl as string | undefined,
    publicKey: o.publicKey as string | undefined,
    secretKey: o.secretKey as string | undefined,
    local: Boolean(o.local),
    profile: o.profile as string | undefined,
    configDir: o.configDir as string | undefined,
    fileEncryptionKey: o.fileEncryptionKey as string | undefined,
    timeout: o.timeout as number | undefined,
    idleTimeout: o.idleTimeout as number | undefined,
    retries: o.retries as number | undefined,
  };
}
