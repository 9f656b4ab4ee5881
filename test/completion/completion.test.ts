/**
 * The completion scripts: the committed files in completions/ are exactly what the program generates
 * (a stale one fails with the command that fixes it), the model covers every command and every
 * allowed value of the parameter table, and the scripts complete for real in bash (always) and in
 * zsh and fish (when installed).
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile, chmod } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli.js';
import { COMPLETION_FILES, generate, SHELLS } from '../../src/completion/index.js';
import { allCommands, buildModel } from '../../src/completion/model.js';
import { ProfileStore } from '../../src/account/config.js';
import { COMMON_PARAMS, CONVERT_TARGETS, ELEMENT_PARAMS, FILE_PARAMS, FONT_STYLES, ROTATIONS, TOOLS, UPSCALE_MULTIPLIERS, flagName } from '../../src/protocol/tools.js';
import { removeDir, runCli, tempDir } from '../account/helpers.js';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');
const COMPLETIONS = path.join(ROOT, 'completions');

const sink = () => new PassThrough();
const PROGRAM = await buildProgram({ env: {}, cwd: ROOT, stdout: sink(), stderr: sink(), stdin: sink(), signal: new AbortController().signal, version: '0.0.0' });

function program() {
  return PROGRAM;
}

function which(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

let work: string;
let configDir: string;
let shimDir: string;

beforeAll(async () => {
  work = await tempDir('iloveimg-completion-');
  await mkdir(path.join(work, 'pics'));
  await writeFile(path.join(work, 'pics', 'photo one.jpg'), '');
  await writeFile(path.join(work, 'pics', 'photo-two.png'), '');
  await mkdir(path.join(work, 'pics', 'phased'));
  configDir = path.join(work, 'config');
  const store = await ProfileStore.open({ configDir });
  store.update('personal', { apiUrl: 'http://127.0.0.1:1' });
  store.update('work', { apiUrl: 'http://127.0.0.1:2' });
  await store.save();
  // `iloveimg` on PATH, as an installed package puts it (the built program: `npm test` builds first).
  shimDir = path.join(work, 'bin');
  await mkdir(shimDir);
  await writeFile(path.join(shimDir, 'iloveimg'), `#!/bin/sh\nexec "${process.execPath}" "${path.join(ROOT, 'bin', 'iloveimg.js')}" "$@"\n`);
  await chmod(path.join(shimDir, 'iloveimg'), 0o755);
});

afterAll(async () => {
  await removeDir(work);
});

describe('the committed scripts', () => {
  it.each(SHELLS)('completions/%s is up to date', (shell) => {
    const file = path.join(COMPLETIONS, COMPLETION_FILES[shell]('iloveimg'));
    const fresh = generate(shell, program());
    const committed = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
    if (committed !== fresh) {
      expect.fail(`${path.relative(ROOT, file)} is ${committed === undefined ? 'missing' : 'stale: the commands or the parameter table changed'}. Run \`npm run completions\` and commit the result.`);
    }
  });

  it.each(SHELLS)('`iloveimg completion %s` prints the same script', async (shell) => {
    const r = await runCli(['completion', shell]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(generate(shell, program()));
  });

  it('an unknown shell is a usage error', async () => {
    const r = await runCli(['completion', 'tcsh']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Allowed choices are bash, zsh, fish, powershell/);
  });

  it('the help says how to install each without editing rc files', async () => {
    const r = await runCli(['completion', '--help']);
    for (const s of ['bash-completion/completions/iloveimg', '~/.zfunc/_iloveimg', '~/.config/fish/completions/iloveimg.fish', 'Invoke-Expression', 'no rc file is edited']) expect(r.stdout).toContain(s);
  });
});

describe('the model follows the program and the parameter table', () => {
  const model = buildModel(program());
  const byPath = new Map(allCommands(model).map((c) => [c.path.join(' '), c]));

  it('has every command of the program tree, nested ones included', () => {
    const names: string[] = [];
    const walk = (cmd: ReturnType<typeof program>, prefix: string[]) => {
      for (const c of cmd.commands) {
        names.push([...prefix, c.name()].join(' '));
        walk(c, [...prefix, c.name()]);
      }
    };
    walk(program(), []);
    expect([...byPath.keys()].filter(Boolean).sort()).toEqual(names.sort());
    for (const expected of ['login', 'logout', 'profiles use', 'config set', 'quota', 'completion', 'compress', 'watermark']) expect(byPath.has(expected)).toBe(true);
  });

  it('offers every allowed value of every enum parameter of every tool command', () => {
    let checked = 0;
    for (const tool of TOOLS) {
      const cmd = byPath.get(tool.command)!;
      const own = tool.tool === 'watermarkimage' ? ELEMENT_PARAMS : tool.params;
      for (const p of [...own, ...FILE_PARAMS, ...COMMON_PARAMS]) {
        if (!p.choices) continue;
        const opt = cmd.options.find((o) => o.long === `--${flagName(p.name)}`);
        if (!opt) continue; // not a flag of this command (e.g. watermark's `type`)
        expect(opt.value, `${tool.command} --${flagName(p.name)}`).toEqual({ kind: 'choices', choices: [...p.choices] });
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(TOOLS.length + 3); // --rotate everywhere, level, to, multiplier, gravity, fonts…
  });

  it('completes input files, directories for -o, profiles for --profile', () => {
    expect(byPath.get('compress')!.args[0]).toMatchObject({ variadic: true, value: { kind: 'files' } });
    expect(byPath.get('compress')!.options.find((o) => o.long === '--output-dir')?.value).toEqual({ kind: 'dirs' });
    expect(model.globalOptions.find((o) => o.long === '--profile')?.value).toEqual({ kind: 'profiles' });
    expect(byPath.get('profiles use')!.args[0].value).toEqual({ kind: 'profiles' });
  });
});

/** Runs the bash completion function on a command line (the last word is the one being completed). */
async function bash(words: string[], opts: { cwd?: string; path?: boolean } = {}): Promise<string[]> {
  const script = `source ${JSON.stringify(path.join(COMPLETIONS, 'iloveimg.bash'))}
COMP_WORDS=("$@"); COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 ))
COMP_LINE="\${COMP_WORDS[*]}"; COMP_POINT=\${#COMP_LINE}
_iloveimg
printf '%s\\n' "\${COMPREPLY[@]}"`;
  const env = { ...process.env, ILOVEIMG_CONFIG_DIR: configDir, PATH: opts.path ? `${shimDir}:${process.env.PATH}` : process.env.PATH };
  const { stdout } = await run('bash', ['--norc', '--noprofile', '-c', script, 'bash', ...words], { cwd: opts.cwd ?? work, env });
  return stdout.split('\n').filter(Boolean);
}

