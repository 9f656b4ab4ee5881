/**
 * Validation of a /process body against the shared tool table (src/protocol/tools.ts), so the server and
 * the CLI can never disagree about a parameter's name, type or range.
 *
 * Tolerant as the clients require (docs/protocol.md §3.4, §4): unknown fields are ignored, null and ''
 * count as "not sent" (Guzzle and .NET drop or blank them), `convert_to` is an alias of `to`, and
 * watermark elements may name their stamp `image` or `server_filename`. Every bad value is reported at
 * once as `param: {name: [message]}` in a 400 ProcessingError.
 */
import type { ToolParams } from '../engine/types.js';
import {
  COMMON_PARAMS,
  ELEMENT_PARAMS,
  FILE_PARAMS,
  ParamError,
  TOOL_NAMES,
  checkColor,
  checkEncryptionKey,
  coerceParam,
  resolveToolName,
  toolByName,
  type ParamSpec,
  type ToolName,
} from '../protocol/tools.js';
import type { Fields } from './brackets.js';
import { normaliseElement } from './elements.js';
import { HttpError } from './errors.js';

export const MAX_FILES_PER_TASK = 10_000;

export type Rotation = 0 | 90 | 180 | 270;

export interface RequestedFile {
  serverFilename: string;
  filename: string;
  rotate: Rotation;
  password?: string;
}

export interface ProcessRequest {
  tool: ToolName;
  files: RequestedFile[];
  /** The tool's own parameters, coerced, with the API's defaults filled in. */
  params: ToolParams;
  ignoreErrors: boolean;
  tryRepair: boolean;
  outputFilename?: string;
  packagedFilename?: string;
  encryptionKey?: string;
  customInt?: number;
  customString?: string;
  /** undefined: answer when done; '': answer at once, no callback; otherwise also POST the task here. */
  webhook?: string;
  /** Fields accepted without effect (src/server/elements.ts): they make the task TaskSuccessWithWarnings. */
  warnings: string[];
  /** What was validated, for the request log. */
  echo: Record<string, unknown>;
}

const PROCESSING_MESSAGE = "This task can't be processed. Check why in the params.";

const common = (name: string): ParamSpec => COMMON_PARAMS.find((p) => p.name === name)!;

function isAbsent(value: unknown): boolean {
  return value === undefined || value === null || value === '';
}

/** Collects every problem of one request instead of stopping at the first. */
class Problems {
  readonly byParam: Record<string, string[]> = {};

  add(param: string, message: string): void {
    (this.byParam[param] ??= []).push(message);
  }

  /** Coerces `raw` with `spec`; a ParamError is recorded and yields undefined. */
  coerce(spec: ParamSpec, raw: unknown, label = spec.name): ReturnType<typeof coerceParam> | undefined {
    try {
      return coerceParam(spec, raw, label);
    } catch (err) {
      if (!(err instanceof ParamError)) throw err;
      this.add(err.param, err.message);
      return undefined;
    }
  }

  throwIfAny(): void {
    if (Object.keys(this.byParam).length > 0) throw new HttpError(400, PROCESSING_MESSAGE, this.byParam, 'ProcessingError');
  }
}

function asList(value: unknown): unknown[] | undefined {
  if (Array.isArray(value)) return value;
  if (value !== null && typeof value === 'object') return Object.values(value);
  return undefined;
}

