/**
 * Runs the built binary (bin/iloveimg.js → dist/) as a user would, and starts the project's own
 * engine on 127.0.0.1 (port 0) for tests that count what reached the server.
 */
import { spawn } from 'node:child_process';
import { afterAll } from 'vitest';
import { assertNoSecretLeak } from './secrets.js';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startServer } from '../../src/server/index.js';
import type { ServeOptions } from '../../src/server/options.js';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const BIN = path.join(ROOT, 'bin/iloveimg.js');
import { FIXTURES } from './fixtures.js';
export const CORPUS = FIXTURES;

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  stdoutBytes: Buffer;
}

export function runCli(
  args: string[],
  opts: { cwd: string; env?: Record<string, string | undefined>; input?: Buffer | string; timeoutMs?: number; sigintAfterMs?: number },
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ILOVEIMG_CONFIG_DIR: path.join(opts.cwd, '.config-iloveimg') };
    for (const k of ['ILOVEIMG_PUBLIC_KEY', 'ILOVEIMG_SECRET_KEY', 'ILOVEIMG_API_URL', 'ILOVEIMG_PROFILE']) delete env[k];
    for (const [k, v] of Object.entries(opts.env ?? {})) {
      if (v === undefined) delete env[k];
      else env[k] = v;
    }
    const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    // A Ctrl-C at that moment (once: the CLI then finishes the work under way).
    const interrupt = opts.sigintAfterMs !== undefined ? setTimeout(() => child.kill('SIGINT'), opts.sigintAfterMs) : undefined;
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      clearTimeout(interrupt);
      const stdoutBytes = Buffer.concat(out);
      const result = { code, stdout: stdoutBytes.toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), stdoutBytes };
      try {
        assertNoSecretLeak(args, env, result.stdout, result.stderr);
      } catch (e) {
        return reject(e);
      }
      resolve(result);
    });
    child.stdin.end(opts.input ?? '');
  });
}

const made: string[] = [];
// Every test file that uses these helpers removes its directories when it is done.
afterAll(async () => {
  await Promise.all(made.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

export async function tempDir(prefix = 'iloveimg-e2e-'): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** Copies corpus files into `dir` under new names: {'a/x.jpg': 'photo-storm-1920x1280.jpg'}. */
export async function fixture(dir: string, files: Record<string, string>): Promise<void> {
  for (const [to, from] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, to)), { recursive: true });
    await copyFile(path.join(CORPUS, from), path.join(dir, to));
  }
}

/** A standing engine, and the environment that points the CLI at it. */
export async function startEngine(opts: ServeOptions = {}) {
  const server = await startServer({ host: '127.0.0.1', port: 0, ...opts });
  const [pair] = server.projects;
  return {
    server,
    env: { ILOVEIMG_API_URL: server.url, ILOVEIMG_PUBLIC_KEY: pair.publicKey, ILOVEIMG_SECRET_KEY: pair.secretKey },
    count: (p: string) => server.log.filter((r) => r.path === p).length,
  };
}
