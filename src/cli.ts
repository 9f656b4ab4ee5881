/**
 * The program: the command tree, the global options, and the one place that turns errors into exit
 * codes. `run()` returns the code; only bin/iloveimg.js sets it on the process, so tests can run the
 * whole program in-process.
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { ApiError, AuthenticationError } from './api/errors.js';
import { GLOBAL_OPTIONS, environmentHelp, flagHelp, longFlag, type GlobalOption } from './account/global-options.js';
import type { AppContext } from './lib/context.js';
import { CliError, EXIT, EXIT_CODE_HELP, UsageError } from './lib/errors.js';
import { registry } from './commands/index.js';
import { numberOption } from './flags/number-option.js';
import { addSecret, cleanText, guardStream } from './lib/sanitize.js';
import { screenFor } from './lib/screen.js';
import { didYouMean } from './flags/suggest.js';

/** The `Environment:` part of the root help, from the table of global settings. */
export const ENV_HELP = environmentHelp();

/** Root options that take a value, so that `--profile work compress …` still finds `compress`. */
const VALUE_OPTIONS = new Set(GLOBAL_OPTIONS.filter((o) => o.flags?.includes('<')).map(longFlag));

/** How a root option's value is read (its row's `parse`): a bad value is a usage error naming the flag. */
function parserOf(o: GlobalOption): ((v: string) => unknown) | undefined {
  const flag = longFlag(o)!;
  if (o.parse === 'seconds') return (v) => seconds(v, flag);
  return o.parse ? numberOption(flag, o.parse) : undefined;
}

/** The command named in argv, if it is one of ours and can be built alone. */
function singleCommand(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') return undefined;
    if (VALUE_OPTIONS.has(a)) {
      i++;
      continue;
    }
    if (a.startsWith('-')) continue;
    const entry = registry.flatMap((g) => g.commands).find((c) => c.name === a);
    return entry && !entry.needsAll ? entry.name : undefined;
  }
  return undefined;
}

/**
 * The program with every command, or with only `only` (what `run` does when argv names a command, to
 * keep start-up to the modules that command needs).
 */
export async function buildProgram(ctx: AppContext, only?: string): Promise<Command> {
  const program = new Command('iloveimg')
    .description('Batch-process images with the iLoveIMG API, or offline with the built-in engine')
    .version(ctx.version, '-V, --version', 'Print the version')
    .helpOption('-h, --help', 'Show help')
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: (s) => ctx.stderr.write(s),
      outputError: (s, write) => write(s.endsWith('\n') ? s : `${s}\n`),
    })
    .exitOverride();

  for (const o of GLOBAL_OPTIONS) {
    if (!o.flags) continue;
    program.optionsGroup(`${o.group ?? 'Connection'}:`);
    const parse = parserOf(o);
    if (parse) program.option(o.flags, flagHelp(o), parse);
    else program.option(o.flags, flagHelp(o));
  }

  // Global flags that contradict each other are usage errors, not a silent pick of one.
  program.hook('preAction', (_root, action) => {
    const o = action.optsWithGlobals();
    if (o.json && o.ndjson) throw new UsageError('--json and --ndjson cannot be used together', 'Pick one: --json prints one document at the end, --ndjson one line per event.');
    if (o.quiet && o.verbose) throw new UsageError('-q/--quiet and -v/--verbose cannot be used together');
  });

  const groups = registry.map((g) => ({ heading: g.heading, commands: g.commands.filter((c) => !only || c.name === only) }));
  const loaded = await Promise.all(groups.map((g) => Promise.all(g.commands.map((c) => c.load()))));
  groups.forEach((group, i) => {
    if (group.commands.length === 0) return;
    program.commandsGroup(`${group.heading}:`);
    for (const mod of loaded[i]) program.addCommand(configureTree(mod.default(ctx), ctx));
  });
  program.addHelpText('after', `\n${EXIT_CODE_HELP}\n\n${ENV_HELP}\n`);
  return program;
}

/**
 * Gives a command and every subcommand below it (`tasks list`, `config set`, …) the program's error
 * and output handling: errors throw to run() (which picks the exit code) instead of commander calling
 * process.exit, and everything is written to the context's streams.
 */
function configureTree(cmd: Command, ctx: AppContext): Command {
  cmd
    .exitOverride()
    .helpOption('-h, --help', 'Show help')
    .configureHelp({ showGlobalOptions: true })
    .configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: (s) => ctx.stderr.write(s),
      outputError: (s, write) => write(s.endsWith('\n') ? s : `${s}\n`),
    });
  for (const sub of cmd.commands) configureTree(sub, ctx);
  return cmd;
}

function seconds(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${flag} must be a positive number of seconds`);
  return Math.round(n * 1000);
}

/** Runs the program on `argv` (without node and the script) and returns the exit code. */
export async function run(argv: string[], ctx: AppContext): Promise<number> {
  ctx.argv ??= argv;
  // No secret and no token is ever printed, whatever its origin (README "Security").
  addSecret(ctx.env.ILOVEIMG_SECRET_KEY);
  addSecret(ctx.env.ILOVEIMG_FILE_ENCRYPTION_KEY);
  argv.forEach((a, i) => (a === '--secret-key' || a === '--file-encryption-key' ? addSecret(argv[i + 1]) : undefined));
  ctx.stdout = guardStream(ctx.stdout);
  ctx.stderr = guardStream(ctx.stderr);
  try {
    // `help <typo>`: commander would print the top help and exit 0; say what is wrong instead.
    const names = registry.flatMap((g) => g.commands.map((c) => c.name));
    if (argv[0] === 'help' && argv[1] && !argv[1].startsWith('-') && !names.includes(argv[1])) {
      const guess = didYouMean(argv[1], names);
      throw new UsageError(`unknown command '${argv[1]}'${guess ? `; did you mean ${guess}?` : ''}`, 'Run `iloveimg --help` for the list of commands.');
    }
    const program = await buildProgram(ctx, singleCommand(argv));
    await program.parseAsync(argv, { from: 'user' });
    return EXIT.OK;
  } catch (e) {
    return reportError(e, ctx, argv.includes('-v') || argv.includes('--verbose'));
  }
}

function reportError(e: unknown, ctx: AppContext, verbose: boolean): number {
  const err = (s: string) => screenFor(ctx.stderr).line(s);
  if (e instanceof CommanderError) {
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT.OK;
    // commander has already printed its message (an unknown option, a bad value, …).
    if (e.code !== 'commander.executeSubCommandAsync') err('Run with --help for usage.');
    return EXIT.USAGE;
  }
  if (e instanceof CliError) {
    err(`error: ${e.message}`);
    if (e.hint) err(e.hint);
    if (verbose && e.stack && !(e instanceof UsageError)) err(e.stack);
    return e.exitCode;
  }
  if (e instanceof ApiError) {
    err(`error: ${cleanText(e.message)}${e.status ? ` (HTTP ${e.status}, ${e.step})` : ''}`);
    if (e instanceof AuthenticationError) {
      err('Check your keys (`iloveimg config list`), or run `iloveimg login`.');
      return EXIT.AUTH;
    }
    return EXIT.ERROR;
  }
  if ((e as Error)?.name === 'AbortError' || ctx.signal.aborted) {
    err('interrupted');
    return EXIT.INTERRUPTED;
  }
  err(`error: ${cleanText((e as Error)?.message ?? String(e))}`);
  if (verbose && (e as Error)?.stack) err((e as Error).stack!);
  else err('Run again with --verbose for details.');
  return EXIT.ERROR;
}