function parseFiles(raw: unknown, problems: Problems): RequestedFile[] {
  const list = asList(raw);
  if (!list || list.length === 0) {
    problems.add('files', 'Files cannot be blank.');
    return [];
  }
  if (list.length > MAX_FILES_PER_TASK) {
    problems.add('files', `At most ${MAX_FILES_PER_TASK} files can be processed in one task.`);
    return [];
  }
  const rotateSpec = FILE_PARAMS.find((p) => p.name === 'rotate')!;
  const files: RequestedFile[] = [];
  list.forEach((entry, i) => {
    const f = (entry !== null && typeof entry === 'object' ? entry : {}) as Fields;
    const serverFilename = f.server_filename;
    if (typeof serverFilename !== 'string' || serverFilename === '') {
      problems.add(`files[${i}][server_filename]`, 'server_filename cannot be blank.');
      return;
    }
    const rotate = isAbsent(f.rotate) ? '0' : problems.coerce(rotateSpec, f.rotate, `files[${i}][rotate]`);
    const file: RequestedFile = {
      serverFilename,
      filename: typeof f.filename === 'string' && f.filename !== '' ? f.filename : serverFilename,
      rotate: Number(rotate ?? 0) as Rotation,
    };
    if (typeof f.password === 'string' && f.password !== '') file.password = f.password;
    files.push(file);
  });
  return files;
}

function parseElements(raw: unknown, problems: Problems, warnings: string[]): Fields[] {
  const list = isAbsent(raw) ? [] : (problems.coerce({ name: 'elements', type: 'json', description: '' }, raw) as unknown[] | undefined);
  if (!list) return [];
  if (list.length === 0) {
    problems.add('elements', 'Elements cannot be blank.');
    return [];
  }
  return list.map((entry, i) => {
    const sent = (entry !== null && typeof entry === 'object' ? entry : {}) as Fields;
    // The PHP library's own element fields (mode, bold, opacity, width_percent, …): src/server/elements.ts.
    const { given, extra } = normaliseElement(sent, i, (param, message) => problems.add(param, message), (w) => warnings.push(w));
    const element: Fields = { ...extra };
    for (const spec of ELEMENT_PARAMS) {
      const value = spec.name === 'image' && isAbsent(given.image) ? given.server_filename : given[spec.name];
      const label = `elements[${i}][${spec.name}]`;
      if (!isAbsent(value)) element[spec.name] = problems.coerce(spec, value, label);
      else if (spec.default !== undefined) element[spec.name] = coerceParam(spec, spec.default);
    }
    // `type` defaults to text, but an element that names a stamp and no text means an image element
    // (clients that send only `server_filename`, docs/protocol.md §5).
    if (isAbsent(given.type) && !isAbsent(element.image) && isAbsent(element.text)) element.type = 'image';
    if (typeof element.font_color === 'string') {
      try {
        element.font_color = checkColor(element.font_color, `elements[${i}][font_color]`);
      } catch (err) {
        problems.add((err as ParamError).param, (err as ParamError).message);
      }
    }
    if (element.type === 'text' && isAbsent(element.text)) problems.add(`elements[${i}][text]`, 'A text element needs a text.');
    if (element.type === 'image' && isAbsent(element.image)) {
      problems.add(`elements[${i}][image]`, 'An image element needs the server_filename of an uploaded stamp image.');
    }
    return element;
  });
}

/** Checks that a tool has what it cannot work without (the table has no "required"). */
function checkRequired(tool: ToolName, params: ToolParams, problems: Problems): void {
  if (tool === 'resizeimage') {
    if (params.resize_mode === 'percentage' && params.percentage === undefined) {
      problems.add('percentage', 'percentage is required when resize_mode is percentage.');
    }
    if (params.resize_mode === 'pixels' && params.pixels_width === undefined && params.pixels_height === undefined) {
      problems.add('pixels_width', 'pixels_width or pixels_height is required when resize_mode is pixels.');
    }
  }
  if (tool === 'cropimage') {
    for (const name of ['width', 'height']) if (params[name] === undefined) problems.add(name, `${name} is required.`);
  }
  if (tool === 'watermarkimage' && params.elements === undefined && !problems.byParam.elements) {
    problems.add('elements', 'Elements cannot be blank.');
  }
}

