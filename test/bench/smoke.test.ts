// Keeps `npm run bench` working without timing anything: runs the bench at tiny sizes and checks that
// every row produced numbers (no assertion on any time, ratio or target).
import { execFile } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

describe('bench (smoke)', () => {
  it('runs every row at tiny sizes and writes its JSON', async () => {
    const out = join(tmpdir(), `iloveimg-bench-smoke-${process.pid}.json`);
    try {
      const { stdout } = await run(process.execPath, ['bench/run.mjs', '--smoke', '--no-install', '--out', out], { timeout: 170_000, maxBuffer: 4 << 20 });
      const res = JSON.parse(await readFile(out, 'utf8'));
      expect(res.error).toBeUndefined();
      for (const row of ['startup', 'throughput', 'cloud', 'memory', 'compression']) expect(res.rows[row]).toBeDefined();
      expect(stdout).toContain('| # | measurement |');
    } finally {
      await rm(out, { force: true });
    }
  }, 180_000);
});
