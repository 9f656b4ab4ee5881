/**
 * A command with subcommands (`profiles`, `config`). Subcommands made with `.command()` copy their
 * parent's settings when they are created, so the parent gets the program's error and output
 * handling first: a bad argument to `config set` then throws (exit 2 from src/cli.ts) and prints
 * to the context's streams, instead of commander calling process.exit on its own.
 */
import { Command } from 'commander';
import type { AppContext } from '../lib/context.js';

export function nested(ctx: AppContext, name: string): Command {
  return new Command(name)
    .exitOverride()
    .helpOption('-h, --help', 'Show help')
    .configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: (s) => ctx.stderr.write(s),
      outputError: (s, write) => write(s.endsWith('\n') ? s : `${s}\n`),
    });
}
