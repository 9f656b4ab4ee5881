/**
 * The one list of commands, in help order and groups; the tools are the rows of the tool table
 * (src/protocol/tools.ts), each built by `tool.ts`. Each entry loads its module only when needed:
 * `iloveimg compress …` builds just `compress` (start-up time matters to a CLI run from Makefiles),
 * while the root help, `help` and `completion` build the whole tree.
 */
import type { Command } from 'commander';
import type { AppContext } from '../lib/context.js';
import { TOOLS, type ToolSpec } from '../protocol/tools.js';

type Factory = (ctx: AppContext) => Command;

export interface CommandEntry {
  name: string;
  load: () => Promise<{ default: Factory }>;
  /** Commands that read the whole program tree (completion scripts are generated from it). */
  needsAll?: boolean;
}

export interface CommandGroup {
  heading: string;
  commands: CommandEntry[];
}

/** The table's rows in help order: the table's own, except a row that says `helpAfter` another command. */
function inHelpOrder(tools: readonly ToolSpec[]): ToolSpec[] {
  const ordered = tools.filter((t) => !t.helpAfter);
  for (const t of tools) if (t.helpAfter) ordered.splice(ordered.findIndex((o) => o.command === t.helpAfter) + 1, 0, t);
  return ordered;
}

export const registry: CommandGroup[] = [
  {
    heading: 'Tools',
    commands: inHelpOrder(TOOLS).map((t) => ({
      name: t.command,
      load: async () => {
        const { default: create } = await import('./tool.js');
        return { default: (ctx: AppContext) => create(ctx, t.command) };
      },
    })),
  },
  { heading: 'Pipelines', commands: [{ name: 'chain', load: () => import('./chain.js') }] },
  { heading: 'Tasks', commands: [{ name: 'tasks', load: () => import('./tasks.js') }] },
  {
    heading: 'Account',
    commands: [
      { name: 'login', load: () => import('./login.js') },
      { name: 'logout', load: () => import('./logout.js') },
      { name: 'profiles', load: () => import('./profiles.js') },
      { name: 'config', load: () => import('./config.js') },
      { name: 'quota', load: () => import('./quota.js') },
    ],
  },
  { heading: 'Engine', commands: [{ name: 'serve', load: () => import('./serve.js') }] },
  { heading: 'Shell', commands: [{ name: 'completion', load: () => import('./completion.js'), needsAll: true }] },
];
