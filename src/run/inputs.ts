/**
 * Resolves what the user named into the list of inputs of a run: files, directories (with -r), quoted
 * or unquoted globs expanded in-process by fast-glob (so `*.jpg` behaves the same in bash, zsh, cmd
 * and PowerShell), http(s) URLs, `--files-from`, and `-` for one image on stdin.
 *
 * Decisions, where the issues leave room:
 * - A file named explicitly that does not exist, is empty or is not an image is a *failed* entry
 *   (the user asked for it); a non-image that a glob or a directory walk swept in is *skipped*
 *   (`photos/*` matching README.txt is not an error). Neither is ever opened for writing.
 * - A glob matching nothing is a warning; a run left with no input at all is a usage error (exit 2).
 * - Inputs are de-duplicated by real path, keeping the first mention.
 */
import { lstat, open, readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../lib/errors.js';

export type InputKind = 'file' | 'url' | 'stdin';

export interface InputItem {
  kind: InputKind;
  /** Absolute path, URL, or `-`. */
  source: string;
  /** What to call it in messages and reports: the path as the user would write it. */
  display: string;
  /** Path relative to its glob base or directory argument: what `-o` mirrors. */
  rel: string;
  /** Bytes on disk (0 for URLs and stdin until read). */
  size: number;
  /** The sniffed format (jpg, png, gif, webp, tiff, bmp, avif, heic, svg), when known. */
  format?: string;
  /** The bytes of the `-` input, read once (stdin cannot be read twice). */
  data?: Buffer;
}

export interface Rejected {
  display: string;
  source: string;
  status: 'failed' | 'skipped';
  reason: string;
  type: string;
}

export interface ResolveOptions {
  recursive?: boolean;
  filesFrom?: string[];
  cwd?: string;
  stdin?: NodeJS.ReadableStream;
}

export interface Resolved {
  items: InputItem[];
  rejected: Rejected[];
  warnings: string[];
}

export async function resolveInputs(args: string[], opts: ResolveOptions = {}): Promise<Resolved> {
  const cwd = opts.cwd ?? process.cwd();
  const out: Resolved = { items: [], rejected: [], warnings: [] };
  const seen = new Set<string>();
  const names = [...args];
  for (const list of opts.filesFrom ?? []) names.push(...(await readList(list, opts.stdin)));

  const add = async (abs: string, rel: string, explicit: boolean) => {
    const real = await realpath(abs).catch(() => abs);
    if (seen.has(real)) return;
    seen.add(real);
    const display = displayPath(abs, cwd);
    const st = await stat(abs);
    const format = st.size > 0 ? await sniffFile(abs) : undefined;
    if (st.size === 0 || !format) {
      const reason = st.size === 0 ? 'empty file' : 'not an image (unknown file signature)';
      out.rejected.push({ display, source: abs, status: explicit ? 'failed' : 'skipped', reason, type: st.size === 0 ? 'EmptyFile' : 'NotAnImage' });
      return;
    }
    out.items.push({ kind: 'file', source: abs, display, rel, size: st.size, format });
  };

  let stdinUsed = false;
  for (const name of names) {
    if (name === '-') {
      if (stdinUsed) throw new UsageError('`-` (standard input) can be given only once');
      stdinUsed = true;
      // Read now: the format decides the name sent to the API and the output's extension.
      const data = await readAll(opts.stdin ?? process.stdin);
      const format = data.length ? sniff(data.subarray(0, 512)) : undefined;
      if (!format) {
        const reason = data.length ? 'not an image (unknown file signature)' : 'empty input';
        out.rejected.push({ display: '<stdin>', source: '-', status: 'failed', reason, type: data.length ? 'NotAnImage' : 'EmptyFile' });
        continue;
      }
      out.items.push({ kind: 'stdin', source: '-', display: '<stdin>', rel: `stdin.${format}`, size: data.length, format, data });
      continue;
    }
    if (/^https?:\/\//i.test(name)) {
      let url: URL;
      try {
        url = new URL(name);
      } catch {
        throw new UsageError(`${name}: not a valid URL`);
      }
      if (seen.has(url.href)) continue;
      seen.add(url.href);
      const base = decodeURIComponent(path.posix.basename(url.pathname)) || 'download';
      out.items.push({ kind: 'url', source: url.href, display: url.href, rel: safeName(base), size: 0 });
      continue;
    }
    const abs = path.resolve(cwd, name);
    const st = await lstat(abs).then(
      () => stat(abs),
      () => undefined,
    );
    if (st?.isDirectory()) {
      if (!opts.recursive) {
        throw new UsageError(`${name} is a directory`, `Add -r to process the images inside it, or name the files (e.g. '${name}/*.jpg').`);
      }
      const found = await glob('**/*', abs);
      if (found.length === 0) out.warnings.push(`${name}: no files in this directory`);
      for (const f of found) await add(f, path.relative(abs, f), false);
      continue;
    }
    if (st?.isFile()) {
      await add(abs, path.basename(abs), true);
      continue;
    }
    if (st) {
      out.rejected.push({ display: name, source: abs, status: 'failed', reason: 'not a regular file', type: 'NotAFile' });
      continue;
    }
    const fg = (await import('fast-glob')).default;
    if (fg.isDynamicPattern(name)) {
      const pattern = toPattern(name);
      const base = path.resolve(cwd, fg.generateTasks([pattern])[0]?.base ?? '.');
      const found = await glob(pattern, cwd);
      if (found.length === 0) out.warnings.push(`'${name}' matched no files`);
      for (const f of found) await add(f, path.relative(base, f), false);
      continue;
    }
    out.rejected.push({ display: name, source: abs, status: 'failed', reason: 'no such file', type: 'NotFound' });
  }
  return out;
}

async function glob(pattern: string, cwd: string): Promise<string[]> {
  const fg = (await import('fast-glob')).default;
  const found = await fg(pattern, { cwd, absolute: true, onlyFiles: true, dot: false, followSymbolicLinks: true, unique: true });
  return found.map((f) => path.resolve(f)).sort();
}

/** Windows users type backslashes; fast-glob wants forward slashes. */
function toPattern(name: string): string {
  return process.platform === 'win32' ? name.replace(/\\/g, '/') : name;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
}

async function readList(file: string, stdin?: NodeJS.ReadableStream): Promise<string[]> {
  let text: string;
  if (file === '-') {
    text = (await readAll(stdin ?? process.stdin)).toString('utf8');
  } else {
    text = await readFile(file, 'utf8').catch(() => {
      throw new UsageError(`--files-from ${file}: cannot read this file`);
    });
  }
  // NUL-separated (find -print0) when there is a NUL, else one name a line.
  const sep = text.includes('\0') ? '\0' : /\r?\n/;
  return text.split(sep).map((s) => s.trim()).filter((s) => s && !s.startsWith('#'));
}

/** A path as the user would write it: relative to `cwd` when inside it, else absolute. */
export function displayPath(abs: string, cwd: string): string {
  const rel = path.relative(cwd, abs);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : abs;
}

/** A file name that is safe to create anywhere: no separators, controls or dot-only names. */
export function safeName(name: string): string {
  const cleaned = name
    .replace(/[\\/]/g, '_')
    .replace(/[\x00-\x1f\x7f<>:"|?*]/g, '_')
    .replace(/^\.+/, '')
    .trim()
    .slice(0, 200);
  return cleaned || 'file';
}

async function sniffFile(file: string): Promise<string | undefined> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(512);
    const { bytesRead } = await fh.read(buf, 0, 512, 0);
    return sniff(buf.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}

/** Tells an image format from its first bytes; undefined for anything else. */
export function sniff(b: Buffer): string | undefined {
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpg';
  if (b.length >= 8 && b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'png';
  if (b.length >= 6 && /^GIF8[79]a$/.test(b.subarray(0, 6).toString('latin1'))) return 'gif';
  if (b.length >= 12 && b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WEBP') return 'webp';
  if (b.length >= 4 && (b.subarray(0, 4).equals(Buffer.from([0x49, 0x49, 0x2a, 0x00])) || b.subarray(0, 4).equals(Buffer.from([0x4d, 0x4d, 0x00, 0x2a])))) return 'tiff';
  if (b.length >= 2 && b[0] === 0x42 && b[1] === 0x4d) return 'bmp';
  if (b.length >= 12 && b.subarray(4, 8).toString('latin1') === 'ftyp') {
    const brand = b.subarray(8, 12).toString('latin1');
    if (/^avi[fs]$/.test(brand)) return 'avif';
    if (/^(heic|heix|hevc|mif1|msf1)$/.test(brand)) return 'heic';
  }
  const head = b.toString('utf8').replace(/^\uFEFF/, '').trimStart().slice(0, 512);
  if (/^(<\?xml[^>]*>\s*)?(<!--[\s\S]*?-->\s*)*(<!DOCTYPE svg[^>]*>\s*)?<svg[\s>]/i.test(head)) return 'svg';
  return undefined;
}
