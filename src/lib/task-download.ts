/**
 * `tasks download`: fetch a task's result into a directory. A zip is unpacked (unless --keep-zip) with
 * every entry name checked by safeJoin, so a hostile archive cannot write outside the directory; each
 * file is written atomically under the conflict policy.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { IloveimgClient, TaskRef } from '../api/client.js';
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
  const dir = await mkdtemp(path.join(os.tmpdir(), 'iloveimg-dl-'));
  try {
    const tmp = path.join(dir, 'download');
    const res = await client.download(ref, tmp);
    const data = await readFile(tmp);
    const zip = data.length >= 4 && data.readUInt32LE(0) === 0x04034b50;
    const fallback = `${ref.task}.${zip ? 'zip' : 'bin'}`;
    const entries: { name: string; data: Buffer }[] = [];
    if (zip && !keepZip) {
      const { unzipSync } = await import('fflate');
      for (const [name, bytes] of Object.entries(unzipSync(new Uint8Array(data)))) {
        if (!name.endsWith('/')) entries.push({ name, data: Buffer.from(bytes) });
      }
    } else {
      entries.push({ name: res.filename ?? fallback, data });
    }
    const saved: SavedFile[] = [];
    for (const entry of entries) {
      const dest = safeJoin(outDir, entry.name) ?? safeJoin(outDir, fallback)!;
      try {
        const written = await writeAtomic(dest, entry.data, policy);
        saved.push({ name: entry.name, path: written ?? dest, bytes: entry.data.length, status: written ? 'ok' : 'skipped' });
      } catch (e) {
        saved.push({ name: entry.name, path: dest, bytes: entry.data.length, status: 'failed', error: (e as Error).message });
      }
    }
    return saved;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
