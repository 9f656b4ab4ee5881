/**
 * Where each result goes, decided before anything is uploaded, and how it is written.
 *
 * - `-o DIR` mirrors the input tree relative to the glob base or directory argument (`--flat` to opt
 *   out); without `-o`, results go beside each input with the tool's suffix (`photo-compressed.jpg`);
 *   `--in-place` replaces the input.
 * - Two inputs that would land on one output are a usage error before any upload.
 * - An existing destination follows `--on-conflict`: `error` (default: that file fails, the others go
 *   on), `skip`, `overwrite` or `rename` (`photo-compressed (1).jpg`).
 * - Every write is a temporary file in the destination's directory and a rename, so an interrupted run
 *   never leaves a partial file; `error` and `rename` use link() so even a race never clobbers a file.
 */
import { randomBytes } from 'node:crypto';
import { unlinkSync } from 'node:fs';
import { link, mkdir, rename, stat, unlink, writeFile, copyFile } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from './errors.js';
import type { InputItem } from './inputs.js';

export type ConflictPolicy = 'error' | 'skip' | 'overwrite' | 'rename';
export const CONFLICT_POLICIES: readonly ConflictPolicy[] = ['error', 'skip', 'overwrite', 'rename'];

export interface OutputOptions {
  outputDir?: string;
  flat?: boolean;
  inPlace?: boolean;
  suffix: string;
  onConflict: ConflictPolicy;
  cwd?: string;
}

export interface PlannedOutput {
  /** Absolute destination, or `-` for stdout. */
  dest: string;
  /** Extension of the planned destination (without the dot), as spelled there. */
  ext: string;
  /** `-O FILE`: exactly this name, whatever the result's format. */
  literal?: boolean;
}

/**
 * Plans one destination per input. `targetExt` is the format the tool will produce, when the tool
 * decides it (convert); otherwise the input's format is kept, spelled as the input spelled it.
 */
export function planOutputs(items: InputItem[], opts: OutputOptions, targetExt?: string): PlannedOutput[] {
  const cwd = opts.cwd ?? process.cwd();
  if (opts.inPlace && opts.outputDir) throw new UsageError('--in-place and --output-dir cannot be used together');
  const plans = items.map((item): PlannedOutput => {
    if (item.kind === 'stdin') return { dest: '-', ext: targetExt ?? item.format ?? 'jpg' };
    const inExt = path.extname(item.rel).slice(1);
    const ext = chooseExt(inExt, item.format, targetExt);
    const stem = inExt ? item.rel.slice(0, -(inExt.length + 1)) : item.rel;
    if (opts.inPlace) {
      if (item.kind !== 'file') throw new UsageError(`--in-place needs local files; ${item.display} is not one`);
      if (ext !== inExt) throw new UsageError(`--in-place cannot change ${item.display} to .${ext}`, 'Use -o DIR to write converted files elsewhere.');
      return { dest: item.source, ext };
    }
    if (opts.outputDir) {
      const rel = opts.flat || item.kind === 'url' ? path.basename(stem) : stem;
      return { dest: path.resolve(cwd, opts.outputDir, `${rel}.${ext}`), ext };
    }
    const dir = item.kind === 'file' ? path.dirname(item.source) : cwd;
    return { dest: path.join(dir, `${path.basename(stem)}-${opts.suffix}.${ext}`), ext };
  });
  const byDest = new Map<string, number>();
  const sources = new Set(items.filter((i) => i.kind === 'file').map((i) => i.source));
  plans.forEach((p, i) => {
    if (p.dest === '-') return;
    if (!opts.inPlace && sources.has(p.dest)) {
      throw new UsageError(`${items[i].display} would be overwritten by its own result`, 'Choose another --output-dir, or pass --in-place to replace inputs.');
    }
    const key = process.platform === 'linux' ? p.dest : p.dest.toLowerCase();
    const prev = byDest.get(key);
    if (prev !== undefined) {
      throw new UsageError(
        `${items[prev].display} and ${items[i].display} would both be written to ${path.relative(cwd, p.dest) || p.dest}`,
        opts.flat ? 'Drop --flat to keep the input tree, or process them separately.' : 'Rename one of them, or process them separately.',
      );
    }
    byDest.set(key, i);
  });
  return plans;
}

