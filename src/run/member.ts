/**
 * One input inside a task group: what was sent for it, whether it is finished, and the helpers that
 * name it (unique names within a task, matching outputs by stem) and fail it with a clean report.
 */
import path from 'node:path';
import { ApiError } from '../api/errors.js';
import { cleanText } from '../lib/sanitize.js';
import type { InputItem } from './inputs.js';
import type { FileReport } from './model.js';
import type { PlannedOutput } from './outputs.js';

export interface Member {
  item: InputItem;
  plan: PlannedOutput;
  serverFilename?: string;
  /** The name sent in files[]: the input's name, made unique within the task so outputs can be matched. */
  sentName: string;
  inputBytes: number;
  done: boolean;
  /** Warnings the server gave this file (TaskSuccessWithWarnings), over every step. */
  warnings: string[];
}

/** Marks a member failed (once) and reports it. */
export type Fail = (m: Member, type: string, message: string, task?: string) => void;

export function stem(name: string): string {
  const base = path.posix.basename(name.replace(/\\/g, '/'));
  const dot = base.lastIndexOf('.');
  return (dot > 0 ? base.slice(0, dot) : base).toLowerCase();
}

/** `a/x.jpg`, `b/x.png` → `x.jpg`, `x~2.png`: unique stems within one task. */
export function uniqueNames(items: InputItem[]): string[] {
  const used = new Set<string>();
  return items.map((item) => {
    const base = path.posix.basename(item.rel.replace(/\\/g, '/')) || 'file';
    return uniqueName(base, used, stem);
  });
}

/**
 * `name`, else `name~2.ext`, `name~3.ext`, … : the first whose key (by default the name, case-insensitively)
 * is not in `used`; the key is added to `used`.
 */
export function uniqueName(name: string, used: Set<string>, keyOf: (name: string) => string = (n) => n.toLowerCase()): string {
  const dot = name.lastIndexOf('.');
  const [base, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
  let candidate = name;
  for (let n = 2; used.has(keyOf(candidate)); n++) candidate = `${base}~${n}${ext}`;
  used.add(keyOf(candidate));
  return candidate;
}

/** A failed file; its type and message may carry a server's words, so they are cleaned (sanitize.ts). */
export function failed(item: InputItem, type: string, message: string): FileReport {
  return { input: item.display, status: 'failed', inputBytes: item.size, error: { type: cleanText(type), message: cleanText(message) } };
}

export function errType(e: unknown): string {
  if (e instanceof ApiError) return e.type;
  return (e as { type?: string })?.type ?? (e as Error)?.name ?? 'Error';
}

export function errStep(e: unknown): string {
  return e instanceof ApiError ? e.step : 'download';
}

export function errMessage(e: unknown): string {
  return (e as Error)?.message ?? String(e);
}
