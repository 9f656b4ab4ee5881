/** Runs the program in-process with captured streams: the command tier of the tests. */
import { PassThrough, Writable } from 'node:stream';
import { run } from '../../src/cli.js';
import { assertNoSecretLeak } from './secrets.js';

export async function runInProcess(argv: string[], opts: { cwd: string; env?: Record<string, string>; stdin?: Buffer }) {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const sink = (into: Buffer[]) =>
    new Writable({
      write(chunk, _enc, cb) {
        into.push(Buffer.from(chunk));
        cb();
      },
    });
  const stdin = new PassThrough();
  stdin.end(opts.stdin ?? Buffer.alloc(0));
  const env = { NO_COLOR: '1', ILOVEIMG_CONFIG_DIR: `${opts.cwd}/.config-iloveimg`, ...opts.env };
  const code = await run(argv, {
    env,
    cwd: opts.cwd,
    stdout: sink(out),
    stderr: sink(err),
    stdin,
    signal: new AbortController().signal,
    version: '0.0.0-test',
  });
  const result = { code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
  assertNoSecretLeak(argv, env, result.stdout, result.stderr);
  return result;
}
