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
import { UsageError } from '../lib/errors.js';
import { addParamOptions, readParams } from './tool-flags.js';

/** Element keys settable as flags: everything but `type`, `text` and `image`, which the flags imply. */
const ELEMENT_FLAG_PARAMS = ELEMENT_PARAMS.filter((p) => !['type', 'text', 'image'].includes(p.name));

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
    const file = path.resolve(cwd, String(el.image ?? el.server_filename ?? ''));
    const st = await stat(file).catch(() => undefined);
    if (!st?.isFile()) throw new UsageError(`watermark: stamp image ${String(el.image ?? el.server_filename)} does not exist`, 'Give a local JPG or PNG file.');
    el.image = file;
    delete el.server_filename;
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

/** Validates one element against the table; unknown keys are passed through (the API ignores them). */
function checkElement(raw: unknown, index: number): Record<string, unknown> {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new UsageError(`--elements[${index}] must be an object`);
  const el: Record<string, unknown> = { ...(raw as Record<string, unknown>) };
  for (const spec of ELEMENT_PARAMS as readonly ParamSpec[]) {
    if (el[spec.name] === undefined || el[spec.name] === null) continue;
    try {
      el[spec.name] = coerceParam(spec, el[spec.name], `--elements[${index}].${spec.name}`);
    } catch (e) {
      throw new UsageError((e as ParamError).message);
    }
  }
  el.type ??= el.image || el.server_filename ? 'image' : 'text';
  if (el.type === 'text' && !String(el.text ?? '').trim()) throw new UsageError(`--elements[${index}]: a text element needs "text"`);
  if (el.type === 'image' && !el.image && !el.server_filename) throw new UsageError(`--elements[${index}]: an image element needs "image" (a file path)`);
  if (typeof el.font_color === 'string') el.font_color = color(el.font_color, `--elements[${index}].font_color`);
  return el;
}

function color(value: string, label: string): string {
  try {
    return checkColor(value, label);
  } catch (e) {
    throw new UsageError((e as ParamError).message);
  }
}
