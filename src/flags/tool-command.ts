/**
 * Builds the command of one API tool from its row in the parameter table: its own flags, the per-file
 * and common API flags, the run options, help with the allowed values and real examples, and an
 * action that loads the batch machinery only when the command actually runs.
 */
import { Command } from 'commander';
import { toolByCommand } from '../protocol/tools.js';
import { connectionFlags, ioFor, type AppContext } from '../lib/context.js';
import { addRunOptions, readRunOptions } from './run-options.js';
import { addToolOptions, parseStep, readStep } from './tool-params.js';

export function createToolCommand(ctx: AppContext, name: string): Command {
  const spec = toolByCommand(name);
  if (!spec) throw new Error(`no tool named ${name} in src/protocol/tools.ts`);
  const cmd = new Command(spec.command)
    .description(spec.summary)
    .argument('[inputs...]', 'image files, globs (quoted or not), directories with -r, http(s) URLs, or - for stdin');
  addToolOptions(cmd, spec);
  addRunOptions(cmd, { savings: spec.tool === 'compressimage', then: true });
  cmd.addHelpText('after', `\nExamples:\n${spec.examples.map((e) => `  $ ${e}`).join('\n')}\n`);
  cmd.action(async (inputs: string[], _opts: unknown, self: Command) => {
    const { runTool } = await import('../run/run-tool.js');
    const first = await readStep(self, spec, ctx.cwd);
    const run = readRunOptions(self);
    // A webhook makes the server answer at once: the results are fetched later, like --no-wait.
    if (first.params.webhook !== undefined) run.noWait = true;
    const rest = [];
    for (const text of run.then) rest.push(await parseStep(text, ctx.cwd));
    await runTool(
      { io: ioFor(ctx, self), env: ctx.env, signal: ctx.signal, cwd: ctx.cwd },
      { spec, steps: [first, ...rest], inputs, run, connection: connectionFlags(self) },
    );
  });
  return cmd;
}
