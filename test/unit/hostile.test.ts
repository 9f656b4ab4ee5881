/** The pure pieces behind the hostile-server guarantees (README "Security"). */
import { zipSync } from 'fflate';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { limitsFor, parseSize } from '../../src/api/download-limits.js';
import { safeFileName } from '../../src/lib/safe-name.js';
import { addSecret, cleanText, redact } from '../../src/lib/sanitize.js';
import { extractEntry, listZip } from '../../src/run/unzip-bounded.js';
import { zipBomb } from '../helpers/bombs.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'iloveimg-unit-hostile-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('safeFileName', () => {
  it.each([
    ['.bashrc', 'bashrc'],
    ['.ssh/authorized_keys', 'authorized_keys'],
    ['../../x.jpg', 'x.jpg'],
    ['C:\\Windows\\x.jpg', 'x.jpg'],
    ['a/b/c.jpg', 'c.jpg'],
    ['...hidden.jpg', 'hidden.jpg'],
    ['CON', '_CON'],
    ['nul.txt', '_nul.txt'],
    ['LPT1.jpg', '_LPT1.jpg'],
    ['ok\u0000\u001b[2J.jpg', 'ok[2J.jpg'],
    ['r\u202eg\u200fp.jpg', 'rgp.jpg'],
  ])('%j → %j', (name, expected) => expect(safeFileName(name)).toBe(expected));
  it.each(['..', '.', '/', '...', ' . ', ''])('%j has no usable name', (name) => expect(safeFileName(name)).toBeUndefined());
});

describe('cleanText and redact', () => {
  it('removes control characters, C1 included, and folds line breaks', () => {
    expect(cleanText('a\u001b[2J\u001b]0;x\u0007b\u009b31m\r\nc\u007f')).toBe('a[2J]0;xb31m c');
  });
  it('removes registered secrets and anything shaped like a JWT', () => {
    addSecret('secret_key_unit_redact_0123');
    addSecret('short'); // too short to match safely: ignored
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJqdGkiOiJ4In0.c2lnbmF0dXJl';
    expect(redact(`key secret_key_unit_redact_0123 and Bearer ${jwt}; short`)).toBe('key [redacted] and Bearer [redacted token]; short');
  });
});

describe('download limits', () => {
  it('derive from the inputs and the tool, and ILOVEIMG_MAX_RESULT_SIZE replaces them', () => {
    const MiB = 1024 * 1024;
    expect(limitsFor({ tools: ['compressimage'], inputBytes: 10 * MiB, largestInput: 2 * MiB })).toEqual({ maxBytes: 64 * MiB + 200 * MiB, maxEntryBytes: 64 * MiB + 40 * MiB, maxRatio: 100 });
    expect(limitsFor({ tools: ['resizeimage', 'upscaleimage'], inputBytes: MiB, largestInput: MiB }).maxBytes).toBe(264 * MiB);
    expect(limitsFor({ tools: ['upscaleimage'], inputBytes: MiB, largestInput: MiB, override: 5000 })).toMatchObject({ maxBytes: 5000, maxEntryBytes: 5000 });
  });
  it.each([
    ['1000', 1000],
    ['2GB', 2e9],
    ['500 MiB', 500 * 1024 * 1024],
    ['1.5kB', 1500],
  ])('parseSize(%j) = %d', (text, bytes) => expect(parseSize(text)).toBe(bytes));
  it.each(['lots', '-1', '0', '5 parsecs'])('parseSize(%j) throws', (text) => expect(() => parseSize(text)).toThrow(/not a size/));
});

describe('bounded unzip', () => {
  it('reads stored and deflated entries, skips folders, and stops a bomb at its bound', async () => {
    const zip = path.join(dir, 'a.zip');
    await writeFile(zip, zipSync({ 'x/': new Uint8Array(0), 'x/a.jpg': [new Uint8Array([1, 2, 3]), { level: 0 }], 'b.png': [new Uint8Array(5000).fill(7), { level: 9 }] }));
    const entries = await listZip(zip);
    expect(entries.map((e) => [e.name, e.method])).toEqual([
      ['x/a.jpg', 0],
      ['b.png', 8],
    ]);
    const out = path.join(dir, 'b.png');
    expect(await extractEntry(zip, entries[1], out, { maxBytes: 10_000, maxRatio: 1000 })).toMatchObject({ bytes: 5000 });
    expect(await readFile(out)).toEqual(Buffer.alloc(5000, 7));
    await expect(extractEntry(zip, entries[1], path.join(dir, 'b2.png'), { maxBytes: 4000, maxRatio: 1000 })).rejects.toThrow(/larger than 4000 bytes/);

    const bomb = path.join(dir, 'bomb.zip');
    await writeFile(bomb, await zipBomb(['z.jpg'], Buffer.from([0xff, 0xd8, 0xff]), 64 * 1024 * 1024));
    const [z] = await listZip(bomb);
    await expect(extractEntry(bomb, z, path.join(dir, 'z.jpg'), { maxBytes: 1e12, maxRatio: 100 })).rejects.toThrow(/inflates more than 100 times/);
  });
  it('refuses what is not a zip', async () => {
    const junk = path.join(dir, 'junk.zip');
    await writeFile(junk, 'PK\u0003\u0004 but nothing else');
    await expect(listZip(junk)).rejects.toThrow(/not a readable zip/);
  });
});
