/** `iloveimg resize`: its flags, help and examples come from the 'resize' row of src/protocol/tools.ts. */
import type { Command } from 'commander';
import type { AppContext } from '../lib/context.js';
import { createToolCommand } from '../flags/tool-command.js';

export default function create(ctx: AppContext): Command {
  return createToolCommand(ctx, 'resize');
}
