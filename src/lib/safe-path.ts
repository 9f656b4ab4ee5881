/**
 * Names that come from a server (zip entries, Content-Disposition) are untrusted: absolute paths,
 * `..`, drive letters, NUL and control characters must never let a write escape the output
 * directory (zip-slip). `safeJoin` keeps harmless sub-folders and refuses or cleans everything else.
 */
import path from 'node:path';

/** One path component made safe, or undefined when nothing usable is left. */
export function cleanComponent(part: string): string | undefined {
  const cleaned = part
    .replace(/[\x00-\x1f\x7f]/g, '')
    .replace(/[<>:"|?*]/g, '_')
    .trim()
    .replace(/[. ]+$/, ''); // Windows drops trailing dots and spaces: `..` hides as `.. .`
  if (!cleaned || cleaned === '.' || cleaned === '..') return undefined;
  return cleaned.slice(0, 200);
}

/**
 * `root` joined with the cleaned components of `untrusted`; always inside `root`. Returns undefined
 * when the name has no usable component at all.
 */
export function safeJoin(root: string, untrusted: string): string | undefined {
  const parts = untrusted
    .replace(/^[a-zA-Z]:/, '') // drive letter
    .split(/[\\/]+/)
    .map(cleanComponent)
    .filter((p): p is string => p !== undefined);
  if (parts.length === 0) return undefined;
  const base = path.resolve(root);
  const full = path.resolve(base, ...parts);
  const rel = path.relative(base, full);
  if (!rel || rel.startsWith('..') || path.isAbsolute(rel)) return undefined;
  return full;
}