describe('bash', () => {
  it('completes a subcommand', async () => {
    expect((await bash(['iloveimg', 'comp'])).sort()).toEqual(['completion', 'compress']);
    expect(await bash(['iloveimg', 'pro'])).toEqual(['profiles']);
    expect((await bash(['iloveimg', 'profiles', ''])).sort()).toEqual(['list', 'ls', 'remove', 'rm', 'use']);
    expect(await bash(['iloveimg', 'config', 's'])).toEqual(['set']);
  });

  it('completes a flag, global flags after a subcommand too', async () => {
    expect(await bash(['iloveimg', 'compress', '--comp'])).toEqual(['--compression-level']);
    expect(await bash(['iloveimg', 'compress', '--js'])).toEqual(['--json']);
    expect((await bash(['iloveimg', '--profile', 'work', 'resize', '--pixels-'])).sort()).toEqual(['--pixels-height', '--pixels-width']);
    expect(await bash(['iloveimg', 'login', '--no-'])).toEqual(['--no-verify']);
  });

  it('completes flag values from the parameter table', async () => {
    expect(await bash(['iloveimg', 'watermark', '--gravity', 'North'])).toEqual(['North', 'NorthEast', 'NorthWest']);
    expect(await bash(['iloveimg', 'compress', '--compression-level', ''])).toEqual(['extreme', 'recommended', 'low']);
    expect(await bash(['iloveimg', 'compress', '-l', 'r'])).toEqual(['recommended']);
    expect(await bash(['iloveimg', 'convert', '--to', 'gif'])).toEqual(CONVERT_TARGETS.filter((t) => t.startsWith('gif')));
    expect(await bash(['iloveimg', 'watermark', '--font-style', ''])).toEqual([...FONT_STYLES]);
    expect(await bash(['iloveimg', 'rotate', '--rotate', ''])).toEqual([...ROTATIONS]);
    expect(await bash(['iloveimg', 'upscale', '-m', ''])).toEqual([...UPSCALE_MULTIPLIERS]);
    expect(await bash(['iloveimg', 'resize', '-w', '100', '--on-conflict', ''])).toEqual(['error', 'skip', 'overwrite', 'rename']);
  });

  it('escapes values with spaces (fonts) and handles --flag=value', async () => {
    expect(await bash(['iloveimg', 'watermark', '--font-family', 'Times'])).toEqual(['Times\\ New\\ Roman']);
    expect(await bash(['iloveimg', 'watermark', '--font-family', "'Comic"])).toEqual(['Comic Sans MS']);
    // bash splits `--gravity=Nor` at the `=` (COMP_WORDBREAKS)
    expect(await bash(['iloveimg', 'watermark', '--gravity', '=', 'SouthW'])).toEqual(['SouthWest']);
    // …unless `=` was removed from COMP_WORDBREAKS
    expect(await bash(['iloveimg', 'watermark', '--gravity=SouthE'])).toEqual(['--gravity=SouthEast']);
  });

  it('completes the arguments of account and shell commands', async () => {
    expect(await bash(['iloveimg', 'config', 'get', 's'])).toEqual(['secret_key']);
    expect(await bash(['iloveimg', 'config', 'set', 'concurrency', ''])).toEqual([]);
    expect(await bash(['iloveimg', 'completion', ''])).toEqual(['bash', 'zsh', 'fish', 'powershell']);
  });

  it('completes file names for inputs and directories for --output-dir', async () => {
    expect((await bash(['iloveimg', 'compress', 'pics/pho'])).sort()).toEqual(['pics/photo one.jpg', 'pics/photo-two.png']);
    expect(await bash(['iloveimg', 'compress', 'a.jpg', '-o', 'pics/p'])).toEqual(['pics/phased']);
    expect(await bash(['iloveimg', 'compress', '--', '--odd'])).toEqual([]);
  });

  it.skipIf(!existsSync(path.join(ROOT, 'dist', 'main.js')))('completes saved profile names by asking the program (needs the build)', async () => {
    expect(await bash(['iloveimg', '--profile', ''], { path: true })).toEqual(['personal', 'work']);
    expect(await bash(['iloveimg', 'profiles', 'use', 'w'], { path: true })).toEqual(['work']);
    const other = path.join(work, 'other-config');
    const store = await ProfileStore.open({ configDir: other });
    store.update('elsewhere', {});
    await store.save();
    expect(await bash(['iloveimg', '--config-dir', other, 'profiles', 'remove', ''], { path: true })).toEqual(['elsewhere']);
  });
});

