/**
 * Runs the built CLI in a real pseudo-terminal (util-linux `script`) and renders its byte stream with
 * a terminal emulator (@xterm/headless), so tests assert what a person would see on the screen at the
 * end: the rows (scrollback included), and whether the cursor was left hidden.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { Terminal } from '@xterm/headless';
import { BIN } from './cli.js';

export interface ScreenResult {
  code: number | null;
  /** Every row of the emulated terminal, scrollback first, trailing spaces trimmed, empty tail rows dropped. */
  rows: string[];
  cursorHidden: boolean;
  raw: string;
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function runInTerminal(
  args: string[],
  opts: {
    cwd: string;
    env?: Record<string, string>;
    cols?: number;
    rows?: number;
    /** A file piped into the CLI's stdin (`cat FILE | iloveimg …`): stdout and stderr stay the terminal. */
    stdinFile?: string;
    /** Called with everything printed so far; return bytes to type (e.g. '\x03' for Ctrl-C), once. */
    typeWhen?: (output: string) => string | undefined;
  },
): Promise<ScreenResult> {
  const cols = opts.cols ?? 100;
  const rows = opts.rows ?? 30;
  const env: NodeJS.ProcessEnv = { ...process.env, SHELL: '/bin/sh', TERM: 'xterm-256color', NO_COLOR: '1', ILOVEIMG_CONFIG_DIR: path.join(opts.cwd, '.config-iloveimg'), ...opts.env };
  for (const k of ['ILOVEIMG_PUBLIC_KEY', 'ILOVEIMG_SECRET_KEY', 'ILOVEIMG_API_URL', 'ILOVEIMG_PROFILE', 'CI']) if (!opts.env?.[k]) delete env[k];
  const cli = [process.execPath, BIN, ...args].map(quote).join(' ');
  const command = `stty cols ${cols} rows ${rows}; ${opts.stdinFile ? `cat ${quote(opts.stdinFile)} | ${cli}` : `exec ${cli}`}`;
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd: opts.cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let typed = false;
    child.stdout.on('data', (c: Buffer) => {
      chunks.push(c);
      if (!typed && opts.typeWhen) {
        const keys = opts.typeWhen(Buffer.concat(chunks).toString('utf8'));
        if (keys !== undefined) {
          typed = true;
          // One key at a time, as a person types: each Ctrl-C is its own signal.
          for (const [i, k] of [...keys].entries()) setTimeout(() => child.stdin.write(k), i * 150);
        }
      }
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const raw = Buffer.concat(chunks).toString('utf8');
      const term = new Terminal({ cols, rows, scrollback: 5000, allowProposedApi: true });
      term.write(raw, () => {
        const buf = term.buffer.active;
        const out: string[] = [];
        for (let i = 0; i < buf.length; i++) out.push(buf.getLine(i)?.translateToString(true) ?? '');
        while (out.length && out.at(-1) === '') out.pop();
        const cursorHidden = (term as unknown as { _core: { coreService: { isCursorHidden: boolean } } })._core.coreService.isCursorHidden;
        term.dispose();
        resolve({ code, rows: out, cursorHidden, raw });
      });
    });
  });
}
