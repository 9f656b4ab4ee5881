#!/usr/bin/env node
// The published package.json carries no `prepare` script. npm 11 lists a package's `prepare` as an
// install script "not yet covered by allowScripts" when a user installs the tarball (`npm i -g
// ./iloveimg-0.1.0.tgz`), although the tarball needs no build: dist/ is in it. So `prepack` runs
// `strip` (package.json without scripts.prepare, the original kept in package.json.orig) and
// `postpack` runs `restore`; a `strip` after an interrupted pack restores first. In the repository,
// `npm ci` still builds dist/ through `prepare`.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

const file = new URL('../package.json', import.meta.url);
const backup = new URL('../package.json.orig', import.meta.url);
const mode = process.argv[2];

if (existsSync(backup)) renameSync(backup, file);
if (mode === 'strip') {
  const text = readFileSync(file, 'utf8');
  const pkg = JSON.parse(text);
  writeFileSync(backup, text);
  delete pkg.scripts.prepare;
  writeFileSync(file, `${JSON.stringify(pkg, null, 2)}\n`);
} else if (mode !== 'restore') {
  console.error('usage: pack-manifest.mjs strip|restore');
  process.exit(2);
}