/** zsh's real completion system in a pseudo-terminal; prints each match once. */
const ZSH_CAPTURE = `zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "PROMPT= RPROMPT= PS2="
zpty -w z "fpath=($1 \\$fpath); autoload -U compinit; compinit -u -D"
zpty -w z 'zstyle ":completion:*" list-grouped false; zstyle ":completion:*" insert-tab false'
zpty -w z 'compadd() { if [[ \${@[1,(i)(-|--)]} == *-(O|A|D)\\ * ]]; then builtin compadd "$@"; return $?; fi; typeset -a __hits; builtin compadd -A __hits "$@"; local h; for h in $__hits; do print -r -- "<<$IPREFIX$h>>"; done; }'
zpty -w z 'comppostfuncs=(exit); print -r -- "<<READY>>"'
local line
while zpty -r z line; do [[ $line == *'<<READY>>'* && $line != *print* ]] && break; done
zpty -w z "$2"$'\\t'
while zpty -r z line; do [[ $line == *'<<'*'>>'* ]] && print -r -- \${\${line#*<<}%%>>*}; done
return 0
`;

describe.skipIf(!which('zsh'))('zsh (installed here)', () => {
  let fpathDir: string;
  beforeAll(async () => {
    fpathDir = path.join(work, 'zfunc');
    await mkdir(fpathDir, { recursive: true });
    await writeFile(path.join(fpathDir, '_iloveimg'), readFileSync(path.join(COMPLETIONS, '_iloveimg')));
    await writeFile(path.join(work, 'capture.zsh'), ZSH_CAPTURE);
  });
  const zsh = async (line: string) => {
    const env = { ...process.env, ILOVEIMG_CONFIG_DIR: configDir, PATH: `${shimDir}:${process.env.PATH}` };
    const { stdout } = await run('zsh', ['-f', path.join(work, 'capture.zsh'), fpathDir, line], { cwd: work, timeout: 20_000, env });
    return [...new Set(stdout.split('\n').filter(Boolean))];
  };

  it('completes a subcommand, a flag and a flag value', async () => {
    expect((await zsh('iloveimg comp')).sort()).toEqual(['completion', 'compress']);
    expect(await zsh('iloveimg compress --comp')).toEqual(['--compression-level']);
    expect(await zsh('iloveimg watermark --gravity North')).toEqual(['North', 'NorthEast', 'NorthWest']);
    expect(await zsh('iloveimg compress --compression-level ')).toEqual(['extreme', 'recommended', 'low']);
    expect((await zsh('iloveimg profiles ')).sort()).toEqual(['list', 'ls', 'remove', 'rm', 'use']);
    expect(await zsh('iloveimg config get ')).toEqual(['api_url', 'public_key', 'secret_key', 'file_encryption_key', 'output_dir', 'concurrency']);
  });

  it.skipIf(!existsSync(path.join(ROOT, 'dist', 'main.js')))('completes saved profile names (needs the build)', async () => {
    expect(await zsh('iloveimg profiles use ')).toEqual(['personal', 'work']);
  });
});

