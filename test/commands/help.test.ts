/**
 * The help of every command and subcommand, as a person reads it, kept as snapshots: a flag added,
 * renamed or re-described shows in review as a change to `__snapshots__/help.test.ts.snap`.
 * Update them deliberately with `npx vitest run test/commands/help.test.ts -u`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli.js';
import { registry } from '../../src/commands/index.js';
import { runInProcess } from '../helpers/inproc.js';

let cwd: string;
beforeAll(async () => {
  cwd = await mkdtemp(path.join(os.tmpdir(), 'iloveimg-help-'));
});
afterAll(async () => {
  await rm(cwd, { recursive: true, force: true });
});

/** Every command path of the program: ['compress'], ['tasks', 'list'], … */
async function commandPaths(): Promise<string[][]> {
  const program = await buildProgram({ env: {}, cwd: os.tmpdir(), stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, signal: new AbortController().signal, version: '0.0.0-test' });
  const paths: string[][] = [];
  const walk = (cmd: Command, prefix: string[]) => {
    for (const sub of cmd.commands) {
      if (sub.name() === 'help') continue;
      const p = [...prefix, sub.name()];
      paths.push(p);
      walk(sub, p);
    }
  };
  walk(program, []);
  return paths;
}

describe('help', () => {
  it('covers every command of the registry', async () => {
    const top = new Set((await commandPaths()).filter((p) => p.length === 1).map((p) => p[0]));
    for (const group of registry) for (const c of group.commands) expect(top.has(c.name), c.name).toBe(true);
  });

  it('the root help', async () => {
    const { code, stdout } = await runInProcess(['--help'], { cwd, env: { COLUMNS: '100' } });
    expect(code).toBe(0);
    expect(stdout).toMatchSnapshot();
  });

  it('every command and subcommand', async () => {
    for (const p of await commandPaths()) {
      const { code, stdout } = await runInProcess([...p, '--help'], { cwd, env: { COLUMNS: '100' } });
      expect(code, p.join(' ')).toBe(0);
      expect(stdout, p.join(' ')).toMatchSnapshot(p.join(' '));
    }
  });
});