function parseToolParams(tool: ToolName, fields: Fields, problems: Problems, warnings: string[]): ToolParams {
  const params: ToolParams = {};
  // A resize that only gives a percentage means percentage mode, as the CLI infers it too.
  if (tool === 'resizeimage' && isAbsent(fields.resize_mode) && !isAbsent(fields.percentage)) {
    if (isAbsent(fields.pixels_width) && isAbsent(fields.pixels_height)) fields = { ...fields, resize_mode: 'percentage' };
  }
  for (const spec of toolByName(tool)?.params ?? []) {
    let raw = fields[spec.name];
    let label = spec.name;
    // The guide documents `to`; PHP, .NET and Python send `convert_to` (docs/protocol.md §4).
    if (spec.name === 'to' && isAbsent(raw) && !isAbsent(fields.convert_to)) {
      raw = fields.convert_to;
      label = 'convert_to';
    }
    if (spec.name === 'elements') {
      const elements = parseElements(raw, problems, warnings);
      if (elements.length > 0) params.elements = elements;
    } else if (!isAbsent(raw)) params[spec.name] = problems.coerce(spec, raw, label);
    else if (spec.default !== undefined) params[spec.name] = coerceParam(spec, spec.default);
  }
  if (tool === 'convertimage' && params.to !== undefined) params.convert_to = params.to;
  checkRequired(tool, params, problems);
  return params;
}

export function parseProcessRequest(fields: Fields, taskTool: ToolName): ProcessRequest {
  const problems = new Problems();

  let tool = taskTool;
  if (!isAbsent(fields.tool)) {
    const named = resolveToolName(fields.tool);
    if (named) tool = named;
    else problems.add('tool', `tool must be one of ${TOOL_NAMES.join(', ')}; got ${JSON.stringify(fields.tool)}`);
  }

  const files = parseFiles(fields.files, problems);
  const warnings: string[] = [];
  const params = parseToolParams(tool, fields, problems, warnings);

  const value = (name: string): unknown => (isAbsent(fields[name]) ? undefined : problems.coerce(common(name), fields[name]));
  const req: ProcessRequest = {
    tool,
    files,
    params,
    ignoreErrors: (value('ignore_errors') ?? true) as boolean,
    // iloveimg-php sends its repair flag as `try_repair` (docs/protocol.md §11); the reference's name wins.
    tryRepair: (value('try_image_repair') ?? (isAbsent(fields.try_repair) ? undefined : problems.coerce({ ...common('try_image_repair'), name: 'try_repair' }, fields.try_repair)) ?? true) as boolean,
    outputFilename: value('output_filename') as string | undefined,
    packagedFilename: value('packaged_filename') as string | undefined,
    encryptionKey: value('file_encryption_key') as string | undefined,
    customInt: value('custom_int') as number | undefined,
    customString: value('custom_string') as string | undefined,
    warnings,
    echo: {},
  };
  if (req.encryptionKey !== undefined) {
    try {
      checkEncryptionKey(req.encryptionKey);
    } catch (err) {
      problems.add('file_encryption_key', (err as ParamError).message);
    }
  }
  // `webhook=""` is meaningful (asynchronous, no callback), so it is not "absent" like other blanks.
  if (fields.webhook !== undefined && fields.webhook !== null) {
    if (typeof fields.webhook === 'string') req.webhook = fields.webhook.trim();
    else problems.add('webhook', 'webhook must be a URL or an empty string');
  }
  problems.throwIfAny();

  req.echo = {
    tool,
    files: files.map((f) => ({ server_filename: f.serverFilename, filename: f.filename, rotate: f.rotate })),
    ...params,
    ignore_errors: req.ignoreErrors,
    try_image_repair: req.tryRepair,
    ...(req.outputFilename !== undefined && { output_filename: req.outputFilename }),
    ...(req.packagedFilename !== undefined && { packaged_filename: req.packagedFilename }),
    ...(req.customInt !== undefined && { custom_int: req.customInt }),
    ...(req.customString !== undefined && { custom_string: req.customString }),
    ...(req.webhook !== undefined && { webhook: req.webhook }),
  };
  return req;
}