describe.skipIf(!which('fish'))('fish (installed here)', () => {
  const fish = async (line: string) => {
    const cmd = `source ${JSON.stringify(path.join(COMPLETIONS, 'iloveimg.fish'))}; complete -C ${JSON.stringify(line)}`;
    const { stdout } = await run('fish', ['--no-config', '-c', cmd], { cwd: work, env: { ...process.env, ILOVEIMG_CONFIG_DIR: configDir, PATH: `${shimDir}:${process.env.PATH}` } });
    return stdout.split('\n').filter(Boolean).map((l) => l.split('\t')[0]);
  };

  it('completes a subcommand, a flag and a flag value', async () => {
    expect((await fish('iloveimg comp')).sort()).toEqual(['completion', 'compress']);
    expect(await fish('iloveimg compress --comp')).toEqual(['--compression-level']);
    expect(await fish('iloveimg watermark --gravity North')).toEqual(['North', 'NorthEast', 'NorthWest']);
    expect((await fish('iloveimg compress -l ')).sort()).toEqual(['extreme', 'low', 'recommended']);
    expect(await fish('iloveimg watermark --font-family Times')).toEqual(['Times New Roman']);
    expect((await fish('iloveimg profiles ')).sort()).toEqual(['list', 'ls', 'remove', 'rm', 'use']);
    expect((await fish('iloveimg compress pics/pho')).sort()).toEqual(['pics/photo one.jpg', 'pics/photo-two.png']);
  });

  it.skipIf(!existsSync(path.join(ROOT, 'dist', 'main.js')))('completes saved profile names (needs the build)', async () => {
    expect((await fish('iloveimg profiles use ')).sort()).toEqual(['personal', 'work']);
  });
});