/** Keeps `.jpeg`/`.JPG` as spelled when the format does not change. */
function chooseExt(inExt: string, format: string | undefined, targetExt?: string): string {
  const target = targetExt ?? format ?? (inExt.toLowerCase() || 'jpg');
  return sameFormat(inExt, target) ? inExt : target;
}

export function sameFormat(a: string, b: string): boolean {
  const norm = (e: string) => ({ jpeg: 'jpg', jpe: 'jpg', tif: 'tiff' })[e.toLowerCase()] ?? e.toLowerCase();
  return norm(a) === norm(b) && a !== '';
}

/** Replaces `dest`'s extension with `ext` unless it already names that format. */
export function withExt(dest: string, ext: string): string {
  const cur = path.extname(dest).slice(1);
  if (sameFormat(cur, ext)) return dest;
  return `${cur ? dest.slice(0, -(cur.length + 1)) : dest}.${ext}`;
}

export async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

export class ConflictError extends Error {
  constructor(readonly dest: string) {
    super(`${dest} already exists`);
  }
}

/**
 * Moves the finished temporary file `tmp` to `dest` under the conflict policy and returns where it
 * went, or undefined when the policy said skip. Never leaves `tmp` behind.
 */
export async function commitFile(tmp: string, dest: string, policy: ConflictPolicy, inPlace = false): Promise<string | undefined> {
  try {
    if (inPlace || policy === 'overwrite') {
      await rename(tmp, dest);
      return dest;
    }
    for (let n = 0; n < 1000; n++) {
      const candidate = n === 0 ? dest : numbered(dest, n);
      try {
        // link() fails with EEXIST instead of replacing: no check-then-write race.
        await link(tmp, candidate);
        return candidate;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        if (policy === 'skip') return undefined;
        if (policy === 'error') throw new ConflictError(dest);
      }
    }
    throw new ConflictError(dest);
  } finally {
    await unlink(tmp).catch(() => undefined);
    liveTemps.delete(tmp);
  }
}

/** `photo.jpg` → `photo (1).jpg` */
function numbered(dest: string, n: number): string {
  const ext = path.extname(dest);
  return `${dest.slice(0, dest.length - ext.length)} (${n})${ext}`;
}

/** Temporary files not yet committed: removed by `removeTempFilesSync` on a hard exit (second Ctrl-C). */
const liveTemps = new Set<string>();

/** A temporary path beside `dest`, on the same file system so the final rename is atomic. */
export async function tempFor(dest: string): Promise<string> {
  const dir = path.dirname(dest);
  await mkdir(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(dest)}.${randomBytes(6).toString('hex')}.iloveimg-tmp`);
  liveTemps.add(tmp);
  return tmp;
}

export function removeTempFilesSync(): void {
  for (const tmp of liveTemps) {
    try {
      unlinkSync(tmp);
    } catch {
      /* already committed or never written */
    }
  }
  liveTemps.clear();
}

/** Writes bytes to `dest` atomically under the policy. */
export async function writeAtomic(dest: string, data: Buffer, policy: ConflictPolicy, inPlace = false): Promise<string | undefined> {
  const tmp = await tempFor(dest);
  await writeFile(tmp, data);
  return commitFile(tmp, dest, policy, inPlace);
}

/** Copies `src` to `dest` atomically under the policy (compress keeping an original). */
export async function copyAtomic(src: string, dest: string, policy: ConflictPolicy): Promise<string | undefined> {
  const tmp = await tempFor(dest);
  await copyFile(src, tmp);
  return commitFile(tmp, dest, policy);
}
