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
import { constants as fsConstants } from 'node:fs';
import { chmod, chown, link, mkdir, realpath, rename, stat, unlink, writeFile, copyFile } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../lib/errors.js';
import { trackTempFile, untrackTempFile } from '../lib/cleanup.js';
import type { InputItem } from './inputs.js';
import type { ConflictPolicy } from './model.js';


export interface OutputOptions {
  outputDir?: string;
  flat?: boolean;
  inPlace?: boolean;
  suffix: string;
  onConflict: ConflictPolicy;
  cwd?: string;
  /** `--name` template ({name}, {ext}, {tool}, {n}) and the command, for the file names written. */
  naming?: { name?: string; tool: string };
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
  const plans = items.map((item, index): PlannedOutput => {
    // `-` writes to stdout, unless -o names a directory: then `DIR/stdin.EXT`.
    if (item.kind === 'stdin') {
      const ext = targetExt ?? item.format ?? 'jpg';
      return { dest: opts.outputDir ? path.resolve(cwd, opts.outputDir, `stdin.${ext}`) : '-', ext };
    }
    const inExt = path.extname(item.rel).slice(1);
    const ext = chooseExt(inExt, item.format, targetExt);
    const stem = inExt ? item.rel.slice(0, -(inExt.length + 1)) : item.rel;
    if (opts.inPlace) {
      if (item.kind !== 'file') throw new UsageError(`--in-place needs local files; ${item.display} is not one`);
      if (ext !== inExt) throw new UsageError(`--in-place cannot change ${item.display} to .${ext}`, 'Use -o DIR to write converted files elsewhere.');
      return { dest: item.source, ext };
    }
    const named = opts.naming?.name !== undefined ? fillName(opts.naming.name, { name: path.basename(stem), ext, tool: opts.naming.tool, n: index + 1 }) : undefined;
    if (opts.outputDir) {
      const rel = opts.flat || item.kind === 'url' ? path.basename(stem) : stem;
      return { dest: path.resolve(cwd, opts.outputDir, named ? path.join(path.dirname(rel), named) : `${rel}.${ext}`), ext };
    }
    const dir = item.kind === 'file' ? path.dirname(item.source) : cwd;
    return { dest: path.join(dir, named ?? fitName(path.basename(stem), `-${opts.suffix}.${ext}`)), ext };
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

/**
 * `--name '{name}.min.{ext}'` → `photo.min.jpg`: {name} is the input's name without its extension,
 * {ext} the result's extension, {tool} the command, {n} the input's position (1, 2, …).
 */
export function fillName(template: string, v: { name: string; ext: string; tool: string; n: number }): string {
  const out = template.replace(/\{(name|ext|tool|n)\}/g, (_, k: keyof typeof v) => String(v[k]));
  const unknown = /\{[^}]*\}/.exec(out);
  if (unknown) throw new UsageError(`--name: unknown placeholder ${unknown[0]}`, 'Use {name}, {ext}, {tool} and {n}.');
  if (/[/\\]/.test(out) || out === '' || out === '.' || out === '..') throw new UsageError(`--name must give a file name, not a path: ${JSON.stringify(template)}`);
  return out;
}

/** `stem + tail`, with the stem cut (at a character boundary) so the name fits NAME_MAX, 255 bytes. */
function fitName(stem: string, tail: string): string {
  let cut = stem;
  while (Buffer.byteLength(cut + tail) > 255 && cut.length > 1) cut = [...cut].slice(0, -1).join('');
  return cut + tail;
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
 * The one message of a destination that exists under `--on-conflict error`, whether found before the
 * upload or at the write; `resume` adds the `--resume` hint (an `-o DIR` run without it).
 */
export class OutputExistsError extends Error {
  readonly type = 'OutputExists';
  constructor(shown: string, resume = false) {
    super(`${shown} already exists; ${resume ? 'pass --resume to skip what an earlier run finished, or ' : 'pass '}--on-conflict overwrite|rename|skip, or choose another --output-dir`);
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
    untrackTempFile(tmp);
  }
}

/** `photo.jpg` → `photo (1).jpg` */
function numbered(dest: string, n: number): string {
  const ext = path.extname(dest);
  return `${dest.slice(0, dest.length - ext.length)} (${n})${ext}`;
}

/**
 * A temporary path beside `dest`, on the same file system so the final rename is atomic. Its name
 * stays within NAME_MAX (255 bytes) whatever the destination's: a long name is cut, not lengthened.
 */
export async function tempFor(dest: string): Promise<string> {
  const dir = path.dirname(dest);
  await mkdir(dir, { recursive: true });
  const base = Buffer.byteLength(path.basename(dest)) > 200 ? 'iloveimg' : path.basename(dest);
  const tmp = path.join(dir, `.${base}.${randomBytes(6).toString('hex')}.iloveimg-tmp`);
  // Removed on a hard exit (second Ctrl-C) unless committed first.
  trackTempFile(tmp);
  return tmp;
}

/**
 * Copies `src` to `dest` atomically under the policy (a downloaded result; compress keeping an
 * original). In place, the file keeps its mode (and owner and group where the user may set them), and
 * a symbolic link is written through: its target is replaced and the link stays a link (README "Outputs").
 */
export async function copyAtomic(src: string, dest: string, policy: ConflictPolicy, inPlace = false): Promise<string | undefined> {
  return placeAtomic(dest, policy, inPlace, (tmp) => copyFile(src, tmp, fsConstants.COPYFILE_EXCL));
}

/** A temporary file beside the destination, filled by `fill`, then committed under the policy. */
async function placeAtomic(dest: string, policy: ConflictPolicy, inPlace: boolean, fill: (tmp: string) => Promise<void>): Promise<string | undefined> {
  if (inPlace) {
    const real = await realpath(dest);
    const st = await stat(real);
    const tmp = await tempFor(real);
    await fill(tmp);
    await chmod(tmp, st.mode & 0o7777);
    await chown(tmp, st.uid, st.gid).catch(() => undefined);
    await commitFile(tmp, real, policy, true);
    return dest;
  }
  const tmp = await tempFor(dest);
  await fill(tmp);
  return commitFile(tmp, dest, policy, inPlace);
}

/**
 * Makes sure results can be written to `dir` before anything is sent: creates it (one level at a
 * time: a recursive mkdir under /proc never returns) and writes and removes a probe file. Returns why
 * not, or undefined when it can.
 */
export async function checkWritableDir(dir: string): Promise<string | undefined> {
  const missing: string[] = [];
  for (let cur = dir; ; cur = path.dirname(cur)) {
    const st = await stat(cur).catch((e: NodeJS.ErrnoException) => e);
    if (!(st instanceof Error)) {
      if (!st.isDirectory()) return `${cur} is not a directory`;
      break;
    }
    if (st.code !== 'ENOENT') return `${cur}: ${st.message}`;
    missing.unshift(cur);
    if (path.dirname(cur) === cur) break;
  }
  try {
    for (const d of missing) await mkdir(d).catch((e: NodeJS.ErrnoException) => (e.code === 'EEXIST' ? undefined : Promise.reject(e)));
    const probe = path.join(dir, `.iloveimg-probe-${randomBytes(6).toString('hex')}`);
    await writeFile(probe, '', { flag: 'wx' });
    await unlink(probe);
    return undefined;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = { EACCES: 'permission denied', EPERM: 'operation not permitted', EROFS: 'read-only file system', ENOENT: 'cannot be created there', ENOTDIR: 'a parent is not a directory', ENOSPC: 'no space left' }[err.code ?? ''];
    return `cannot write to ${dir}: ${why ?? err.message}`;
  }
}

