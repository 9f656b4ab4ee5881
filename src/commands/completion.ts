/**
 * `iloveimg completion <shell>`: prints a completion script generated from this very program (its
 * commands, options and the parameter table's allowed values), so it cannot drift from the flags.
 * It installs nothing and edits no rc file: the help says where to put the script.
 */
import { Argument, Command } from 'commander';
import type { AppContext } from '../lib/context.js';

const SHELL_NAMES = ['bash', 'zsh', 'fish', 'powershell'];

export default function create(ctx: AppContext): Command {
  return new Command('completion')
    .description('Print the shell completion script for bash, zsh, fish or PowerShell')
    .addArgument(new Argument('<shell>', 'bash, zsh, fish or powershell').choices(SHELL_NAMES))
    .addHelpText(
      'after',
      `
The script goes to stdout; nothing is installed and no rc file is edited. It completes commands,
options, allowed values (levels, gravities, fonts, formats, conflict policies…), file names for
inputs, and saved profile names (by running \`iloveimg profiles list --names\`).

bash (with the bash-completion package):
  $ mkdir -p ~/.local/share/bash-completion/completions
  $ iloveimg completion bash > ~/.local/share/bash-completion/completions/iloveimg
  Current shell only: source <(iloveimg completion bash)

zsh (any directory in $fpath, before compinit runs):
  $ mkdir -p ~/.zfunc && iloveimg completion zsh > ~/.zfunc/_iloveimg
  If ~/.zfunc is not in your $fpath yet, add \`fpath=(~/.zfunc $fpath)\` before \`compinit\` in
  your ~/.zshrc yourself. Current shell only (after compinit): source <(iloveimg completion zsh)

fish:
  $ iloveimg completion fish > ~/.config/fish/completions/iloveimg.fish

PowerShell:
  PS> iloveimg completion powershell | Out-String | Invoke-Expression      # this session
  To keep it: iloveimg completion powershell > iloveimg.ps1, and dot-source that file
  from your $PROFILE yourself.

The same scripts ship in the package's completions/ directory (bash: iloveimg.bash, zsh:
_iloveimg, fish: iloveimg.fish, PowerShell: iloveimg.ps1) for packagers.
`,
    )
    .action(async (shell: string, _opts: unknown, self: Command) => {
      const { generate } = await import('../completion/index.js');
      let root: Command = self;
      while (root.parent) root = root.parent;
      ctx.stdout.write(generate(shell as 'bash', root));
    });
}
