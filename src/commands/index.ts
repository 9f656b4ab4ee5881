/**
 * The one list of commands, in help order and groups. Each entry loads its module only when needed:
 * `iloveimg compress …` builds just `compress` (start-up time matters to a CLI run from Makefiles),
 * while the root help, `help` and `completion` build the whole tree.
 */
import type { Command } from 'commander';
import type { AppContext } from '../lib/context.js';

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

export const registry: CommandGroup[] = [
  {
    heading: 'Tools',
    commands: [
      { name: 'compress', load: () => import('./compress.js') },
      { name: 'resize', load: () => import('./resize.js') },
      { name: 'crop', load: () => import('./crop.js') },
      { name: 'convert', load: () => import('./convert.js') },
      { name: 'watermark', load: () => import('./watermark.js') },
      { name: 'rotate', load: () => import('./rotate.js') },
      { name: 'repair', load: () => import('./repair.js') },
      { name: 'upscale', load: () => import('./upscale.js') },
      { name: 'removebackground', load: () => import('./removebackground.js') },
    ],
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
