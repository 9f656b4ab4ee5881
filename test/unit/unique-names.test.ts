/** One rule for making names unique (src/run/member.ts) and one list of invisible characters (src/lib/sanitize.ts). */
import { describe, expect, it } from 'vitest';
import { stem, uniqueName, uniqueNames } from '../../src/run/member.js';
import { safeFileName } from '../../src/lib/safe-name.js';
import type { InputItem } from '../../src/run/inputs.js';

describe('uniqueName', () => {
  it('numbers repeats before the extension, case-insensitively by default', () => {
    const used = new Set<string>();
    expect(['x.jpg', 'X.JPG', 'x.jpg', 'noext', 'noext', '.hidden', '.hidden'].map((n) => uniqueName(n, used))).toEqual([
      'x.jpg',
      'X~2.JPG',
      'x~3.jpg',
      'noext',
      'noext~2',
      '.hidden',
      '.hidden~2',
    ]);
  });

  it('takes another key: names unique by stem within a task', () => {
    const used = new Set<string>();
    expect(['a.jpg', 'a.png', 'A.gif'].map((n) => uniqueName(n, used, stem))).toEqual(['a.jpg', 'a~2.png', 'A~3.gif']);
    const items = ['d1/x.jpg', 'd2/x.png', 'd3\\x.webp'].map((rel) => ({ rel }) as InputItem);
    expect(uniqueNames(items)).toEqual(['x.jpg', 'x~2.png', 'x~3.webp']);
  });
});

describe('safeFileName', () => {
  it('drops C0 and C1 controls and bidirectional marks, as printed text does', () => {
    expect(safeFileName('evil\u202egpj.exe')).toBe('evilgpj.exe');
    expect(safeFileName('a\u0085b\u009bc\u2066.png')).toBe('abc.png');
    expect(safeFileName('dir/\u001b[31mred.jpg')).toBe('[31mred.jpg');
    expect(safeFileName('\u200e.bashrc')).toBe('bashrc');
  });
});
