/** Quoting for the generated scripts. */

/** A POSIX-shell (bash, zsh) single-quoted word. */
export function sq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A fish single-quoted string (backslash and quote escaped). */
export function fishq(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** A PowerShell single-quoted string (a quote is doubled). */
export function psq(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}
