/**
 * `iloveimg serve`: the embedded engine as a standing server that speaks the iLoveIMG REST API, for
 * other clients (the official libraries, other machines) and for tasks that outlive one command.
 *
 * It prints its URL and the key pair it accepts. A pair it generated is printed in full (there is no
 * other way to learn it, and it dies with the server); a pair the user supplied is never printed.
 */
import { Command, InvalidArgumentError } from 'commander';
import { numberOption } from '../flags/number-option.js';
import type { AppContext } from '../lib/context.js';
import { ioFor } from '../lib/context.js';
import { UsageError } from '../lib/errors.js';
import { parseFaults } from '../server/fault-spec.js';

async function readPem(file: string, flag: string): Promise<Buffer> {
  const { readFile } = await import('node:fs/promises');
  return readFile(file).catch(() => {
    throw new UsageError(`serve: ${flag} ${file}: cannot read this file`);
  });
}

export default function create(ctx: AppContext): Command {
  return new Command('serve')
    .description('Run the iLoveIMG-compatible engine as an HTTP server')
    .option('--host <address>', 'Interface to listen on', '127.0.0.1')
    .option('--port <n>', 'Port (0 picks a free one)', numberOption('--port', { min: 0, max: 65535 }), 8080)
    .option('--public-host <host[:port]>', 'Host the API hands out as `server` for workers (default host:port)')
    .option('--data-dir <dir>', 'Keep tasks here; a restart with the same directory and keys serves them again (default: a temporary directory, removed on exit)')
    .option('--concurrency <n>', 'Images processed at once (default 2: sharp uses one thread per image)', numberOption('--concurrency', { min: 1, max: 64 }))
    .option('--max-upload-mb <n>', 'Largest accepted file, in MB (default 200)', numberOption('--max-upload-mb', { min: 1, integer: false }))
    .option('--max-pixels <n>', 'Largest accepted image, in pixels (default 268402689)', numberOption('--max-pixels', { min: 1 }))
    .option('--file-timeout <s>', 'Processing budget per file, in seconds (default 120)', numberOption('--file-timeout', { min: 1, integer: false }))
    .option('--max-open-tasks <n>', 'Open tasks per project (default 1000)', numberOption('--max-open-tasks', { min: 1 }))
    .option('--rate-limit <n>', 'Requests per minute per project; 0 = off (default 0)', numberOption('--rate-limit', { min: 0 }))
    .option('--task-ttl <s>', 'Tasks and files are deleted this long after processing (default 7200)', numberOption('--task-ttl', { min: 1, integer: false }))
    .option('--max-decode-mb <n>', 'Decode memory for the images processed at once, estimated from their headers; a file needing more is refused (default 1000, 0 = off)', numberOption('--max-decode-mb', { min: 0 }))
    .option('--max-connections <n>', 'Connections open at once (default 512, 0 = no cap)', numberOption('--max-connections', { min: 0 }))
    .option('--headers-timeout <s>', 'Time a client has to send its request headers (default 20)', numberOption('--headers-timeout', { min: 1, integer: false }))
    .option('--request-timeout <s>', 'Time a client has to send a whole request, body included (default 300)', numberOption('--request-timeout', { min: 1, integer: false }))
    .option('--allow-private-urls', 'Let cloud_file and webhook URLs point at loopback, private and link-local addresses')
    .option('--tls-cert <file>', 'Serve HTTPS with this PEM certificate (with --tls-key): what unmodified official libraries need')
    .option('--tls-key <file>', 'The PEM private key of --tls-cert')
    .option(
      '--faults <spec>',
      'Inject failures, for testing clients: key=value pairs, e.g. rate=0.2,status=500:503:429,reset=0.05,latency=80,seed=42 ' +
        '(rate: share of requests answered with a status from status= before any effect; late: share of those on process and task/next ' +
        'answered 500 after the work; reset: share of uploads and downloads cut mid-transfer; latency: ms per request; seed: PRNG seed; ' +
        'only: endpoints to fault, e.g. process:next; limit: most faults in all). Off by default',
      (raw: string) => {
        try {
          return parseFaults(raw);
        } catch (err) {
          throw new InvalidArgumentError((err as Error).message);
        }
      },
    )
    .addHelpText(
      'after',
      `
Examples:
  $ iloveimg serve --port 8080
  $ ILOVEIMG_PUBLIC_KEY=my_public ILOVEIMG_SECRET_KEY=my_secret iloveimg serve --host 0.0.0.0 --data-dir /var/lib/iloveimg
  $ iloveimg compress photo.jpg --api-url http://127.0.0.1:8080 --public-key … --secret-key …
  $ iloveimg serve --faults rate=0.2,status=500:503:429,late=0.5,reset=0.05,latency=80,seed=42
`,
    )
    .action(async (opts, self: Command) => {
      const io = ioFor(ctx, self);
      const g = self.optsWithGlobals();
      const publicKey = g.publicKey ?? ctx.env.ILOVEIMG_PUBLIC_KEY;
      const secretKey = g.secretKey ?? ctx.env.ILOVEIMG_SECRET_KEY;
      if (Boolean(publicKey) !== Boolean(secretKey)) throw new UsageError('serve: give both --public-key and --secret-key (or neither, to generate a pair)');
      if (Boolean(opts.tlsCert) !== Boolean(opts.tlsKey)) throw new UsageError('serve: give both --tls-cert and --tls-key');
      const tls = opts.tlsCert ? { cert: await readPem(opts.tlsCert, '--tls-cert'), key: await readPem(opts.tlsKey, '--tls-key') } : undefined;
      const { startServer } = await import('../server/index.js');
      const server = await startServer({
        host: opts.host,
        port: opts.port,
        publicHost: opts.publicHost,
        dataDir: opts.dataDir,
        concurrency: opts.concurrency,
        projects: publicKey ? [{ publicKey, secretKey }] : undefined,
        faults: opts.faults,
        limits: {
          maxUploadBytes: opts.maxUploadMb ? opts.maxUploadMb * 1_000_000 : undefined,
          maxInputPixels: opts.maxPixels,
          fileTimeoutSeconds: opts.fileTimeout,
          maxOpenTasks: opts.maxOpenTasks,
          rateLimit: opts.rateLimit,
          taskTtlSeconds: opts.taskTtl,
          allowPrivateUrls: Boolean(opts.allowPrivateUrls),
          maxDecodeBytes: opts.maxDecodeMb !== undefined ? opts.maxDecodeMb * 1_000_000 : undefined,
          maxConnections: opts.maxConnections,
          headersTimeoutSeconds: opts.headersTimeout,
          requestTimeoutSeconds: opts.requestTimeout,
        },
        tls,
        logger: (level, message) => {
          if (level !== 'info' || io.verbose) io.stderr.write(`[${level}] ${message}\n`);
        },
      });
      const [pair] = server.projects;
      const shown = { url: server.url, public_key: pair.publicKey, secret_key: publicKey ? '(as given)' : pair.secretKey };
      if (g.json) io.json(shown);
      else {
        ctx.stdout.write(`iloveimg engine listening on ${server.url}\n`);
        ctx.stdout.write(`public key: ${shown.public_key}\nsecret key: ${shown.secret_key}\n`);
        io.info(`Use it with: iloveimg <tool> … --api-url ${server.url} (keys via ILOVEIMG_PUBLIC_KEY / ILOVEIMG_SECRET_KEY). Ctrl-C stops it.`);
      }
      await new Promise<void>((resolve) => {
        if (ctx.signal.aborted) return resolve();
        ctx.signal.addEventListener('abort', () => resolve(), { once: true });
      });
      await server.close();
    });
}
