/**
 * `tasks download`: fetch a task's result into a directory. Each file is written directly under the
 * directory as one safe file name (safe-name.ts: no folders, no leading dot, no device names), so a
 * hostile archive can neither leave the directory nor plant `.bashrc` or `.ssh/…`; two entries that
 * reduce to one name get `~2`, `~3`. A file that is not an image, or over a bound, is reported failed.
 * Each file is written atomically under the conflict policy; the final rename or link replaces a
 * symbolic link at the destination instead of following it.
 */
import type { IloveimgClient, TaskRef } from '../api/client.js';
import type { DownloadLimits } from '../api/download-limits.js';
import { fetchResult } from './result.js';
import { copyAtomic } from './outputs.js';
import { uniqueName } from './member.js';
import type { ConflictPolicy } from './model.js';
import { safeFileName, UnsafeDestinationError } from '../lib/safe-name.js';
import { cleanText } from '../lib/sanitize.js';
import { lstat, mkdir } from 'node:fs/promises';
import path from 'node:path';

export interface SavedFile {
  name: string;
  path?: string;
  bytes: number;
  status: 'ok' | 'skipped' | 'failed';
  error?: string;
}

export async function downloadTaskTo(
  client: IloveimgClient,
  ref: TaskRef,
  outDir: string,
  policy: ConflictPolicy,
  keepZip: boolean,
  limits: DownloadLimits,
): Promise<SavedFile[]> {
  const fallback = (zip: boolean) => `${safeFileName(ref.task) ?? 'task'}.${zip ? 'zip' : 'bin'}`;
  return fetchResult(client, ref, { keepZip, fallbackName: fallback, limits }, async ({ files }) => {
    const saved: SavedFile[] = [];
    const used = new Set<string>();
    for (const entry of files) {
      const dest = path.join(outDir, uniqueName(safeFileName(entry.name) ?? fallback(false), used));
      if (entry.error) {
        saved.push({ name: cleanText(entry.name), bytes: entry.bytes, status: 'failed', error: cleanText(entry.error.message) });
        continue;
      }
      try {
        const written = await copyAtomic(entry.path, dest, policy);
        saved.push({ name: cleanText(entry.name), path: written ?? dest, bytes: entry.bytes, status: written ? 'ok' : 'skipped' });
      } catch (e) {
        saved.push({ name: cleanText(entry.name), path: dest, bytes: entry.bytes, status: 'failed', error: (e as Error).message });
      }
    }
    return saved;
  });
}

/**
 * `-o DIR` (made when missing), or else a new folder named after the task in `cwd` (reused when it is
 * already a real folder, never when it is a link): a result never lands loose in the current folder.
 */
export async function taskOutputDir(cwd: string, task: string, outputDir?: string): Promise<string> {
  if (outputDir !== undefined) {
    const dir = path.resolve(cwd, outputDir);
    await mkdir(dir, { recursive: true });
    return dir;
  }
  const dir = path.join(cwd, safeFileName(task) ?? 'task');
  await mkdir(dir).catch((e: NodeJS.ErrnoException) => (e.code === 'EEXIST' ? undefined : Promise.reject(e)));
  if (!(await lstat(dir)).isDirectory()) throw new UnsafeDestinationError(`${dir} exists and is not a folder; pass -o DIR`);
  return dir;
}
