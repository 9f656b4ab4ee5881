/**
 * The entry point behind bin/iloveimg.js: real streams, the real environment, and Ctrl-C handling.
 * The first Ctrl-C aborts the run (no new work starts, open requests are cancelled, finished files
 * are kept, and the summary is printed: exit 130); a second one exits at once, after removing the
 * temporary files of writes in progress, so no partial file is ever left at a destination.
 */
import { run, version } from './cli.js';
import { EXIT } from './lib/errors.js';
import { removeTempFilesSync } from './lib/outputs.js';

export async function main(argv: string[]): Promise<number> {
  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts === 1) {
      process.stderr.write('\ninterrupting: no new work is started; press Ctrl-C again to quit at once\n');
      controller.abort(new Error('interrupted'));
      return;
    }
    removeTempFilesSync();
    process.exit(EXIT.INTERRUPTED);
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  try {
    const code = await run(argv, {
      env: process.env,
      cwd: process.cwd(),
      stdout: process.stdout,
      stderr: process.stderr,
      stdin: process.stdin,
      signal: controller.signal,
      version: version(),
    });
    return controller.signal.aborted && code !== EXIT.OK ? EXIT.INTERRUPTED : code;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
}
