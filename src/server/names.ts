/**
 * Every name the server makes or repeats: ids, server filenames, output and package names, and the
 * Content-Disposition header.
 *
 * Names that reach the disk are generated here from random bytes and never from client input; client
 * file names are only ever shown back (output names, zip entries) after `sanitizeFilename`.
 */
import { randomBytes } from 'node:crypto';
import { toolByName } from '../protocol/tools.js';

/** Task ids: 40 lowercase hex characters, valid as a path segment by construction. */
export function newTaskId(): string {
  return randomBytes(20).toString('hex');
}

const ID_SHAPE = /^[A-Za-z0-9]{1,128}$/;

/** A cheap pre-check before any lookup, so odd strings (`../x`, 10 kB ids) never go further. */
export function looksLikeId(value: unknown): value is string {
  return typeof value === 'string' && ID_SHAPE.test(value);
}

/** The lower-case extension of a name without the dot, or '' when it has none or a strange one. */
export function extensionOf(name: string): string {
  const base = name.slice(Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\')) + 1);
  const dot = base.lastIndexOf('.');
  if (dot <= 0) return '';
  const ext = base.slice(dot + 1).toLowerCase();
  return /^[a-z0-9]{1,10}$/.test(ext) ? ext : '';
}

/** A fresh server filename that keeps the original's extension (the real API does the same). */
export function newServerFilename(originalName: string): string {
  const ext = extensionOf(originalName);
  const id = randomBytes(16).toString('hex');
  return ext ? `${id}.${ext}` : id;
}

const MAX_NAME_CHARS = 180;

/**
 * A client-supplied name made safe to show as a file name: the last path component only, no control
 * characters, no characters Windows refuses, no leading or trailing dots, never `..`, bounded length.
 */
export function sanitizeFilename(name: string, fallback = 'file'): string {
  const last = name.split(/[/\\]/).pop() ?? '';
  const cleaned = last
    .normalize('NFC')
    .replace(/[\u0000-\u001f\u007f<>:"|?*]/g, '_')
    .replace(/\.{2,}/g, '.')
    .replace(/^[.\s]+|[.\s]+$/g, '');
  const chars = Array.from(cleaned);
  const bounded = chars.length > MAX_NAME_CHARS ? chars.slice(0, MAX_NAME_CHARS).join('') : cleaned;
  return bounded === '' ? fallback : bounded;
}

/** `photo.final.jpg` → `photo.final`. */
export function stripExtension(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(0, dot) : name;
}

export interface TemplateValues {
  filename: string;
  n: number;
  tool: string;
  date: Date;
}

/**
 * Fills `output_filename` / `packaged_filename` placeholders (reference "Process"; `{app}` comes from
 * the iLovePDF clients). Unknown placeholders stay as typed, so a typo shows up in the name.
 */
export function fillTemplate(template: string, values: TemplateValues): string {
  const date = values.date.toISOString().slice(0, 10);
  return template.replace(/\{(filename|n|date|tool|app)\}/g, (_, key: string) => {
    switch (key) {
      case 'filename':
        return values.filename;
      case 'n':
        return String(values.n);
      case 'date':
        return date;
      case 'tool':
        return values.tool;
      default:
        return 'iloveimg';
    }
  });
}

/** Appends `.ext` unless the name already ends with it. */
export function withExtension(name: string, ext: string): string {
  if (!ext) return name;
  return name.toLowerCase().endsWith(`.${ext}`) ? name : `${name}.${ext}`;
}

/**
 * The default name of a multi-output package: `iloveimg-compressed.zip`, `iloveimg-resized.zip`, …
 * as the website names its downloads; tools without a CLI spec fall back to `iloveimg-processed`.
 */
export function defaultPackageBase(tool: string): string {
  return `iloveimg-${toolByName(tool)?.suffix ?? 'processed'}`;
}

/** Makes names unique within one download: a second `a.jpg` becomes `a-2.jpg`. */
export function uniqueNames(names: readonly string[]): string[] {
  const seen = new Set<string>();
  return names.map((name) => {
    let candidate = name;
    for (let i = 2; seen.has(candidate.toLowerCase()); i++) {
      const dot = name.lastIndexOf('.');
      candidate = dot > 0 ? `${name.slice(0, dot)}-${i}${name.slice(dot)}` : `${name}-${i}`;
    }
    seen.add(candidate.toLowerCase());
    return candidate;
  });
}

/**
 * `attachment; filename="<ascii>"; filename*=utf-8''<pct>` — `filename*` last, because the PHP and Ruby
 * clients capture from `filename*=utf-8''` to the end of the header (docs/protocol.md §3.5).
 */
export function contentDisposition(name: string): string {
  const ascii = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^\x20-\x7e]/g, '_')
    .replace(/["\\]/g, '_');
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=utf-8''${encoded}`;
}

const MEDIA_TYPES: Record<string, string> = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  webp: 'image/webp',
  tif: 'image/tiff',
  tiff: 'image/tiff',
  avif: 'image/avif',
  heic: 'image/heic',
  svg: 'image/svg+xml',
  bmp: 'image/bmp',
  zip: 'application/zip',
};

export function mediaType(ext: string): string {
  return MEDIA_TYPES[ext] ?? 'application/octet-stream';
}
