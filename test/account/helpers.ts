/**
 * Runs the whole program in-process with captured streams and a private config directory, and keeps
 * every byte it printed so a test file can check, at the end, that no secret ever reached an output.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { expect } from 'vitest';
import { run } from '../../src/cli.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** The whole environment of the run (nothing comes from process.env). */
  env?: NodeJS.ProcessEnv;
  /** Piped stdin text, or a stream (e.g. a fake terminal). Default: an empty pipe. */
  stdin?: string | NodeJS.ReadableStream;
  cwd?: string;
  /** Called with the live stderr text as it grows (to answer prompts). */
  onStderr?: (text: string) => void;
}

/** Everything any run printed, for the end-of-file secret scan. */
export const printed: string[] = [];

export function secretKey(): string {
  return `secret_key_${randomBytes(20).toString('hex')}`;
}
export function publicKey(): string {
  return `project_public_${randomBytes(12).toString('hex')}`;
}

export async function runCli(argv: string[], opts: RunOptions = {}): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const out = new Writable({
    write(chunk, _e, done) {
      stdout += String(chunk);
      done();
    },
  });
  const err = new Writable({
    write(chunk, _e, done) {
      stderr += String(chunk);
      opts.onStderr?.(stderr);
      done();
    },
  });
  const stdin = typeof opts.stdin === 'string' ? Readable.from([opts.stdin]) : (opts.stdin ?? Readable.from([]));
  const code = await run(argv, {
    env: opts.env ?? {},
    cwd: opts.cwd ?? process.cwd(),
    stdout: out,
    stderr: err,
    stdin,
    signal: new AbortController().signal,
    version: '0.0.0-test',
  });
  printed.push(stdout, stderr);
  return { code, stdout, stderr };
}

/** A stdin that says it is a terminal, fed by the test. */
export function fakeTerminal(): PassThrough & { isTTY: boolean } {
  return Object.assign(new PassThrough(), { isTTY: true });
}

export async function tempDir(prefix = 'iloveimg-test-'): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** Fails when any captured output holds one of the secrets (or a long piece of one). */
export function expectNoSecretIn(texts: string[], secrets: string[]): void {
  for (const secret of secrets) {
    const tail = secret.slice(-12);
    for (const t of texts) {
      expect(t.includes(secret), `a secret key was printed:\n${t}`).toBe(false);
      expect(t.includes(tail), `12 characters of a secret key were printed:\n${t}`).toBe(false);
    }
  }
}
