#!/usr/bin/env node
// Part of `npm run build` (after tsc): writes dist/help/<command>.txt (dist/help/_root.txt for the
// program), the text of `iloveimg --help` and of
// `iloveimg <command> --help` for every command, rendered by the BUILT program exactly as commander
// prints it when stdout is not a terminal (80 columns, no colour). src/main.ts prints it from there
// without loading commander or any command module: `compress --help` then starts as fast as
// `--version` (docs/performance.md, "Start-up"), in a pipe or a terminal of 80 columns or more; a
// narrower terminal has commander render it to its width.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { PassThrough } from 'node:stream';

const root = new URL('../', import.meta.url);
// Render as for a pipe, even when the build itself runs in a terminal.
Object.defineProperty(process.stdout, 'isTTY', { value: false, configurable: true });
const { run } = await import(new URL('dist/cli.js', root).href);
const { registry } = await import(new URL('dist/commands/index.js', root).href);
const { version } = JSON.parse(await readFile(new URL('package.json', root), 'utf8'));

async function helpOf(argv) {
  let out = '';
  const stdout = new PassThrough();
  stdout.on('data', (d) => (out += d));
  const sink = new PassThrough();
  sink.resume();
  const code = await run(argv, { env: {}, cwd: process.cwd(), stdout, stderr: sink, stdin: new PassThrough(), signal: new AbortController().signal, version });
  if (code !== 0) throw new Error(`iloveimg ${argv.join(' ')} exited ${code}`);
  return out;
}

// Each file's first line is the version it was built for: src/main.ts ignores a file from another build.
const dir = new URL('dist/help/', root);
await rm(dir, { recursive: true, force: true });
await mkdir(dir, { recursive: true });
await writeFile(new URL('_root.txt', dir), `${version}\n${await helpOf(['--help'])}`);
for (const { name } of registry.flatMap((g) => g.commands)) await writeFile(new URL(`${name}.txt`, dir), `${version}\n${await helpOf([name, '--help'])}`);
