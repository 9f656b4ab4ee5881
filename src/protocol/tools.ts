/**
 * The one declarative table of iLoveIMG tools and their process parameters.
 *
 * It feeds the CLI flags, the local validation before any upload, `--help`, the shell completions and
 * the engine's server-side validation, so the two sides can never disagree about what a parameter is
 * called or which values it takes. Names are the API's own (snake_case, as sent on the wire); CLI flags
 * are derived from them (`compression_level` → `--compression-level`).
 *
 * Sources: the API reference ("Process") and docs/protocol.md §4, §5.
 */

export type ParamType = 'string' | 'integer' | 'boolean' | 'enum' | 'json';

export interface ParamSpec {
  /** The API parameter name, exactly as sent in the process body. */
  name: string;
  type: ParamType;
  description: string;
  /** Allowed values for `enum` (compared case-sensitively on the wire, case-insensitively on the CLI). */
  choices?: readonly string[];
  min?: number;
  max?: number;
  /** The API's documented default; the client leaves a parameter out when the user did not set it. */
  default?: string | number | boolean;
  /** One-letter CLI alias, where it helps. */
  short?: string;
  /** Value placeholder for help text, e.g. `<px>`. */
  placeholder?: string;
  /**
   * Where the CLI offers it as a flag: on the tool's command and in each `--then`/`chain` step
   * (`step`, the default); only on the command, as it belongs to the whole run (`run`); or not as a
   * flag of its own (`none`: another flag stands for it).
   */
  scope?: 'step' | 'run' | 'none';
  /** Other wire names the official clients send it under; read when the name itself is absent (src/protocol/rules.ts `aliasedValue`). */
  aliases?: readonly string[];
}

export interface ToolSpec {
  /** The CLI subcommand, e.g. `compress`. */
  command: string;
  /** The API tool slug, e.g. `compressimage`. */
  tool: ToolName;
  summary: string;
  /** The suffix added to output names when results are written beside their inputs. */
  suffix: string;
  params: readonly ParamSpec[];
  examples: readonly string[];
  /**
   * How many times the input bytes a result may weigh before the CLI stops reading it
   * (src/api/download-limits.ts); default 20. Larger for tools whose results can outgrow their input.
   */
  resultMultiple?: number;
  /** Listed right after this command in `iloveimg --help` (default: in table order). */
  helpAfter?: string;
}

export const TOOL_NAMES = [
  'compressimage',
  'cropimage',
  'convertimage',
  'removebackgroundimage',
  'repairimage',
  'resizeimage',
  'rotateimage',
  'upscaleimage',
  'watermarkimage',
] as const;
export type ToolName = (typeof TOOL_NAMES)[number];

export const ROTATIONS = ['0', '90', '180', '270'] as const;
export const COMPRESSION_LEVELS = ['extreme', 'recommended', 'low'] as const;
export const RESIZE_MODES = ['pixels', 'percentage'] as const;
export const CONVERT_TARGETS = ['jpg', 'png', 'gif', 'gif_animation'] as const;
export const UPSCALE_MULTIPLIERS = ['2', '4'] as const;
export const GRAVITIES = [
  'North',
  'NorthEast',
  'NorthWest',
  'Center',
  'CenterEast',
  'CenterWest',
  'East',
  'West',
  'South',
  'SouthEast',
  'SouthWest',
] as const;
export const FONT_FAMILIES = [
  'Arial',
  'Arial Unicode MS',
  'Verdana',
  'Courier',
  'Times New Roman',
  'Comic Sans MS',
  'WenQuanYi Zen Hei',
  'Lohit Marathi',
] as const;
/** `Bold-Italic` is not in the reference, but the official WordPress plugin sends it. */
export const FONT_STYLES = ['Regular', 'Bold', 'Italic', 'Bold-Italic'] as const;
export const ELEMENT_TYPES = ['text', 'image'] as const;

