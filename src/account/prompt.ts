/**
 * Asking on a terminal: questions go to stderr (stdout is for data), a secret is read without echo.
 *
 * One readline interface reads every answer, so a line typed (or pasted) ahead is kept for the next
 * question instead of being lost. Echo is switched off the moment a line ends and on again only when a
 * question that may be echoed is asked: a secret pasted together with the line before it never shows.
 */
import readline from 'node:readline';
import { Writable } from 'node:stream';
import { InterruptedError, UsageError } from '../lib/errors.js';

export interface Prompter {
  ask(question: string, opts?: { secret?: boolean }): Promise<string>;
  close(): void;
}

export function createPrompter(input: NodeJS.ReadableStream, output: NodeJS.WritableStream, signal?: AbortSignal): Prompter {
  let muted = true;
  // Everything readline writes (its echo of the keys typed) goes through here.
  const echo = new Writable({
    write(chunk, _enc, done) {
      if (!muted) output.write(chunk);
      done();
    },
  });
  const rl = readline.createInterface({ input: input as NodeJS.ReadableStream & { isTTY?: boolean }, output: echo, terminal: true, historySize: 0 });
  rl.setPrompt('');
  const lines: string[] = [];
  let ended: Error | undefined;
  let waiting: { resolve: (line: string) => void; reject: (e: Error) => void } | undefined;

  const fail = (e: Error) => {
    ended ??= e;
    const w = waiting;
    waiting = undefined;
    w?.reject(e);
  };
  rl.on('line', (line) => {
    muted = true;
    const w = waiting;
    waiting = undefined;
    if (w) w.resolve(line);
    else lines.push(line);
  });
  // In raw mode Ctrl-C arrives as a key, not as a signal.
  rl.on('SIGINT', () => fail(new InterruptedError('interrupted')));
  rl.on('close', () => fail(new UsageError('no answer: the input ended')));
  const onAbort = () => fail(new InterruptedError('interrupted'));
  signal?.addEventListener('abort', onAbort, { once: true });

  return {
    async ask(question, opts = {}) {
      output.write(question);
      const queued = lines.shift();
      if (queued !== undefined) {
        if (!opts.secret) output.write(`${queued}\n`);
        else output.write('\n');
        return queued;
      }
      if (ended) throw ended;
      muted = Boolean(opts.secret);
      try {
        return await new Promise<string>((resolve, reject) => {
          waiting = { resolve, reject };
        });
      } finally {
        // readline's own newline was muted for a secret: end the line for the next output.
        if (opts.secret) output.write('\n');
      }
    },
    close() {
      signal?.removeEventListener('abort', onAbort);
      rl.close();
    },
  };
}

/** All of a piped stdin, as text. */
export async function readAll(input: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of input) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}
