/**
 * What keeps the client's peak memory flat (docs/performance.md, "Memory"): the journal hashes inputs
 * through one reused buffer, and the CLI bounds V8's young generation before it loads the program.
 */
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashFile } from '../../src/run/journal.js';
import { runCli, tempDir } from '../helpers/cli.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('hashFile', () => {
  it('hashes empty, small and multi-read files (also at once) like sha256 of their bytes', async () => {
    const dir = await tempDir('iloveimg-hash-');
    const sizes = [0, 1, 1000, 64 * 1024, 200_001, 3 * 1024 * 1024 + 7];
    const files = await Promise.all(
      sizes.map(async (n, i) => {
        const bytes = Buffer.alloc(n);
        for (let k = 0; k < n; k++) bytes[k] = (k * 31 + i) & 0xff;
        const file = path.join(dir, `f${i}.bin`);
        await writeFile(file, bytes);
        return { file, bytes };
      }),
    );
    const hashes = await Promise.all(files.map((f) => hashFile(f.file)));
    expect(hashes).toEqual(files.map((f) => sha256(f.bytes)));
    // Again, one after the other: the buffers the first round returned are reused.
    for (const f of files) expect(await hashFile(f.file)).toBe(sha256(f.bytes));
  });

  it('a missing file rejects with ENOENT, and the next hash is still right', async () => {
    const dir = await tempDir('iloveimg-hash-');
    await expect(hashFile(path.join(dir, 'missing.jpg'))).rejects.toMatchObject({ code: 'ENOENT' });
    const file = path.join(dir, 'a.txt');
    await writeFile(file, 'abc');
    expect(await hashFile(file)).toBe(sha256(Buffer.from('abc')));
  });
});

describe('V8 heap bounds of the CLI', () => {
  // At exit, allocate objects that survive several scavenges: V8 then grows its young generation to
  // 2 × 16 MB by default; the CLI's flags keep it at its starting size.
  const probe = `
const fs = require('node:fs');
const v8 = require('node:v8');
process.on('exit', () => {
  const keep = [];
  for (let i = 0; i < 400000; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 50000) keep.splice(0, 10000); }
  const ns = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
  fs.writeFileSync(process.env.NEWSPACE_FILE, String(ns.space_size));
});`;

  async function newSpaceAfterRun(nodeOptions: string): Promise<number> {
    const cwd = await tempDir('iloveimg-heap-');
    const probeFile = path.join(cwd, 'probe.cjs');
    await writeFile(probeFile, probe);
    const out = path.join(cwd, 'new-space.txt');
    const res = await runCli(['config', 'list'], { cwd, env: { NODE_OPTIONS: `--require ${probeFile} ${nodeOptions}`, NEWSPACE_FILE: out } });
    expect(res.code).toBe(0);
    return Number(await readFile(out, 'utf8'));
  }

  it('keeps the young generation at its starting size', async () => {
    expect(await newSpaceAfterRun('')).toBeLessThanOrEqual(4 * 1024 * 1024);
  });

  it("leaves a user's own semi-space flag alone", async () => {
    expect(await newSpaceAfterRun('--max-semi-space-size=16')).toBeGreaterThan(8 * 1024 * 1024);
  });
});
