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
  checkEncryptionKey,
  coerceParam,
  resolveToolName,
  toolByName,
  type ParamSpec,
  type ToolName,
} from '../protocol/tools.js';
import type { Fields } from './brackets.js';
import { aliasedValue, checkElement, checkStep } from '../protocol/rules.js';
import { fillDefaults, withDefaults } from '../protocol/typed.js';
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
  return list.map((entry, i) => {
    const sent = (entry !== null && typeof entry === 'object' ? entry : {}) as Fields;
    // The PHP library's own element fields (mode, bold, opacity, width_percent, …): src/server/elements.ts.
    const { given, extra } = normaliseElement(sent, i, (param, message) => problems.add(param, message), (w) => warnings.push(w));
    const element: Fields = { ...extra };
    for (const spec of ELEMENT_PARAMS) {
      const { value } = aliasedValue(spec, given);
      if (!isAbsent(value)) element[spec.name] = problems.coerce(spec, value, `elements[${i}][${spec.name}]`);
    }
    // The rules shared with the CLI (src/protocol/rules.ts), then the table's defaults.
    for (const p of checkElement(element, (key) => `elements[${i}][${key}]`)) problems.add(p.param, p.message);
    fillDefaults(ELEMENT_PARAMS, element);
    return element;
  });
}

function parseToolParams(tool: ToolName, fields: Fields, files: RequestedFile[], problems: Problems, warnings: string[]): ToolParams {
  const params: ToolParams = {};
  const specs = toolByName(tool)?.params ?? [];
  let invalid = false;
  for (const spec of specs) {
    // Under its name or an alias the clients send: `to` or `convert_to` (docs/protocol.md §4).
    const { value, key } = aliasedValue(spec, fields);
    if (spec.name === 'elements') {
      const elements = parseElements(value, problems, warnings);
      if (elements.length > 0) params.elements = elements;
    } else if (!isAbsent(value)) {
      const coerced = problems.coerce(spec, value, key);
      if (coerced === undefined) invalid = true;
      else params[spec.name] = coerced;
    }
  }
  // The rules shared with the CLI (src/protocol/rules.ts), on valid values only; the ones only the CLI
  // enforces are skipped, as the API's answer to them is UNCONFIRMED and a server must be liberal.
  if (!invalid) {
    const step = { params, rotations: files.map((f) => f.rotate) };
    for (const p of checkStep(tool, step, (name) => name)) if (!p.clientOnly && !problems.byParam[p.param]) problems.add(p.param, p.message);
  }
  // The table's defaults, applied here once: the engine receives ParamsOf<tool> (src/protocol/typed.ts).
  return withDefaults(tool, params);
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
  const params = parseToolParams(tool, fields, files, problems, warnings);

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
    // An alias the client sent (`convert_to`) is logged beside the name it was read as.
    ...Object.fromEntries((toolByName(tool)?.params ?? []).flatMap((p) => (p.aliases ?? []).filter((a) => !isAbsent(fields[a])).map((a) => [a, params[p.name]]))),
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
