/**
 * `generate(shell, program)`: the completion script of one shell, rendered from the model that
 * model.ts reads off the program tree and the parameter table. Deterministic: the same program gives
 * the same bytes, so the committed scripts in completions/ can be checked for staleness.
 */
import type { Command } from 'commander';
import { bashScript } from './bash.js';
import { fishScript } from './fish.js';
import { buildModel, SHELLS, type Shell } from './model.js';
import { powershellScript } from './powershell.js';
import { zshScript } from './zsh.js';

export { SHELLS, type Shell } from './model.js';

/** Where `npm run completions` writes each script, inside completions/. */
export const COMPLETION_FILES: Record<Shell, (bin: string) => string> = {
  bash: (bin) => `${bin}.bash`,
  zsh: (bin) => `_${bin}`,
  fish: (bin) => `${bin}.fish`,
  powershell: (bin) => `${bin}.ps1`,
};

export function generate(shell: Shell, program: Command): string {
  if (!SHELLS.includes(shell)) throw new Error(`no completion for shell ${shell}`);
  const model = buildModel(program);
  const text = { bash: bashScript, zsh: zshScript, fish: fishScript, powershell: powershellScript }[shell](model);
  return text.endsWith('\n') ? text : `${text}\n`;
}
