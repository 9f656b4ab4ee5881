/**
 * The one I/O abstraction handed to commands: data goes to stdout, everything a person reads goes to
 * stderr, and the presentation is decided from the terminal and the flags, never by sniffing argv
 * (docs/architecture.md principles 4–7).
 */
import type { Writable } from 'node:stream';
import { screenFor, type Screen } from './screen.js';

export interface IO {
  stdout: Writable;
  stderr: Writable;
  stdin: NodeJS.ReadableStream;
  /** stderr is a terminal and neither --json, --ndjson nor --quiet was given: animate. */
  interactive: boolean;
  color: boolean;
  quiet: boolean;
  verbose: boolean;
  /** A human line on stderr (suppressed by --quiet). */
  info(line: string): void;
  /** A warning on stderr (shown even with --quiet). */
  warn(line: string): void;
  /** A line on stderr shown even with --quiet (failures, a summary with failures). */
  error(line: string): void;
  /** The one writer of stderr text and the progress bar (src/lib/screen.ts). */
  screen: Screen;
  /** Exactly one JSON document plus a newline on stdout. */
  json(value: unknown): void;
  /** One NDJSON event on stdout. */
  event(value: unknown): void;
}

export interface IOOptions {
  stdout?: Writable & { isTTY?: boolean };
  stderr?: Writable & { isTTY?: boolean };
  stdin?: NodeJS.ReadableStream;
  env?: NodeJS.ProcessEnv;
  quiet?: boolean;
  verbose?: boolean;
  machine?: boolean;
}

export function createIO(opts: IOOptions = {}): IO {
  const stdout = opts.stdout ?? process.stdout;
  const stderr = opts.stderr ?? process.stderr;
  const env = opts.env ?? process.env;
  const tty = Boolean((stderr as { isTTY?: boolean }).isTTY) && env.TERM !== 'dumb';
  const color = tty && env.NO_COLOR === undefined && env.FORCE_COLOR !== '0';
  const quiet = Boolean(opts.quiet);
  const paint = (code: string, s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const screen = screenFor(stderr);
  return {
    stdout,
    stderr,
    stdin: opts.stdin ?? process.stdin,
    interactive: tty && !quiet && !opts.machine && env.CI !== 'true',
    color,
    quiet,
    verbose: Boolean(opts.verbose),
    screen,
    info(line) {
      if (!quiet) screen.line(line);
    },
    warn(line) {
      screen.line(`${paint('33', 'warning:')} ${line}`);
    },
    error(line) {
      screen.line(line);
    },
    json(value) {
      stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    },
    event(value) {
      stdout.write(`${JSON.stringify(value)}\n`);
    },
  };
}

/** 1234567 → "1.2 MB" */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return '?';
  const abs = Math.abs(n);
  if (abs < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n / 1000;
  let i = 0;
  while (Math.abs(v) >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}
