/**
 * A processed task's outcome in words: the download names of its outputs and package, its final status
 * and status message (the rules are in process.ts's header), and the answers built from them.
 */
import type { TaskStatus } from '../protocol/tools.js';
import type { ProcessResponse, TaskFile } from '../protocol/wire.js';
import {
  defaultPackageBase,
  fillTemplate,
  sanitizeFilename,
  stripExtension,
  uniqueNames,
  withExtension,
} from './names.js';
import type { ProcessRequest } from './params.js';
import type { Task } from './store.js';

/** Download names for the outputs, from `output_filename` (default: the input's name, new extension). */
export function outputNames(req: ProcessRequest, produced: readonly { index: number; ext: string }[], date: Date): string[] {
  const names = produced.map((p) => {
    const original = stripExtension(sanitizeFilename(req.files[p.index].filename));
    const filled = fillTemplate(req.outputFilename ?? '{filename}', { filename: original, n: p.index + 1, tool: req.tool, date });
    return withExtension(sanitizeFilename(filled.replace(/[/\\]/g, '_'), original), p.ext);
  });
  return uniqueNames(names);
}

export function packageName(req: ProcessRequest, outputs: number, date: Date): string {
  const first = stripExtension(sanitizeFilename(req.files[0]?.filename ?? 'file'));
  const filled = fillTemplate(req.packagedFilename ?? defaultPackageBase(req.tool), { filename: first, n: outputs, tool: req.tool, date });
  return withExtension(sanitizeFilename(filled.replace(/[/\\]/g, '_'), defaultPackageBase(req.tool)), 'zip');
}

export function finalStatus(req: ProcessRequest, results: TaskFile[], warnings: string[]): TaskStatus {
  const failed = results.filter((r) => r.status !== 'FileSuccess').length;
  if (failed === results.length) return 'TaskError';
  if (failed > 0) return req.ignoreErrors ? 'TaskSuccessWithWarnings' : 'TaskError';
  return warnings.length > 0 ? 'TaskSuccessWithWarnings' : 'TaskSuccess';
}

export function statusMessage(status: TaskStatus, results: TaskFile[], warnings: string[]): string {
  const failed = results.filter((r) => r.status !== 'FileSuccess' && r.status !== 'FileWaiting');
  const listed = failed
    .slice(0, 10)
    .map((r) => `${r.filename} (${r.status})`)
    .join(', ');
  const more = failed.length > 10 ? ` and ${failed.length - 10} more` : '';
  const parts: string[] = [];
  if (failed.length > 0) parts.push(`${failed.length} of ${results.length} files failed: ${listed}${more}`);
  if (status !== 'TaskError') parts.push(...warnings.slice(0, 10));
  return parts.join('; ');
}

/** The synchronous /process answer for a processed task. */
export function processResponse(task: Task): ProcessResponse {
  const res: ProcessResponse = {
    download_filename: task.download?.name ?? '',
    filesize: task.filesize,
    output_filesize: task.outputFilesize,
    output_filenumber: task.outputs.length,
    output_extensions: [...new Set(task.outputs.map((o) => o.ext))],
    timer: task.timer,
    status: task.status,
  };
  if (task.statusMessage) res.status_message = task.statusMessage;
  return res;
}

/** The `param` of a failed task's ProcessingError: one entry per failed file (reference "Errors"). */
export function failedFiles(task: Task): unknown[] {
  return task.results
    .filter((r) => r.status !== 'FileSuccess')
    .map((r) => ({ server_filename: r.server_filename, filename: r.filename, error: r.status, message: r.status_message }));
}
