/**
 * Turns the parameter table (src/protocol/tools.ts) into commander options and reads them back as typed
 * API parameters. Values are validated as they are parsed, so a bad value is a usage error (exit 2)
 * naming the flag and the allowed values before anything is uploaded.
 *
 * Only parameters the user actually set are sent: the API's own defaults apply otherwise, and the
 * help shows them. `flagFor` is the one rule from a parameter to its flag.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { flagFor } from '../protocol/flag-names.js';
import { coerceParam, ParamError, type ParamSpec } from '../protocol/tools.js';

export { flagFor, flagLabel } from '../protocol/flag-names.js';

/** The commander attribute name commander derives from a flag (`compression-level` → `compressionLevel`). */
export function attrName(flag: string): string {
  return flag.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** The parameters of `params` that are flags of a command, or of a `--then`/`chain` step (`forStep`). */
export function flagParams(params: readonly ParamSpec[], opts: { forStep?: boolean } = {}): ParamSpec[] {
  return params.filter((p) => p.scope !== 'none' && !(opts.forStep && p.scope === 'run'));
}

function describe(spec: ParamSpec): string {
  let d = spec.description;
  if (spec.choices) d += ` (${spec.choices.join(', ')})`;
  else if (spec.min !== undefined || spec.max !== undefined) d += ` (${spec.min ?? '…'}–${spec.max ?? '…'})`;
  if (spec.default !== undefined && spec.type !== 'boolean') d += ` [API default: ${spec.default}]`;
  return d;
}

/** Adds the options of `params` to `cmd`. */
export function addParamOptions(cmd: Command, params: readonly ParamSpec[]): void {
  for (const spec of params) {
    const { flag, inverted, short: letter } = flagFor(spec);
    if (spec.type === 'boolean') {
      const on = spec.default === true ? !inverted : inverted;
      // Both spellings, so scripts can be explicit either way; help marks the API's default.
      cmd.addOption(new Option(`--${flag}`, `${spec.description}${on ? ' (default)' : ''}`));
      cmd.addOption(new Option(`--no-${flag}`, on ? `Turn off: ${lower(spec.description)}` : `Do not: ${lower(spec.description)} (default)`));
      continue;
    }
    const short = letter ? `-${letter}, ` : '';
    const placeholder = spec.placeholder ?? (spec.choices ? `<${spec.choices.length > 5 ? 'value' : spec.choices.join('|')}>` : '<value>');
    const opt = new Option(`${short}--${flag} ${placeholder}`, describe(spec)).argParser((raw: string) => parseValue(spec, raw));
    cmd.addOption(opt);
  }
}

function lower(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

export function parseValue(spec: ParamSpec, raw: string): unknown {
  try {
    const v = coerceParam(spec, raw, `--${flagFor(spec).flag}`);
    // Enums of numbers (rotate, multiplier) travel as numbers.
    return spec.type === 'enum' && /^\d+$/.test(String(v)) ? Number(v) : v;
  } catch (e) {
    throw new InvalidArgumentError(e instanceof ParamError ? e.message.replace(/^--[a-z-]+ /, '') : String(e));
  }
}

/** Reads back the parameters the user set, under their API names. */
export function readParams(cmd: Command, params: readonly ParamSpec[]): Record<string, unknown> {
  const opts = cmd.opts();
  const out: Record<string, unknown> = {};
  for (const spec of params) {
    const { flag, inverted } = flagFor(spec);
    const key = attrName(flag);
    const source = cmd.getOptionValueSource(key);
    if (source !== 'cli' && source !== 'env') continue;
    const value = opts[key];
    if (value === undefined) continue;
    out[spec.name] = inverted ? !value : value;
  }
  return out;
}