export const TASK_STATUSES = [
  'TaskWaiting',
  'TaskProcessing',
  'TaskSuccess',
  'TaskSuccessWithWarnings',
  'TaskError',
  'TaskDeleted',
  'UploadDeleted',
  'TaskNotFound',
] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export const FILE_STATUSES = [
  'FileSuccess',
  'FileWaiting',
  'WrongPassword',
  'TimeOut',
  'ServerFileNotFound',
  'DamagedFile',
  'NoImages',
  'OutOfRange',
  'NonConformant',
  'UnknownError',
] as const;
export type FileStatus = (typeof FILE_STATUSES)[number];

/**
 * Parameters every tool accepts (reference: "Process"). On the CLI `debug` is the run option
 * `--api-debug` (not `--debug`, which would read as a CLI log switch); `webhook` belongs to the whole run.
 */
export const COMMON_PARAMS: readonly ParamSpec[] = [
  { name: 'ignore_errors', type: 'boolean', default: true, description: 'Process the other files when some fail (failures become warnings)' },
  { name: 'output_filename', type: 'string', placeholder: '<template>', description: 'Server-side name of each output; {filename}, {n}, {date}, {tool} are replaced' },
  { name: 'packaged_filename', type: 'string', placeholder: '<template>', description: 'Server-side name of the ZIP when there are several outputs; same placeholders' },
  { name: 'file_encryption_key', type: 'string', placeholder: '<key>', description: 'Keep the files encrypted at rest on the server (16, 24 or 32 characters)' },
  { name: 'try_image_repair', type: 'boolean', default: true, description: 'Try to repair a file that fails to process' },
  { name: 'custom_int', type: 'integer', placeholder: '<n>', description: 'An integer stored with the task (filterable in `tasks list`)' },
  { name: 'custom_string', type: 'string', placeholder: '<text>', description: 'A string stored with the task' },
  { name: 'webhook', type: 'string', scope: 'run', placeholder: '<url>', description: 'Return at once and POST the task to this URL when done ("" = async, no callback)' },
  { name: 'debug', type: 'boolean', default: false, scope: 'none', description: 'Ask the server to echo what it received without processing or charging anything' },
];

/** Per-file attributes inside `files[]`. */
export const FILE_PARAMS: readonly ParamSpec[] = [
  { name: 'rotate', type: 'enum', choices: ROTATIONS, default: '0', placeholder: '<degrees>', description: 'Rotate each image clockwise before processing' },
  { name: 'password', type: 'string', placeholder: '<password>', description: 'Password to open protected files' },
];

/**
 * Keys of one watermark element (reference: "Watermark extra parameters"). On the CLI `--text` and
 * `--image <file>` stand for `type`, `text` and `image` (src/flags/watermark-flags.ts).
 */
const ELEMENT_ROWS = [
  { name: 'type', type: 'enum', choices: ELEMENT_TYPES, default: 'text', scope: 'none', description: 'Element type' },
  { name: 'text', type: 'string', scope: 'none', placeholder: '<text>', description: 'The text to stamp' },
  { name: 'image', type: 'string', scope: 'none', aliases: ['server_filename'], placeholder: '<server_filename>', description: 'Server filename of an uploaded JPG/PNG stamp' },
  { name: 'gravity', type: 'enum', choices: GRAVITIES, default: 'Center', description: 'Where to place the stamp' },
  { name: 'vertical_adjustment_percent', type: 'integer', min: -100, max: 100, default: 0, placeholder: '<pct>', description: 'Shift from the gravity position, in percent of the image height' },
  { name: 'horizontal_adjustment_percent', type: 'integer', min: -100, max: 100, default: 0, placeholder: '<pct>', description: 'Shift from the gravity position, in percent of the image width' },
  { name: 'rotation', type: 'integer', min: 0, max: 360, default: 0, placeholder: '<degrees>', description: 'Rotation of the stamp, counter-clockwise' },
  { name: 'font_family', type: 'enum', choices: FONT_FAMILIES, default: 'Arial', description: 'Font of a text stamp' },
  { name: 'font_style', type: 'enum', choices: FONT_STYLES, default: 'Regular', description: 'Style of a text stamp' },
  { name: 'font_size', type: 'integer', min: 1, max: 1000, default: 14, placeholder: '<pt>', description: 'Font size of a text stamp' },
  { name: 'font_color', type: 'string', default: '#000000', placeholder: '<#rrggbb>', description: 'Hexadecimal colour of a text stamp' },
  { name: 'transparency', type: 'integer', min: 1, max: 100, default: 100, placeholder: '<pct>', description: 'Opacity of the stamp in percent (100 = opaque)' },
  { name: 'mosaic', type: 'boolean', default: false, description: 'Tile the stamp 9 times over the image (overrides position)' },
] as const satisfies readonly ParamSpec[];

