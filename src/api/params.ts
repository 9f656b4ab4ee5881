/**
 * Turns typed tool parameters into the JSON body of `POST /v1/process`, adding what the real API
 * needs and the reference leaves open: a parameter the official clients send under another name too
 * (its `aliases` in src/protocol/tools.ts: the convert target `to`, also sent as `convert_to` by the
 * PHP, .NET and Python libraries) goes under both, since which one the server honours is UNCONFIRMED
 * (docs/protocol.md §4, §10).
 */
import { TOOLS } from '../protocol/tools.js';
import type { ProcessFile } from '../protocol/wire.js';

const ALIASED = TOOLS.flatMap((t) => t.params).filter((p) => p.aliases?.length);

export function processBody(files: ProcessFile[], params: Record<string, unknown>): Record<string, unknown> {
  const body: Record<string, unknown> = { ...params, files };
  for (const spec of ALIASED) {
    for (const alias of spec.aliases ?? []) if (body[spec.name] !== undefined && body[alias] === undefined) body[alias] = body[spec.name];
  }
  return body;
}
