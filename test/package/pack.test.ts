/**
 * The package as a user gets it: `npm pack` of a fresh build, `npm install <tarball>` into an empty
 * directory (offline, from the npm cache), then `npx iloveimg --version`, `--help` and a real
 * `compress` on the embedded engine. Slow (a build and an install): one test, a generous timeout.
 *
 * The build goes to a staging copy of the repository, never to the shared dist/, so this test cannot
 * disturb other tests that run the built program at the same time.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, cp, mkdir, readFile, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENV_HELP } from '../../src/cli.js';
import { EXIT_CODE_HELP } from '../../src/lib/errors.js';
import { removeDir, tempDir } from '../account/helpers.js';
import { fixture } from '../helpers/fixtures.js';

const exec = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');

/** Copied into the staging tree: everything but what is built, installed or version control. */
const SKIP = new Set(['node_modules', '.git', 'dist', 'out', 'coverage', 'tmp']);

let work: string;

/** The environment of a user's shell: no npm lifecycle variables from a surrounding `npm test`. */
function userEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(npm_|INIT_CWD$|ILOVEIMG_|NODE_OPTIONS$|VITEST)/i.test(k) && k !== 'npm_config_cache') continue;
    env[k] = v;
  }
  return { ...env, NO_COLOR: '1', npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false', ...extra };
}

async function sh(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeout?: number }) {
  try {
    return await exec(cmd, args, { cwd: opts.cwd, env: opts.env ?? userEnv(), timeout: opts.timeout ?? 120_000, maxBuffer: 64 * 1024 * 1024 });
  } catch (e) {
    const err = e as Error & { stdout?: string; stderr?: string; code?: unknown };
    throw new Error(`${cmd} ${args.join(' ')} failed (${String(err.code)}):\n${err.stdout ?? ''}\n${err.stderr ?? ''}`);
  }
}

beforeAll(async () => {
  work = await tempDir('iloveimg-pack-');
});

afterAll(async () => {
  if (work) await removeDir(work);
});

