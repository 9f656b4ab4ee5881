/**
 * From an API parameter of the table (src/protocol/tools.ts) to its CLI flag, in one place: the flags
 * themselves (src/flags/), their messages, the completions and `chain --file` steps.
 */
import { COMMON_PARAMS, ELEMENT_PARAMS, FILE_PARAMS, TOOLS, flagName, type ParamSpec } from './tools.js';

/** Every parameter of the table, for looking one up by its API name. */
const ALL_PARAMS: readonly ParamSpec[] = [...TOOLS.flatMap((t) => t.params), ...FILE_PARAMS, ...COMMON_PARAMS, ...ELEMENT_PARAMS];

/**
 * The CLI spelling of a parameter: its long flag without `--`, its one-letter alias, and whether it
 * reads inverted: the boolean `no_enlarge_if_smaller` is `--enlarge-if-smaller` (false) /
 * `--no-enlarge-if-smaller` (true), so the flag reads the way the API means it. The one place a flag
 * is derived from a parameter: options, their reading, messages, completions and `chain --file` steps.
 */
export function flagFor(param: ParamSpec | string): { flag: string; inverted: boolean; short?: string } {
  const spec = typeof param === 'string' ? ALL_PARAMS.find((p) => p.name === param) : param;
  const name = typeof param === 'string' ? param : param.name;
  const inverted = spec?.type === 'boolean' && name.startsWith('no_');
  return { flag: flagName(inverted ? name.slice(3) : name), inverted, short: spec?.short };
}

/** A parameter as the CLI's messages name it: `--pixels-width/-w`. */
export function flagLabel(param: string): string {
  const { flag, short } = flagFor(param);
  return `--${flag}${short ? `/-${short}` : ''}`;
}
