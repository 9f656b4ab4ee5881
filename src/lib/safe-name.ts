/**
 * Where a server-named result may go (README "Security"): `tasks download` writes each file directly
 * under the destination as ONE safe path component, and batch runs never write through a symbolic
 * link found below the output directory.
 */
import { lstat, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { cleanComponent } from './safe-path.js';
import { cleanText } from './sanitize.js';

/** Device names Windows reserves, with or without an extension. */
const RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$/i;

/**
 * One plain file name from an untrusted one: the last component only (no folders), no control
 * characters, no leading dot (no `.bashrc`, `.ssh`), no reserved device name. Undefined when nothing
 * usable is left.
 */
export function safeFileName(untrusted: string): string | undefined {
  const last = untrusted
    .replace(/^[a-zA-Z]:/, '')
    .split(/[\\/]+/)
    .map(cleanComponent)
    .filter((p): p is string => p !== undefined)
    .pop();
  // cleanComponent took the C0 controls; cleanText takes the C1 range and the bidirectional marks.
  const name = last && cleanText(last).replace(/^[.\s]+/, '');
  if (!name) return undefined;
  return RESERVED.test(name) ? `_${name}` : name;
}

export class UnsafeDestinationError extends Error {
  readonly type = 'UnsafeDestination';
}

/**
 * Creates `dir` below `root` one level at a time, refusing any level that exists as a symbolic link
 * or as something other than a folder: a result is never written through a link that points out of
 * the output directory. `root` itself is the user's choice and may be a link.
 */
export async function realDirsBelow(root: string, dir: string): Promise<void> {
  const rel = path.relative(root, dir);
  if (rel.startsWith('..') || path.isAbsolute(rel)) throw new UnsafeDestinationError(`${dir} is outside ${root}`);
  await mkdir(root, { recursive: true });
  let at = root;
  for (const part of rel.split(path.sep).filter(Boolean)) {
    at = path.join(at, part);
    const st = await lstat(at).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : Promise.reject(e)));
    if (!st) {
      await mkdir(at).catch((e: NodeJS.ErrnoException) => (e.code === 'EEXIST' ? undefined : Promise.reject(e)));
      if ((await lstat(at)).isDirectory()) continue;
    } else if (st.isDirectory()) continue;
    throw new UnsafeDestinationError(`${at} is ${st?.isSymbolicLink() ? 'a symbolic link' : 'not a folder'}; results are not written through it`);
  }
}
