/**
 * `iloveimg chain <step>... -- <inputs>`: several tools run as connected tasks (`/task/next`), each
 * file uploaded once and only the last result downloaded. The same as `<tool> --then …`, written as a
 * list of steps, or read from a committed pipeline file (`--file pipeline.json`).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Command } from 'commander';
import { connectionFlags, ioFor, type AppContext } from '../lib/context.js';
import { UsageError } from '../lib/errors.js';
import { addRunOptions, readRunOptions } from '../flags/run-options.js';
import { flagFor } from '../flags/tool-flags.js';
import { TOOLS, toolByCommand, toolByName } from '../protocol/tools.js';

export default function create(ctx: AppContext): Command {
  const cmd = new Command('chain')
    .description('Run several tools in a row on the same files, uploading each file once')
    .argument('[steps-and-inputs...]', "quoted steps ('resize -p 50' 'compress'), then -- and the inputs")
    .option('-f, --file <pipeline.json>', 'Read the steps from a JSON file: {"steps": ["resize -p 50", {"tool": "compress", "params": {…}}]}');
  addRunOptions(cmd);
  return cmd
    .addHelpText(
      'after',
      `
Examples:
  $ iloveimg chain -o out/ 'resize -p 50' 'compress -l extreme' -- 'photos/*.jpg'
  $ iloveimg chain 'resize -w 1200' 'watermark --text "© 2026" --gravity SouthEast' -- shots/*.png
  $ iloveimg chain --file pipeline.json -o web/ 'img/**/*.jpg'

Options go before the --: everything after it is an input.
`,
    )
    .action(async (words: string[], opts: { file?: string }, self: Command) => {
      const { runTool } = await import('../run/run-tool.js');
      const { parseStep } = await import('../flags/tool-params.js');
      const { stepTexts, inputs } = opts.file ? { stepTexts: await readPipeline(path.resolve(ctx.cwd, opts.file)), inputs: words } : splitAtDashes(words, ctx.argv ?? []);
      if (stepTexts.length === 0) throw new UsageError('chain: no steps given', "Example: iloveimg chain 'resize -p 50' 'compress' -- photos/*.jpg");
      const steps = [];
      for (const text of stepTexts) steps.push(await parseStep(text, ctx.cwd));
      const run = readRunOptions(self);
      const spec = toolByName(steps[0].tool)!;
      await runTool({ io: ioFor(ctx, self), env: ctx.env, signal: ctx.signal, cwd: ctx.cwd }, { spec, steps, inputs, run, connection: connectionFlags(self) });
    });
}

/**
 * commander drops the `--` that separates steps from inputs, so the boundary is found in the raw
 * argv: everything after `chain`'s `--` is an input, everything before it that is not an option is a step.
 */
function splitAtDashes(words: string[], argv: string[]): { stepTexts: string[]; inputs: string[] } {
  const dashes = argv.indexOf('--', Math.max(0, argv.indexOf('chain')));
  if (dashes < 0) throw new UsageError('chain: put -- between the steps and the inputs', "Example: iloveimg chain 'resize -p 50' 'compress' -- photos/*.jpg");
  const inputCount = argv.length - dashes - 1;
  const stepWords = words.slice(0, words.length - inputCount);
  return { stepTexts: stepWords, inputs: words.slice(words.length - inputCount) };
}

async function readPipeline(file: string): Promise<(string | string[])[]> {
  const text = await readFile(file, 'utf8').catch(() => {
    throw new UsageError(`--file ${file}: cannot read this file`);
  });
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--file ${file}: not valid JSON (${(e as Error).message})`);
  }
  const steps = Array.isArray(doc) ? doc : (doc as { steps?: unknown })?.steps;
  if (!Array.isArray(steps) || steps.length === 0) throw new UsageError(`--file ${file}: expected {"steps": [...]} with at least one step`);
  return steps.map((step, i) => {
    if (typeof step === 'string') return step;
    const s = step as { tool?: string; params?: Record<string, unknown> };
    const spec = s?.tool ? (toolByCommand(s.tool) ?? toolByName(s.tool)) : undefined;
    if (!spec) throw new UsageError(`--file ${file}: step ${i + 1} needs "tool" (${TOOLS.map((t) => t.command).join(', ')})`);
    const words = [spec.command];
    for (const [key, value] of Object.entries(s.params ?? {})) {
      if (typeof value === 'boolean') {
        // `no_enlarge_if_smaller: true` is the flag `--no-enlarge-if-smaller` (flagFor).
        const { flag, inverted } = flagFor(key);
        const on = inverted ? !value : value;
        words.push(`--${on ? '' : 'no-'}${flag}`);
      } else {
        words.push(`--${flagFor(key).flag}`, typeof value === 'object' ? JSON.stringify(value) : String(value));
      }
    }
    return words;
  });
}
