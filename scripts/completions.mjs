#!/usr/bin/env node
// Writes the shell completion scripts in completions/ from the BUILT program (dist/): the same
// generator `iloveimg completion <shell>` runs, so the committed files are exactly what it prints.
// Run through `npm run completions` (which builds first). test/completion/ fails when they are stale.
import { mkdir, writeFile } from 'node:fs/promises';
import { PassThrough } from 'node:stream';

const root = new URL('../', import.meta.url);
const { buildProgram, version } = await import(new URL('dist/cli.js', root).href);
const { generate, SHELLS, COMPLETION_FILES } = await import(new URL('dist/lib/completion/index.js', root).href);

const sink = () => new PassThrough();
const program = buildProgram({
  env: {},
  cwd: process.cwd(),
  stdout: sink(),
  stderr: sink(),
  stdin: sink(),
  signal: new AbortController().signal,
  version: version(),
});
const dir = new URL('completions/', root);
await mkdir(dir, { recursive: true });
for (const shell of SHELLS) {
  const file = new URL(COMPLETION_FILES[shell](program.name()), dir);
  await writeFile(file, generate(shell, program));
  console.log(`wrote ${file.pathname.replace(root.pathname, '')}`);
}
