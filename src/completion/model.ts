/**
 * What the shell completions know, read from the real program: the commander tree (commands, aliases,
 * options, arguments) joined with the parameter table of src/protocol/tools.ts (the allowed values of the
 * tools' enum parameters, which commander only sees as parse functions). The generators for each
 * shell only render this model, so no script can offer a flag or a value the program does not take.
 */
import type { Argument, Command, Option } from 'commander';
import { flagFor } from '../protocol/flag-names.js';
import { COMMON_PARAMS, ELEMENT_PARAMS, FILE_PARAMS, toolByCommand, type ParamSpec } from '../protocol/tools.js';

/** What a value is completed with. */
export type ValueKind =
  | { kind: 'choices'; choices: string[] }
  | { kind: 'files' }
  | { kind: 'dirs' }
  /** The saved profile names, asked at completion time (`iloveimg profiles list --names`). */
  | { kind: 'profiles' }
  /** Free text: nothing to offer. */
  | { kind: 'any' };

export interface OptionModel {
  /** `-l` */
  short?: string;
  /** `--compression-level` */
  long?: string;
  description: string;
  /** Undefined for a switch that takes no value. */
  value?: ValueKind;
  /** The value's placeholder without brackets, e.g. `level`. */
  valueName?: string;
  /** -h/--help, -V/--version: nothing else makes sense with them. */
  exclusive?: boolean;
}

export interface ArgModel {
  name: string;
  description: string;
  required: boolean;
  variadic: boolean;
  value: ValueKind;
}

export interface CommandModel {
  name: string;
  aliases: string[];
  description: string;
  /** Names from the program down to this command, e.g. `['profiles', 'use']`; `[]` for the program. */
  path: string[];
  /** The command's own options (the global ones are in CompletionModel.globalOptions). */
  options: OptionModel[];
  args: ArgModel[];
  commands: CommandModel[];
}

export interface CompletionModel {
  /** The executable's name. */
  bin: string;
  /** Options of the program that are accepted after any subcommand too. */
  globalOptions: OptionModel[];
  root: CommandModel;
}

export const SHELLS = ['bash', 'zsh', 'fish', 'powershell'] as const;
export type Shell = (typeof SHELLS)[number];

export function buildModel(program: Command): CompletionModel {
  const root = program;
  const rootOwn = new Set(['help', 'version']);
  const globalOptions = root.options.filter((o) => !o.hidden && !rootOwn.has(o.attributeName())).map((o) => optionModel(o, []));
  return { bin: root.name(), globalOptions, root: commandModel(root, [], true) };
}

function commandModel(cmd: Command, path: string[], isRoot: boolean): CommandModel {
  const help = cmd.createHelp();
  const options = help
    .visibleOptions(cmd)
    // The program's own options are global: listed once, in CompletionModel.globalOptions.
    .filter((o) => !isRoot || o.attributeName() === 'help' || o.attributeName() === 'version')
    .map((o) => optionModel(o, path));
  // The implicit `help` command is not in cmd.commands: only real commands are offered.
  const commands = help
    .visibleCommands(cmd)
    .filter((c) => cmd.commands.includes(c))
    .map((c) => commandModel(c, [...path, c.name()], false));
  return {
    name: cmd.name(),
    aliases: cmd.aliases(),
    description: firstLine(cmd.description()),
    path,
    options,
    args: cmd.registeredArguments.map((a) => argModel(a)),
    commands,
  };
}

/** The table's parameters behind a tool command's flags, by flag (`--gravity`, `-l`). */
function paramsByFlag(path: string[]): Map<string, ParamSpec> {
  const map = new Map<string, ParamSpec>();
  const spec = path.length === 1 ? toolByCommand(path[0]) : undefined;
  if (!spec) return map;
  const own = spec.tool === 'watermarkimage' ? ELEMENT_PARAMS : spec.params;
  for (const p of [...own, ...FILE_PARAMS, ...COMMON_PARAMS]) {
    const { flag, short } = flagFor(p);
    map.set(`--${flag}`, p);
    if (short) map.set(`-${short}`, p);
  }
  return map;
}

function optionModel(o: Option, path: string[]): OptionModel {
  const name = o.attributeName();
  const base: OptionModel = {
    short: o.short,
    long: o.long,
    description: firstLine(o.description ?? ''),
    exclusive: name === 'help' || name === 'version',
  };
  if (!o.required && !o.optional) return base;
  const valueName = /[<[]([^>\]]+)[>\]]/.exec(o.flags)?.[1]?.replace(/\.\.\.$/, '') ?? 'value';
  return { ...base, valueName, value: optionValue(o, valueName, path) };
}

function optionValue(o: Option, valueName: string, path: string[]): ValueKind {
  if (o.argChoices?.length) return { kind: 'choices', choices: [...o.argChoices] };
  const params = paramsByFlag(path);
  const param = (o.long && params.get(o.long)) || (o.short && params.get(o.short)) || undefined;
  if (param?.choices?.length) return { kind: 'choices', choices: [...param.choices] };
  if (o.long === '--profile') return { kind: 'profiles' };
  return byName(valueName);
}

function argModel(a: Argument): ArgModel {
  const name = a.name();
  const value: ValueKind = a.argChoices?.length ? { kind: 'choices', choices: [...a.argChoices] } : name === 'profile' ? { kind: 'profiles' } : byName(name);
  return { name, description: firstLine(a.description ?? ''), required: a.required, variadic: a.variadic, value };
}

/** From a placeholder or argument name: `<dir>`, `<file>`, `[inputs...]`. */
function byName(name: string): ValueKind {
  const n = name.toLowerCase();
  // `<json|@file>` and the like: a file only behind a prefix, so nothing to offer.
  if (n.includes('|')) return { kind: 'any' };
  if (/(^|[-_ ])dir(ectory)?$/.test(n) || n === 'dir') return { kind: 'dirs' };
  if (n === 'file' || n.endsWith('file') || n.includes('input') || n === 'files') return { kind: 'files' };
  return { kind: 'any' };
}

function firstLine(s: string): string {
  return s.split('\n')[0].trim();
}

/** Every command of the model, depth first, the program first. */
export function allCommands(model: CompletionModel): CommandModel[] {
  const out: CommandModel[] = [];
  const walk = (c: CommandModel) => {
    out.push(c);
    c.commands.forEach(walk);
  };
  walk(model.root);
  return out;
}
