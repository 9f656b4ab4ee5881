/**
 * The watermark tool's flags: `--text` or `--image <file>` builds one element from the element flags
 * (`--gravity`, `--font-size`, …); `--elements <json|@file>` gives several. A stamp image is a local
 * file: it is uploaded into each task and referenced by its server filename (the API's `image` key),
 * and never listed in `files[]` (docs/protocol.md §5).
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Command, Option } from 'commander';
import { ELEMENT_PARAMS, checkColor, coerceParam, ParamError, type ParamSpec } from '../protocol/tools.js';
import { aliasedValue, checkElement as checkElementRules } from '../protocol/rules.js';
import { UsageError } from '../lib/errors.js';
import { addParamOptions, flagParams, readParams } from './tool-flags.js';

/** Element keys settable as flags: all but those `--text`/`--image` stand for (scope `none` in the table). */
const ELEMENT_FLAG_PARAMS = flagParams(ELEMENT_PARAMS);

export function addWatermarkOptions(cmd: Command): void {
  cmd.addOption(new Option('--text <text>', 'Stamp this text'));
  cmd.addOption(new Option('--image <file>', 'Stamp this JPG or PNG image (uploaded with each task)'));
  addParamOptions(cmd, ELEMENT_FLAG_PARAMS);
  cmd.addOption(new Option('--elements <json|@file>', 'Several elements as a JSON array (API keys; `image` may be a local file path)'));
}

export interface WatermarkParams {
  elements: Record<string, unknown>[];
  /** Absolute paths of the stamp images the elements reference. */
  stampFiles: string[];
}

export async function buildWatermarkElements(cmd: Command, cwd: string): Promise<WatermarkParams> {
  const opts = cmd.opts<{ text?: string; image?: string; elements?: string }>();
  const shared = readParams(cmd, ELEMENT_FLAG_PARAMS);
  if (typeof shared.font_color === 'string') shared.font_color = color(shared.font_color, '--font-color');
  const elements: Record<string, unknown>[] = [];
  if (opts.elements !== undefined) {
    if (opts.text !== undefined || opts.image !== undefined) throw new UsageError('watermark: use either --elements or --text/--image, not both');
    for (const [i, raw] of (await readElements(opts.elements, cwd)).entries()) elements.push({ ...shared, ...checkElement(raw, i) });
  } else if (opts.text !== undefined && opts.image !== undefined) {
    throw new UsageError('watermark: give --text or --image (use --elements for both at once)');
  } else if (opts.text !== undefined) {
    if (!opts.text.trim()) throw new UsageError('watermark: --text is empty');
    elements.push({ type: 'text', text: opts.text, ...shared });
  } else if (opts.image !== undefined) {
    elements.push({ type: 'image', image: opts.image, ...shared });
  } else {
    throw new UsageError('watermark: say what to stamp: --text <text>, --image <file> or --elements <json|@file>');
  }
  const stampFiles: string[] = [];
  for (const el of elements) {
    if (el.type !== 'image') continue;
    const file = path.resolve(cwd, String(el.image ?? ''));
    const st = await stat(file).catch(() => undefined);
    if (!st?.isFile()) throw new UsageError(`watermark: stamp image ${String(el.image)} does not exist`, 'Give a local JPG or PNG file.');
    el.image = file;
    if (!stampFiles.includes(file)) stampFiles.push(file);
  }
  return { elements, stampFiles };
}

async function readElements(value: string, cwd: string): Promise<unknown[]> {
  let text = value;
  if (value.startsWith('@')) {
    const file = path.resolve(cwd, value.slice(1));
    text = await readFile(file, 'utf8').catch(() => {
      throw new UsageError(`--elements ${value}: cannot read ${file}`);
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--elements: not valid JSON (${(e as Error).message})`);
  }
  const list = Array.isArray(parsed) ? parsed : [parsed];
  if (list.length === 0) throw new UsageError('--elements: the array is empty');
  return list;
}

/**
 * Validates one element against the table and the element rules shared with the server
 * (src/protocol/rules.ts); unknown keys are passed through (the API ignores them).
 */
function checkElement(raw: unknown, index: number): Record<string, unknown> {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new UsageError(`--elements[${index}] must be an object`);
  const el: Record<string, unknown> = { ...(raw as Record<string, unknown>) };
  const label = (key: string) => `--elements[${index}].${key}`;
  for (const spec of ELEMENT_PARAMS as readonly ParamSpec[]) {
    const { value, key } = aliasedValue(spec, el);
    if (value === undefined || value === null) continue;
    try {
      el[spec.name] = coerceParam(spec, value, label(key));
    } catch (e) {
      throw new UsageError((e as ParamError).message);
    }
    if (key !== spec.name) delete el[key];
  }
  const [problem] = checkElementRules(el, label);
  if (problem) throw new UsageError(problem.message);
  return el;
}

function color(value: string, label: string): string {
  try {
    return checkColor(value, label);
  } catch (e) {
    throw new UsageError((e as ParamError).message);
  }
}
