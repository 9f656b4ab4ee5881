/**
 * `iloveimg quota`: the files the project may still process (`GET /v1/info`). Without keys it asks the
 * embedded engine, and says so: that number belongs to a throwaway in-process server, not an account.
 */
import { Command } from 'commander';
import { connectionFlags, ioFor, type AppContext } from '../lib/context.js';

export default function create(ctx: AppContext): Command {
  return new Command('quota')
    .description('Show how many files your project can still process')
    .addHelpText(
      'after',
      `
Examples:
  $ iloveimg quota
  $ iloveimg quota --profile work --json
`,
    )
    .action(async (_opts: unknown, self: Command) => {
      const io = ioFor(ctx, self);
      const { connect } = await import('../account/connection.js');
      const conn = await connect(connectionFlags(self), { io, env: ctx.env, signal: ctx.signal });
      try {
        const info = await conn.client.info();
        const remaining = Number(info.remaining_files);
        if (self.optsWithGlobals().json) {
          io.json({ ...info, remaining_files: remaining, embedded: conn.embedded, server: conn.embedded ? null : conn.apiUrl });
          return;
        }
        if (conn.embedded) {
          ctx.stdout.write(`${remaining} files remaining on the embedded engine (it runs in this process: no account, no network)\n`);
        } else {
          ctx.stdout.write(`${remaining} files remaining (${conn.apiUrl})\n`);
        }
      } finally {
        await conn.close();
      }
    });
}