describe('the packed tarball', () => {
  it(
    'installs into an empty directory and runs --version, --help and compress on the embedded engine',
    async () => {
      // 1. A staging copy of the repository with a fresh build in it.
      const stage = path.join(work, 'stage');
      await cp(ROOT, stage, { recursive: true, filter: (src) => !SKIP.has(path.basename(src)) && !src.endsWith('.tgz') });
      const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
      // Type errors are `npm run typecheck`'s business; this test needs the emitted JavaScript.
      await exec(process.execPath, [tsc, '-p', path.join(ROOT, 'tsconfig.build.json'), '--outDir', path.join(stage, 'dist')], { cwd: ROOT, timeout: 180_000 }).catch((e: { stdout?: string }) => {
        if (!existsSync(path.join(stage, 'dist', 'main.js'))) throw new Error(`the build emitted nothing:\n${e.stdout ?? ''}`);
      });
      // The rest of `npm run build`: the help texts rendered at build time (dist/help/).
      await symlink(path.join(ROOT, 'node_modules'), path.join(stage, 'node_modules'));
      await exec(process.execPath, [path.join(stage, 'scripts', 'build-help.mjs')], { cwd: stage, timeout: 60_000 });

      // 2. npm pack: only bin, dist, completions, README.md, LICENSE (and package.json).
      const packDir = path.join(work, 'pack');
      await mkdir(packDir);
      // What `prepack` does (scripts are ignored here: the stage has no node_modules to build with):
      // the published manifest has no `prepare`, which npm 11 would list as an install script.
      await sh(process.execPath, [path.join(stage, 'scripts', 'pack-manifest.mjs'), 'strip'], { cwd: stage });
      const { stdout: packJson } = await sh('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', packDir], { cwd: stage });
      const [packed] = JSON.parse(packJson) as [{ filename: string; version: string; files: { path: string }[] }];
      const files = packed.files.map((f) => f.path);
      const allowed = /^(bin\/|dist\/|completions\/|package\.json$|README\.md$|LICENSE$)/;
      expect(files.filter((f) => !allowed.test(f))).toEqual([]);
      for (const f of ['bin/iloveimg.js', 'dist/main.js', 'dist/cli.js', 'dist/help/compress.txt', 'dist/help/_root.txt', 'completions/iloveimg.bash', 'completions/_iloveimg', 'completions/iloveimg.fish', 'completions/iloveimg.ps1', 'LICENSE', 'package.json']) {
        expect(files, f).toContain(f);
      }
      if (existsSync(path.join(ROOT, 'README.md'))) expect(files).toContain('README.md');
      const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
      expect(packed.version).toBe(pkg.version);

      // 3. npm install <tarball> into an empty directory, from the npm cache (no network).
      const app = path.join(work, 'app');
      await mkdir(app);
      await writeFile(path.join(app, 'package.json'), JSON.stringify({ name: 'pack-test', private: true }));
      const tarball = path.join(packDir, packed.filename);
      let installed: { stderr: string };
      try {
        installed = await sh('npm', ['install', '--offline', '--no-audit', '--no-fund', tarball], { cwd: app, timeout: 180_000 });
      } catch (e) {
        // A dependency missing from the cache (a fresh machine): the registry is reachable there.
        if (!/ENOTCACHED|offline/i.test((e as Error).message)) throw e;
        console.warn('npm install --offline: a dependency is not in the npm cache; installing with --prefer-offline');
        installed = await sh('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], { cwd: app, timeout: 180_000 });
      }
      expect(existsSync(path.join(app, 'node_modules', '.bin', 'iloveimg'))).toBe(true);
      // Issue #12 item 22: no "install scripts not yet covered by allowScripts: iloveimg".
      expect(installed.stderr).not.toMatch(/allowScripts[\s\S]*iloveimg|iloveimg[^\n]*prepare/);
      expect(JSON.parse(await readFile(path.join(app, 'node_modules', 'iloveimg', 'package.json'), 'utf8')).scripts?.prepare).toBeUndefined();

      const configDir = path.join(work, 'config'); // empty: no keys, so the embedded engine runs
      const npx = (args: string[]) => sh('npx', ['--offline', '--no', '--', 'iloveimg', ...args], { cwd: app, env: userEnv({ ILOVEIMG_CONFIG_DIR: configDir }) });

      // 4. --version prints the package's version.
      expect((await npx(['--version'])).stdout.trim()).toBe(pkg.version);

      // 5. --help: the command groups, then the exit codes and the environment at the end.
      const help = (await npx(['--help'])).stdout;
      for (const group of ['Tools:', 'Account:', 'Engine:', 'Shell:']) expect(help).toMatch(new RegExp(`^${group}$`, 'm'));
      for (const cmd of ['compress', 'login', 'logout', 'profiles', 'config', 'quota', 'serve', 'completion']) expect(help).toMatch(new RegExp(`^  ${cmd}\\b`, 'm'));
      expect(help.trimEnd().endsWith(`${EXIT_CODE_HELP}\n\n${ENV_HELP}`.trimEnd())).toBe(true);
      const prebuilt = await readFile(path.join(stage, 'dist', 'help', 'compress.txt'), 'utf8');
      expect((await npx(['compress', '--help'])).stdout).toBe(prebuilt.slice(prebuilt.indexOf('\n') + 1));

      // 6. compress a real JPEG on the embedded engine: a valid, smaller JPEG.
      const input = path.join(app, 'photo.jpg');
      await copyFile(fixture('photo-brushes-1365x1074-q99-444.jpg'), input);
      const { stdout: report } = await npx(['compress', 'photo.jpg', '-o', 'out', '--json']);
      const doc = JSON.parse(report) as { files: { status: string; output?: string }[] };
      expect(doc.files).toHaveLength(1);
      expect(doc.files[0].status).toBe('ok');
      const outFile = path.join(app, 'out', 'photo.jpg');
      const out = await readFile(outFile);
      expect(out.subarray(0, 3)).toEqual(Buffer.from([0xff, 0xd8, 0xff]));
      expect(out.subarray(-2)).toEqual(Buffer.from([0xff, 0xd9]));
      expect(out.length).toBeLessThan((await stat(input)).size);
      const { default: sharp } = await import('sharp');
      const meta = await sharp(out).metadata();
      expect(meta.format).toBe('jpeg');
      const inMeta = await sharp(input).metadata();
      expect([meta.width, meta.height].sort()).toEqual([inMeta.width, inMeta.height].sort());
      await sharp(out).raw().toBuffer(); // decodes completely
      // (dot files are the run's own bookkeeping, e.g. a resume journal)
      expect((await readdir(path.join(app, 'out'))).filter((f) => !f.startsWith('.'))).toEqual(['photo.jpg']);
    },
    240_000,
  );
});
