/**
 * The entry point behind bin/iloveimg.js: real streams, the real environment, and Ctrl-C handling.
 *
 * The first Ctrl-C stops starting work: tasks already under way finish and are written (so a later
 * `--resume` never sends a file twice), the rest are reported as interrupted, the summary is printed,
 * and the exit code is 130. A second Ctrl-C quits at once: the open remote tasks are deleted (within
 * 1.5 s) and temporary files removed, so no partial file is ever left at a destination. SIGTERM does
 * the same at once (exit 143).
 */
import { readFileSync } from 'node:fs';
import { EXIT } from './lib/errors.js';
import { guardStream } from './lib/sanitize.js';
import { screenFor } from './lib/screen.js';

function version(): string {
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

/**
 * `iloveimg --help` and `iloveimg <command> --help`: the text the build rendered with commander at 80
 * columns (scripts/build-help.mjs → dist/help/), so help starts as fast as `--version`
 * (docs/performance.md), in a pipe and in a terminal alike. Only a terminal narrower than 80 columns, where
 * that text would wrap, or a missing file or one from another version, has commander render it.
 */
function prebuiltHelp(argv: string[]): string | undefined {
  if (process.stdout.isTTY && (process.stdout.columns ?? 80) < 80) return undefined;
  const isHelp = (a: string | undefined) => a === '--help' || a === '-h';
  const name = argv.length === 1 && isHelp(argv[0]) ? '_root' : argv.length === 2 && isHelp(argv[1]) && /^[a-z]+$/.test(argv[0]) ? argv[0] : undefined;
  if (!name) return undefined;
  let text: string;
  try {
    text = readFileSync(new URL(`./help/${name}.txt`, import.meta.url), 'utf8');
  } catch {
    return undefined;
  }
  const newline = text.indexOf('\n');
  return text.slice(0, newline) === version() ? text.slice(newline + 1) : undefined;
}

/**
 * Keeps V8's heap small, so the peak memory of a run stays flat in the number and size of the files
 * (bench row 4). By default V8 lets its young generation grow to 2 × 16 MB and lets garbage pile up in
 * the old one until it is up to 4 times the live data: a 1,000-file run reserved 75 MB of heap for 20 MB
 * in use. The young generation is kept at its starting size, and the old one grows by 30 % of the live
 * data between full collections. The collector reads both flags each time it sizes the heap, so setting
 * them here, before the program is loaded, takes effect (flags read only when the heap is set up, such as
 * --max-semi-space-size, would need a second process and cost start-up). Measurements and the options
 * weighed: docs/performance.md, "Memory". A user's own heap flags (node options, NODE_OPTIONS) win.
 */
async function boundHeap(): Promise<void> {
  const given = `${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`;
  if (/semi[-_]space|optimize[-_]for[-_]size|heap[-_]growing/.test(given)) return;
  const { setFlagsFromString } = await import('node:v8');
  setFlagsFromString('--semi-space-growth-factor=1 --heap-growing-percent=30');
}

/** Quits at once: the temporary files and directories of the run removed (at most 1.5 s), then exit. */
function hardExit(code: number): void {
  void import('./lib/cleanup.js')
    .then(({ hardExitCleanup }) => hardExitCleanup(1500))
    .finally(() => process.exit(code));
}

export async function main(argv: string[]): Promise<number> {
  // `--version` alone needs nothing but package.json: answer before loading the program.
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
    process.stdout.write(`${version()}\n`);
    return EXIT.OK;
  }
  const help = prebuiltHelp(argv);
  if (help !== undefined) {
    process.stdout.write(help);
    return EXIT.OK;
  }
  await boundHeap();
  const { run } = await import('./cli.js');
  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts === 1) {
      // Through the screen, so the line lands above the progress bar instead of inside it.
      screenFor(guardStream(process.stderr)).line('interrupting: finishing the tasks under way, starting no new ones; press Ctrl-C again to quit at once');
      controller.abort(new Error('interrupted'));
      return;
    }
    if (interrupts > 2) return;
    hardExit(EXIT.INTERRUPTED);
  };
  // SIGTERM (kill, timeout, a service manager) asks to stop, not to finish: it quits at once like a
  // second Ctrl-C, with exit code 143 (128 + 15).
  const onSigterm = () => {
    interrupts = 2;
    controller.abort(new Error('terminated'));
    hardExit(EXIT.TERMINATED);
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
  // `iloveimg --help | head`: the reader went away; that is not an error worth a stack trace.
  const onPipeError = (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(controller.signal.aborted ? EXIT.INTERRUPTED : EXIT.OK);
    throw e;
  };
  process.stdout.on('error', onPipeError);
  try {
    const code = await run(argv, {
      env: process.env,
      cwd: process.cwd(),
      stdout: process.stdout,
      stderr: process.stderr,
      stdin: process.stdin,
      signal: controller.signal,
      version: version(),
    });
    return controller.signal.aborted && code !== EXIT.OK ? EXIT.INTERRUPTED : code;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
  }
}
