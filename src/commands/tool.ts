/**
 * Every tool command (`iloveimg compress`, `resize`, …): one per row of src/protocol/tools.ts, built
 * from that row (flags, help, examples) by src/flags/tool-command.ts. The registry (index.ts) lists a
 * command for each row, so a new tool needs no command file of its own.
 */
import type { Command } from 'commander';
import type { AppContext } from '../lib/context.js';
import { createToolCommand } from '../flags/tool-command.js';

export default function create(ctx: AppContext, command: string): Command {
  return createToolCommand(ctx, command);
}