/** The element keys' literal types, from which src/protocol/typed.ts derives `ElementParams`. */
export type ElementRow = (typeof ELEMENT_ROWS)[number];

export const ELEMENT_PARAMS: readonly ParamSpec[] = ELEMENT_ROWS;

/**
 * Declared `as const` so that TypeScript derives each tool's parameter types from its row
 * (`ParamsOf<'resizeimage'>`, src/protocol/typed.ts): the engine's types are the table.
 */
const TOOL_ROWS = [
  {
    command: 'compress',
    tool: 'compressimage',
    summary: 'Compress JPG, PNG, GIF and WebP images',
    suffix: 'compressed',
    params: [
      { name: 'compression_level', type: 'enum', choices: COMPRESSION_LEVELS, default: 'recommended', short: 'l', description: 'How hard to compress' },
    ],
    examples: [
      "iloveimg compress 'photos/**/*.jpg' -o out/",
      'iloveimg compress banner.png -l extreme',
      "iloveimg compress 'img/*.{jpg,png}' --json > report.json",
    ],
  },
  {
    command: 'resize',
    tool: 'resizeimage',
    summary: 'Resize images by pixels or by percentage',
    suffix: 'resized',
    params: [
      { name: 'resize_mode', type: 'enum', choices: RESIZE_MODES, default: 'pixels', description: 'Resize by pixels or by percentage (inferred from --percentage when omitted)' },
      { name: 'pixels_width', type: 'integer', min: 1, max: 65535, short: 'w', placeholder: '<px>', description: 'Target width in pixels' },
      { name: 'pixels_height', type: 'integer', min: 1, max: 65535, short: 'H', placeholder: '<px>', description: 'Target height in pixels' },
      { name: 'percentage', type: 'integer', min: 1, max: 1000, short: 'p', placeholder: '<pct>', description: 'Scale in percent of the original size' },
      { name: 'maintain_ratio', type: 'boolean', default: true, description: 'Keep the aspect ratio (fit inside width × height)' },
      { name: 'no_enlarge_if_smaller', type: 'boolean', default: true, description: 'Enlarge an image that is smaller than the asked size' },
    ],
    examples: [
      'iloveimg resize photo.jpg -w 1920 -H 1080',
      "iloveimg resize 'shots/*.png' --percentage 50 -o small/",
      'iloveimg resize logo.png -w 512 -H 512 --no-maintain-ratio',
    ],
  },
  {
    command: 'crop',
    tool: 'cropimage',
    summary: 'Crop a rectangle out of images',
    suffix: 'cropped',
    params: [
      { name: 'width', type: 'integer', min: 1, max: 65535, placeholder: '<px>', description: 'Width of the area to keep' },
      { name: 'height', type: 'integer', min: 1, max: 65535, placeholder: '<px>', description: 'Height of the area to keep' },
      { name: 'x', type: 'integer', min: 0, max: 65535, default: 0, placeholder: '<px>', description: 'Left edge of the area' },
      { name: 'y', type: 'integer', min: 0, max: 65535, default: 0, placeholder: '<px>', description: 'Top edge of the area' },
    ],
    examples: [
      'iloveimg crop photo.jpg --width 800 --height 600',
      "iloveimg crop 'scans/*.png' --width 1000 --height 1000 --x 120 --y 80 -o cropped/",
    ],
  },
  {
    command: 'convert',
    tool: 'convertimage',
    summary: 'Convert images to JPG, PNG, GIF or one animated GIF',
    suffix: 'converted',
    resultMultiple: 60,
    params: [
      { name: 'to', type: 'enum', choices: CONVERT_TARGETS, default: 'jpg', short: 't', aliases: ['convert_to'], description: 'Target format (gif_animation joins all inputs into one animated GIF)' },
      { name: 'gif_time', type: 'integer', min: 1, max: 65535, default: 50, placeholder: '<cs>', description: 'Delay of each frame of gif_animation, in hundredths of a second' },
      { name: 'gif_loop', type: 'boolean', default: true, description: 'Loop the animation forever' },
    ],
    examples: [
      "iloveimg convert 'icons/*.png' --to jpg -o jpg/",
      'iloveimg convert photo.jpg --to png',
      'iloveimg convert frame1.png frame2.png frame3.png --to gif_animation --gif-time 20',
    ],
  },
  {
    command: 'watermark',
    tool: 'watermarkimage',
    summary: 'Stamp a text or an image onto images',
    suffix: 'watermarked',
    params: [
      { name: 'elements', type: 'json', placeholder: '<json|@file>', description: 'The watermark elements as a JSON array (or @file.json)' },
    ],
    examples: [
      "iloveimg watermark 'photos/*.jpg' --text '© Ada 2026' --gravity SouthEast --font-size 48",
      'iloveimg watermark photo.jpg --image logo.png --transparency 40 --mosaic',
      'iloveimg watermark photo.jpg --elements @stamps.json',
    ],
  },
  {
    command: 'rotate',
    tool: 'rotateimage',
    summary: 'Rotate images by 90, 180 or 270 degrees',
    suffix: 'rotated',
    params: [],
    examples: ['iloveimg rotate photo.jpg --rotate 90', "iloveimg rotate 'scans/*.jpg' --rotate 270 --in-place"],
  },
  {
    command: 'repair',
    tool: 'repairimage',
    summary: 'Recover damaged JPG, PNG and GIF images',
    suffix: 'repaired',
    resultMultiple: 60,
    params: [],
    examples: ['iloveimg repair broken.jpg', "iloveimg repair 'recovered/*.png' -o fixed/"],
  },
  {
    command: 'removebackground',
    tool: 'removebackgroundimage',
    summary: 'Make the plain background of images transparent (PNG)',
    suffix: 'nobg',
    resultMultiple: 60,
    helpAfter: 'upscale',
    params: [],
    examples: ['iloveimg removebackground product.jpg', "iloveimg removebackground 'catalog/*.jpg' -o cutouts/"],
  },
  {
    command: 'upscale',
    tool: 'upscaleimage',
    summary: 'Enlarge images 2× or 4×',
    suffix: 'upscaled',
    resultMultiple: 200,
    params: [
      { name: 'multiplier', type: 'enum', choices: UPSCALE_MULTIPLIERS, default: '2', short: 'm', description: 'How many times larger' },
    ],
    examples: ['iloveimg upscale icon.png', 'iloveimg upscale thumb.jpg --multiplier 4 -o big/'],
  },
] as const satisfies readonly ToolSpec[];

