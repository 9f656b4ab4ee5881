/**
 * The one list of commands, in help order and groups. Each module exports a factory that builds its
 * command declaratively; heavy work is imported inside the actions.
 */
import type { Command } from 'commander';
import type { AppContext } from '../lib/context.js';
import compress from './compress.js';
import resize from './resize.js';
import crop from './crop.js';
import convert from './convert.js';
import watermark from './watermark.js';
import rotate from './rotate.js';
import repair from './repair.js';
import upscale from './upscale.js';
import removebackground from './removebackground.js';
import serve from './serve.js';
import chain from './chain.js';
import tasks from './tasks.js';
import login from './login.js';
import logout from './logout.js';
import profiles from './profiles.js';
import config from './config.js';
import quota from './quota.js';
import completion from './completion.js';

export interface CommandGroup {
  heading: string;
  commands: ((ctx: AppContext) => Command)[];
}

export const registry: CommandGroup[] = [
  { heading: 'Tools', commands: [compress, resize, crop, convert, watermark, rotate, repair, upscale, removebackground] },
  { heading: 'Pipelines', commands: [chain] },
  { heading: 'Tasks', commands: [tasks] },
  { heading: 'Account', commands: [login, logout, profiles, config, quota] },
  { heading: 'Engine', commands: [serve] },
  { heading: 'Shell', commands: [completion] },
];
