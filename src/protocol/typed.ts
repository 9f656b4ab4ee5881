/**
 * The parameter types of each tool, derived by TypeScript from its row of the table (tools.ts), and
 * the table's defaults applied in one place. The server (src/server/params.ts) validates a /process
 * body with the table, fills the defaults with `withDefaults` and hands the engine `ParamsOf<Tool>`:
 * a parameter with a default is always there, one without may be absent, and every value has its
 * type (an enum one of its choices), so the engine restates neither types nor defaults.
 */
import { coerceParam, toolByName, type ElementRow, type ParamSpec, type ToolName, type ToolRow } from './tools.js';

/** The type of one parameter's value once coerced (`coerceParam`). */
type ValueOf<P> = P extends { type: 'integer' } ? number
  : P extends { type: 'boolean' } ? boolean
  : P extends { type: 'json' } ? Record<string, unknown>[]
  : P extends { choices: readonly (infer C)[] } ? C
  : string;

type ParamsOfRow<Params> = Params extends readonly (infer P)[]
  ? { [K in P as K extends { default: unknown; name: string } ? K['name'] : never]: ValueOf<K> } & {
      [K in P as K extends { default: unknown } ? never : K extends { name: string } ? K['name'] : never]?: ValueOf<K>;
    }
  : never;

/** The typed parameters of one tool, e.g. `ParamsOf<'compressimage'>` = `{ compression_level: 'extreme' | 'recommended' | 'low' }`. */
export type ParamsOf<T extends ToolName> = ParamsOfRow<Extract<ToolRow, { tool: T }>['params']>;

/** One watermark element as the server hands it to the engine: its keys typed and defaulted by the table. */
export type ElementParams = ParamsOfRow<readonly ElementRow[]>;

/** Fills, in place, every parameter of `specs` that `values` lacks and the table gives a default. */
export function fillDefaults(specs: readonly ParamSpec[], values: Record<string, unknown>): void {
  for (const spec of specs) if (values[spec.name] === undefined && spec.default !== undefined) values[spec.name] = coerceParam(spec, spec.default);
}

/** A tool's validated parameters with the table's defaults applied: what the engine receives. */
export function withDefaults<T extends ToolName>(tool: T, values: Record<string, unknown>): ParamsOf<T> {
  const out = { ...values };
  fillDefaults(toolByName(tool)?.params ?? [], out);
  return out as ParamsOf<T>;
}
