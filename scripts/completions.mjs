#!/usr/bin/env node
// Writes the shell completion scripts in completions/ from the BUILT program (dist/): the same
// generator `iloveimg completion <shell>` runs, so the committed files are exactly what it prints.
// Run through `npm run completions` (which builds first). test/completion/ fails when they are stale.
import { mkdir, writeFile } from 'node:fs/promises';
import { PassThrough } from 'node:stream';

const root = new URL('../', import.meta.url);
const { buildProgram } = await import(new URL('dist/cli.js', root).href);
const { readFile } = await import('node:fs/promises');
const { version } = JSON.parse(await readFile(new URL('package.json', root), 'utf8'));
const { generate, SHELLS, COMPLETION_FILES } = await import(new URL('dist/completion/index.js', root).href);

const sink = () => new PassThrough();
const program = await buildProgram({
  env: {},
  cwd: process.cwd(),
  stdout: sink(),
  stderr: sink(),
  stdin: sink(),
  signal: new AbortController().signal,
  version,
});
const dir = new URL('completions/', root);
await mkdir(dir, { recursive: true });
for (const shell of SHELLS) {
  const file = new URL(COMPLETION_FILES[shell](program.name()), dir);
  await writeFile(file, generate(shell, program));
  console.log(`wrote ${file.pathname.replace(root.pathname, '')}`);
}
