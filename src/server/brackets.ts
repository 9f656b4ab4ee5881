/**
 * PHP bracket notation for form fields: `files[0][server_filename]=a.jpg&elements[0][text]=hi` becomes
 * `{ files: [{ server_filename: 'a.jpg' }], elements: [{ text: 'hi' }] }`.
 *
 * The PHP and Ruby clients send /process as x-www-form-urlencoded in this notation and the .NET client
 * sends the same keys as multipart fields (docs/protocol.md §3.4), so both body parsers feed their
 * name/value pairs through `buildFields`.
 *
 * Hostile input is the norm here: indexes are never used as array positions (`a[999999999]=x` must not
 * allocate a sparse array), nesting is capped, and prototype keys are dropped.
 */
import { HttpError } from './errors.js';

export type Fields = Record<string, unknown>;

/** Deeper keys than this are refused: no client nests deeper than `elements[0][key]`. */
export const MAX_FIELD_DEPTH = 8;

const UNSAFE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const INDEX = /^\d+$/;

/**
 * Splits `files[0][filename]` into `['files', '0', 'filename']`; `a[]` yields an empty segment meaning
 * "append". Keys and segments are trimmed because the .NET client sends keys with trailing spaces
 * (`"pixels_width "`, docs/protocol.md §4). A key whose brackets do not parse is taken literally.
 */
export function splitKey(rawKey: string): string[] {
  const key = rawKey.trim();
  const open = key.indexOf('[');
  if (open <= 0) return [key];
  const segments = [key.slice(0, open).trim()];
  const segment = /\[([^[\]]*)\]/y;
  segment.lastIndex = open;
  while (segment.lastIndex < key.length) {
    const m = segment.exec(key);
    if (!m) return [key];
    segments.push(m[1].trim());
  }
  return segments;
}

/** Builds nested fields from name/value pairs; later pairs win, as in PHP. */
export function buildFields(pairs: Iterable<readonly [string, string]>): Fields {
  const root: Fields = {};
  // Next index for `key[]` appends, per container: counting keys on every append would be quadratic.
  const appendAt = new WeakMap<Fields, number>();
  const slot = (container: Fields, segment: string): string => {
    if (segment !== '') return segment;
    const next = appendAt.get(container) ?? Object.keys(container).length;
    appendAt.set(container, next + 1);
    return String(next);
  };

  for (const [rawKey, value] of pairs) {
    const segments = splitKey(rawKey);
    if (segments[0] === '' || segments.some((s) => UNSAFE_KEYS.has(s))) continue;
    if (segments.length > MAX_FIELD_DEPTH) {
      throw new HttpError(400, `Field name nested too deeply: ${rawKey.slice(0, 80)}`);
    }
    let container = root;
    for (const segment of segments.slice(0, -1)) {
      const key = slot(container, segment);
      const child = container[key];
      if (child === null || typeof child !== 'object') container[key] = {};
      container = container[key] as Fields;
    }
    container[slot(container, segments[segments.length - 1])] = value;
  }

  for (const key of Object.keys(root)) root[key] = compactArrays(root[key]);
  return root;
}

/**
 * Turns every container whose keys are all indexes into an array ordered by index, gaps closed up.
 * Recursion depth is bounded by MAX_FIELD_DEPTH.
 */
function compactArrays(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  const obj = value as Fields;
  const keys = Object.keys(obj);
  for (const key of keys) obj[key] = compactArrays(obj[key]);
  if (keys.length === 0 || !keys.every((k) => INDEX.test(k))) return obj;
  return keys
    .map((k) => [Number(k), obj[k]] as const)
    .sort((a, b) => a[0] - b[0])
    .map(([, v]) => v);
}

/**
 * Trims the keys of a parsed JSON body (the trailing-space bug is not limited to forms) and drops
 * prototype keys. The caller has already bounded the depth.
 */
export function normalizeJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalizeJson);
  if (value === null || typeof value !== 'object') return value;
  const out: Fields = {};
  for (const [key, v] of Object.entries(value as Fields)) {
    const k = key.trim();
    if (!UNSAFE_KEYS.has(k)) out[k] = normalizeJson(v);
  }
  return out;
}

/** The nesting depth of a JSON text, found without parsing it (so a hostile `[[[[…` costs O(n), no recursion). */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) max = Math.max(max, ++depth);
    else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

/**
 * The reverse of `buildFields`: nested values as PHP bracket pairs, as PHP's `http_build_query` writes
 * them (`files[0][status]=FileSuccess`; true → 1, false → 0). Unlike PHP, null becomes '' instead of
 * disappearing, so every field of a webhook body is present for `$_POST[...]` (docs/protocol.md §11).
 */
export function toBracketPairs(value: unknown, prefix = ''): [string, string][] {
  if (value !== null && typeof value === 'object') {
    const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
    return entries.flatMap(([k, v]) => toBracketPairs(v, prefix ? `${prefix}[${k}]` : k));
  }
  if (!prefix) return [];
  if (value === null || value === undefined) return [[prefix, '']];
  if (typeof value === 'boolean') return [[prefix, value ? '1' : '0']];
  return [[prefix, String(value)]];
}
