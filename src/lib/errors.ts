/**
 * CLI error classes, typed by what the user can do about them, and the one exit-code table.
 * Commands throw these; only src/cli.ts turns them into an exit code (docs/architecture.md principle 8, 9).
 */

/** The exit codes, documented in the README and in `iloveimg --help`. Never reuse a number. */
export const EXIT = {
  OK: 0,
  ERROR: 1,
  USAGE: 2,
  PARTIAL: 3,
  AUTH: 4,
  WARNINGS: 5,
  INTERRUPTED: 130,
  TERMINATED: 143,
} as const;

export const EXIT_CODE_HELP = `Exit codes:
  0    every file succeeded (or was intentionally skipped)
  1    error (network, server, file system)
  2    usage error: a bad flag, value or input, found before anything was sent
  3    some files failed; the others were written
  4    authentication failed (missing or rejected keys)
  5    --strict: every file was written, but some with warnings
  130  interrupted (Ctrl-C)
  143  terminated (SIGTERM): stopped at once, temporary files removed`;

export class CliError extends Error {
  readonly exitCode: number = EXIT.ERROR;
  /** A hint printed after the message, e.g. what to run next. */
  hint?: string;
  constructor(message: string, hint?: string) {
    super(message);
    this.name = new.target.name;
    this.hint = hint;
  }
}

/** Bad flags, values or inputs: exit 2. */
export class UsageError extends CliError {
  override readonly exitCode = EXIT.USAGE;
}

/** Missing or rejected credentials: exit 4. */
export class AuthError extends CliError {
  override readonly exitCode = EXIT.AUTH;
}

/** Some files of a batch failed; the report has already been printed: exit 3. */
export class PartialFailureError extends CliError {
  override readonly exitCode = EXIT.PARTIAL;
}

/** The run was interrupted by a signal: exit 130. */
export class InterruptedError extends CliError {
  override readonly exitCode = EXIT.INTERRUPTED;
}

/** --strict and a file was written with warnings (TaskSuccessWithWarnings, a resize that could not enlarge): exit 5. */
export class StrictWarningsError extends CliError {
  override readonly exitCode = EXIT.WARNINGS;
}
