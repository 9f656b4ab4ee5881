/**
 * `iloveimg [command] --help` through a pipe prints the text the build rendered (dist/help/, see
 * scripts/build-help.mjs) without loading commander: it must be exactly what commander prints for the
 * current source, for every command, and a help file from another version must be ignored.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { run } from '../../src/cli.js';
import { registry } from '../../src/commands/index.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { tempDir, removeDir } from '../account/helpers.js';

const VERSION = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

async function commanderHelp(argv: string[]): Promise<string> {
  let out = '';
  const stdout = new PassThrough();
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  const sink = new PassThrough();
  sink.resume();
  const code = await run(argv, { env: {}, cwd: ROOT, stdout, stderr: sink, stdin: new PassThrough(), signal: new AbortController().signal, version: VERSION });
  expect(code).toBe(0);
  return out;
}

const prebuilt = (name: string) => readFileSync(path.join(ROOT, 'dist', 'help', `${name}.txt`), 'utf8');

describe('prebuilt help', () => {
  it('holds, for the program and every command, exactly what commander prints (80 columns, no terminal)', async () => {
    expect(process.stdout.isTTY).toBeFalsy();
    expect(prebuilt('_root')).toBe(`${VERSION}\n${await commanderHelp(['--help'])}`);
    for (const { name } of registry.flatMap((g) => g.commands)) {
      expect(prebuilt(name), name).toBe(`${VERSION}\n${await commanderHelp([name, '--help'])}`);
    }
  });

  it('is what the binary prints for `compress --help` and `-h` through a pipe, with exit code 0', async () => {
    const cwd = await tempDir();
    try {
      for (const argv of [['compress', '--help'], ['resize', '-h'], ['--help']]) {
        const r = await runCli(argv, { cwd });
        expect(r.code).toBe(0);
        expect(r.stdout).toBe(prebuilt(argv.length === 1 ? '_root' : argv[0]).replace(/^[^\n]*\n/, ''));
      }
    } finally {
      await removeDir(cwd);
    }
  });

  it('ignores a help file from another version: commander renders the help instead', async () => {
    const file = path.join(ROOT, 'dist', 'help', 'rotate.txt');
    const good = readFileSync(file, 'utf8');
    const cwd = await tempDir();
    try {
      writeFileSync(file, '0.0.0-stale\nSTALE HELP\n');
      const r = await runCli(['rotate', '--help'], { cwd });
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(good.replace(/^[^\n]*\n/, ''));
    } finally {
      writeFileSync(file, good);
      await removeDir(cwd);
    }
  });
});
