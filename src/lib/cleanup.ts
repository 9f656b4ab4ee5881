/**
 * Work to do when the user insists on quitting (a second Ctrl-C): delete the remote tasks a run left
 * open and remove temporary files, within a short bound, before the entry point exits.
 */
import { rmSync, unlinkSync } from 'node:fs';

const hooks = new Set<() => Promise<unknown>>();

/** Registers a cleanup; returns the function that unregisters it. */
export function onHardExit(hook: () => Promise<unknown>): () => void {
  hooks.add(hook);
  return () => hooks.delete(hook);
}

/** Temporary files not yet committed (src/run/outputs.ts `tempFor`): removed on a hard exit. */
const tempFiles = new Set<string>();

/** Registers a temporary file beside a destination until it is committed or removed. */
export function trackTempFile(file: string): void {
  tempFiles.add(file);
}

export function untrackTempFile(file: string): void {
  tempFiles.delete(file);
}

function removeTempFilesSync(): void {
  for (const tmp of tempFiles) {
    try {
      unlinkSync(tmp);
    } catch {
      /* already committed or never written */
    }
  }
  tempFiles.clear();
}

const tempDirs = new Set<string>();

/**
 * Registers a temporary directory of this process (`$TMPDIR/iloveimg-dl-*` downloads, the embedded
 * engine's `$TMPDIR/iloveimg-engine-*`), removed on a hard exit; returns the function that unregisters it.
 */
export function trackTempDir(dir: string): () => void {
  tempDirs.add(dir);
  return () => tempDirs.delete(dir);
}

/** Runs every cleanup, giving up after `ms`, then removes the temporary files and directories. */
export async function hardExitCleanup(ms: number): Promise<void> {
  const all = Promise.allSettled([...hooks].map((h) => h()));
  await Promise.race([all, new Promise((r) => setTimeout(r, ms).unref())]);
  removeTempFilesSync();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}