/** The rows' literal types, from which src/protocol/typed.ts derives `ParamsOf<Tool>`. */
export type ToolRow = (typeof TOOL_ROWS)[number];

export const TOOLS: readonly ToolSpec[] = TOOL_ROWS;

export function toolByCommand(command: string): ToolSpec | undefined {
  return TOOLS.find((t) => t.command === command);
}

export function toolByName(tool: string): ToolSpec | undefined {
  return TOOLS.find((t) => t.tool === tool);
}

/**
 * The API slug for a tool name as clients send it: the slug itself (`compressimage`) or the short name
 * the official libraries use (`compress`: iloveimg-php builds its class name from it, `newTask('compress')`,
 * `next('compress')`, so it cannot send the slug). Case and surrounding blanks do not matter. Undefined
 * for anything else. The short names are the CLI commands of the table above.
 */
export function resolveToolName(name: unknown): ToolName | undefined {
  if (typeof name !== 'string') return undefined;
  const s = name.trim().toLowerCase();
  return TOOLS.find((t) => t.tool === s || t.command === s)?.tool;
}

/** `compression_level` → `compression-level`. */
export function flagName(param: string): string {
  return param.replace(/_/g, '-');
}

export class ParamError extends Error {
  constructor(
    readonly param: string,
    message: string,
  ) {
    super(message);
    this.name = 'ParamError';
  }
}

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off', '']);

