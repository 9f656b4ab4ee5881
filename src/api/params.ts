/**
 * Turns typed tool parameters into the JSON body of `POST /v1/process`, adding what the real API
 * needs and the reference leaves open: the convert target is sent as both `to` (the reference) and
 * `convert_to` (the PHP, .NET and Python libraries), since which one the server honours is
 * UNCONFIRMED (docs/protocol.md §4, §10).
 */
import type { ProcessFile } from '../protocol/wire.js';

export function processBody(files: ProcessFile[], params: Record<string, unknown>): Record<string, unknown> {
  const body: Record<string, unknown> = { ...params, files };
  if (body.to !== undefined && body.convert_to === undefined) body.convert_to = body.to;
  return body;
}
