/**
 * The table of global settings (src/account/global-options.ts) feeds the root options, their help,
 * the `Environment:` help and the options read for the connection.
 */
import { PassThrough } from 'node:stream';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram, ENV_HELP } from '../../src/cli.js';
import { GLOBAL_OPTIONS, flagHelp, longFlag } from '../../src/account/global-options.js';
import { connectionFlags, type AppContext } from '../../src/lib/context.js';

const ctx = (): AppContext => ({ env: {}, cwd: process.cwd(), stdout: new PassThrough(), stderr: new PassThrough(), stdin: new PassThrough(), signal: new AbortController().signal, version: '0.0.0-test' });

/** The connection flags the action of `argv` would get (the action itself is not run). */
async function flagsOf(argv: string[]): Promise<{ flags: Record<string, unknown>; own: Record<string, unknown> }> {
  const program = await buildProgram(ctx());
  let seen: { flags: Record<string, unknown>; own: Record<string, unknown> } | undefined;
  program.hook('preAction', (_root, action: Command) => {
    seen = { flags: connectionFlags(action), own: action.opts() };
    throw new Error('stop before the action');
  });
  await expect(program.parseAsync(argv, { from: 'user' })).rejects.toThrow('stop before the action');
  return seen!;
}

describe('the table of global settings', () => {
  it('lists every variable of the table under Environment:, with its flag when there is one', () => {
    for (const o of GLOBAL_OPTIONS.filter((row) => row.env)) {
      const line = ENV_HELP.split('\n').find((l) => l.trimStart().startsWith(`${o.env} `));
      expect(line, o.env).toContain(o.help);
      if (o.flags) expect(line).toContain(`like ${longFlag(o)}`);
    }
    expect(ENV_HELP).toMatch(/^ {2}ILOVEIMG_API_URL +API base URL \(default https:\/\/api\.iloveimg\.com; like --api-url\)$/m);
  });

  it("gives each root option its row's help, default and variable", async () => {
    const program = await buildProgram(ctx());
    for (const o of GLOBAL_OPTIONS.filter((row) => row.flags)) {
      expect(program.options.find((opt) => opt.long === longFlag(o))?.description).toBe(flagHelp(o));
    }
    expect(flagHelp(GLOBAL_OPTIONS.find((o) => o.prop === 'secretKey')!)).toBe('Project secret key (env ILOVEIMG_SECRET_KEY; prefer the env or a profile: flags show in `ps`)');
  });

  it("reads a root option from the root: `tasks wait --max-wait` (seconds) is not the request timeout", async () => {
    const plain = await flagsOf(['tasks', 'wait', 'abc']);
    expect(plain.own.maxWait).toBe(3600);
    expect(plain.flags.timeout).toBeUndefined();
    const both = await flagsOf(['--timeout', '12', 'tasks', 'wait', 'abc', '--max-wait', '7']);
    expect(both.own.maxWait).toBe(7);
    expect(both.flags.timeout).toBe(12_000);
    const after = await flagsOf(['tasks', 'wait', 'abc', '--timeout', '12']);
    expect(after.own.maxWait).toBe(3600);
    expect(after.flags.timeout).toBe(12_000);
  });

  it("still takes a tool's own --file-encryption-key, and the parsed root options", async () => {
    const { flags } = await flagsOf(['--retries', '2', '--profile', 'work', 'compress', 'a.jpg', '--file-encryption-key', '0123456789abcdef']);
    expect(flags).toMatchObject({ retries: 2, profile: 'work', fileEncryptionKey: '0123456789abcdef' });
  });
});