/**
 * Coerces one wire or CLI value to the parameter's type and checks it against the spec.
 * Liberal in what it accepts (booleans as true/false/1/0/True/False, integers as numeric strings),
 * as the engine must be for the official clients (docs/protocol.md §3.4). Throws ParamError.
 */
export function coerceParam(spec: ParamSpec, raw: unknown, label = spec.name): string | number | boolean | unknown[] {
  switch (spec.type) {
    case 'boolean': {
      if (typeof raw === 'boolean') return raw;
      if (typeof raw === 'number' && (raw === 0 || raw === 1)) return raw === 1;
      const s = String(raw).trim().toLowerCase();
      if (TRUE.has(s)) return true;
      if (FALSE.has(s)) return false;
      throw new ParamError(label, `${label} must be true or false, got ${JSON.stringify(raw)}`);
    }
    case 'integer': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*-?\d+(\.0+)?\s*$/.test(raw) ? Number(raw) : NaN;
      if (!Number.isInteger(n)) throw new ParamError(label, `${label} must be a whole number, got ${JSON.stringify(raw)}`);
      if (spec.min !== undefined && n < spec.min) throw new ParamError(label, `${label} must be at least ${spec.min}, got ${n}`);
      if (spec.max !== undefined && n > spec.max) throw new ParamError(label, `${label} must be at most ${spec.max}, got ${n}`);
      return n;
    }
    case 'enum': {
      const s = String(raw).trim();
      const choices = spec.choices ?? [];
      const hit = choices.find((c) => c === s) ?? choices.find((c) => c.toLowerCase() === s.toLowerCase());
      if (hit === undefined) {
        throw new ParamError(label, `${label} must be one of ${choices.join(', ')}; got ${JSON.stringify(raw)}`);
      }
      return hit;
    }
    case 'json': {
      if (Array.isArray(raw)) return raw;
      if (raw && typeof raw === 'object') return Object.values(raw as Record<string, unknown>);
      try {
        const v = JSON.parse(String(raw));
        if (Array.isArray(v)) return v;
        if (v && typeof v === 'object') return [v];
      } catch {
        /* fall through to the error below */
      }
      throw new ParamError(label, `${label} must be a JSON array`);
    }
    case 'string':
    default:
      if (raw === null || raw === undefined) return '';
      if (typeof raw === 'object') throw new ParamError(label, `${label} must be a string`);
      return String(raw);
  }
}

/** Checks a `file_encryption_key` (16, 24 or 32 characters, per the reference). */
export function checkEncryptionKey(key: string, label = 'file_encryption_key'): void {
  if (![16, 24, 32].includes(key.length)) {
    throw new ParamError(label, `${label} must be 16, 24 or 32 characters long, got ${key.length}`);
  }
}

/** `#rgb` or `#rrggbb`. */
export function checkColor(value: string, label = 'font_color'): string {
  const s = value.trim();
  if (!/^#?([0-9a-f]{3}|[0-9a-f]{6})$/i.test(s)) {
    throw new ParamError(label, `${label} must be a hexadecimal colour such as #ff0000, got ${JSON.stringify(value)}`);
  }
  return s.startsWith('#') ? s : `#${s}`;
}
