/**
 * `tasks download`: fetch a task's result into a directory. A zip is unpacked (unless --keep-zip) with
 * every entry name checked by safeJoin, so a hostile archive cannot write outside the directory; each
 * file is written atomically under the conflict policy.
 */
import type { IloveimgClient, TaskRef } from '../api/client.js';
import { fetchResult } from './result.js';
import { writeAtomic, type ConflictPolicy } from './outputs.js';
import { safeJoin } from './safe-path.js';

export interface SavedFile {
  name: string;
  path?: string;
  bytes: number;
  status: 'ok' | 'skipped' | 'failed';
  error?: string;
}

export async function downloadTaskTo(client: IloveimgClient, ref: TaskRef, outDir: string, policy: ConflictPolicy, keepZip: boolean): Promise<SavedFile[]> {
  const fallback = (zip: boolean) => `${ref.task}.${zip ? 'zip' : 'bin'}`;
  const { files } = await fetchResult(client, ref, { keepZip, fallbackName: fallback });
  const saved: SavedFile[] = [];
  for (const entry of files) {
    const dest = safeJoin(outDir, entry.name) ?? safeJoin(outDir, fallback(false))!;
    try {
      const written = await writeAtomic(dest, entry.data, policy);
      saved.push({ name: entry.name, path: written ?? dest, bytes: entry.data.length, status: written ? 'ok' : 'skipped' });
    } catch (e) {
      saved.push({ name: entry.name, path: dest, bytes: entry.data.length, status: 'failed', error: (e as Error).message });
    }
  }
  return saved;
}
