/**
 * The engine's tool table, derived from the tool table (src/protocol/tools.ts): the implementation of
 * each row is `src/engine/<command>.ts` (e.g. `compress.ts` for `compressimage`), exporting `tool`, so
 * a new tool needs its row and that one file. Importing it is cheap: no module of src/engine loads
 * sharp at top level (each tool loads it through common.ts `loadSharp()` when it runs), and only the
 * server imports this, so the CLI's --help does not pay for it.
 */
import { TOOLS, type ToolName } from '../protocol/tools.js';
import type { ToolImpl } from './types.js';

export { EngineError } from './types.js';
export type { EngineContext, EngineInput, EngineOutput, ToolImpl, ToolParams } from './types.js';

async function load(command: string): Promise<ToolImpl> {
  // A path built from the table's row; the comment keeps vite (the tests) from warning about it.
  const mod = (await import(/* @vite-ignore */ `./${command}.js`)) as { tool?: ToolImpl };
  if (!mod.tool) throw new Error(`src/engine/${command}.ts exports no tool`);
  return mod.tool;
}

export const ENGINE_TOOLS = Object.fromEntries(await Promise.all(TOOLS.map(async (t) => [t.tool, await load(t.command)] as const))) as Record<ToolName, ToolImpl>;
