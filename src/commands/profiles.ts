/**
 * `iloveimg profiles list|use|remove`: the saved profiles. A profile is a key pair plus defaults (API
 * URL, output dir, concurrency); the current one is used when neither --profile nor ILOVEIMG_PROFILE
 * names another. Listing never shows a secret key, only whether one is saved.
 */
import { Command } from 'commander';
import { ioFor, type AppContext } from '../lib/context.js';
import { UsageError } from '../lib/errors.js';

async function openStore(ctx: AppContext, self: Command) {
  const { ProfileStore } = await import('../account/config.js');
  return ProfileStore.open({ configDir: self.optsWithGlobals().configDir, env: ctx.env });
}

export default function create(ctx: AppContext): Command {
  const profiles = new Command('profiles').description('List the saved profiles, pick the current one, remove one');

  profiles
    .command('list')
    .alias('ls')
    .description('List the saved profiles (* marks the current one)')
    .option('--names', 'Print only the names, one a line (for scripts and shell completion)')
    .action(async (opts: { names?: boolean }, self: Command) => {
      const io = ioFor(ctx, self);
      const { maskSecret } = await import('../account/config.js');
      const store = await openStore(ctx, self);
      const names = store.names();
      const current = store.currentProfile && store.has(store.currentProfile) ? store.currentProfile : store.has('default') ? 'default' : undefined;
      if (opts.names) {
        for (const n of names) ctx.stdout.write(`${n}\n`);
        return;
      }
      const rows = names.map((name) => {
        const p = store.get(name)!;
        return {
          name,
          current: name === current,
          public_key: p.publicKey ?? null,
          secret_key: p.secretKey ? maskSecret(p.secretKey) : null,
          api_url: p.apiUrl ?? null,
          output_dir: p.outputDir ?? null,
          concurrency: p.concurrency ?? null,
        };
      });
      if (self.optsWithGlobals().json) return io.json({ current: current ?? null, config_file: store.file, profiles: rows });
      if (rows.length === 0) {
        io.info(`No saved profiles (in ${store.file}). Save one with \`iloveimg login\`.`);
        return;
      }
      const width = Math.max(...rows.map((r) => r.name.length), 4);
      for (const r of rows) {
        const keys = r.public_key ? `${r.public_key} ${r.secret_key ?? '(no secret key)'}` : '(no keys)';
        ctx.stdout.write(`${r.current ? '*' : ' '} ${r.name.padEnd(width)}  ${keys}  ${r.api_url ?? 'https://api.iloveimg.com'}\n`);
      }
    });

  profiles
    .command('use')
    .description('Make a profile the current one')
    .argument('<profile>', 'a saved profile')
    .action(async (name: string, _opts: unknown, self: Command) => {
      const io = ioFor(ctx, self);
      const store = await openStore(ctx, self);
      if (!store.has(name)) throw new UsageError(`There is no profile named '${name}'`, hint(store.names()));
      store.setCurrent(name);
      await store.save();
      if (self.optsWithGlobals().json) io.json({ current: name, config_file: store.file });
      else io.info(`'${name}' is now the current profile.`);
      if (ctx.env.ILOVEIMG_PROFILE && ctx.env.ILOVEIMG_PROFILE !== name) io.warn(`ILOVEIMG_PROFILE=${ctx.env.ILOVEIMG_PROFILE} is set in the environment and still wins.`);
    });

  profiles
    .command('remove')
    .alias('rm')
    .description('Delete a saved profile and its keys')
    .argument('<profile>', 'a saved profile')
    .action(async (name: string, _opts: unknown, self: Command) => {
      const io = ioFor(ctx, self);
      const store = await openStore(ctx, self);
      const wasCurrent = store.currentProfile === name;
      if (!store.remove(name)) throw new UsageError(`There is no profile named '${name}'`, hint(store.names()));
      await store.save();
      if (self.optsWithGlobals().json) io.json({ removed: name, current: store.currentProfile ?? null, config_file: store.file });
      else {
        const next = !wasCurrent ? '' : store.has('default') ? " Profile 'default' is used from now on." : ' There is no current profile now: `iloveimg profiles use <name>` picks one.';
        io.info(`Removed profile '${name}'.${next}`);
      }
    });

  profiles.addHelpText(
    'after',
    `
Examples:
  $ iloveimg profiles list
  $ iloveimg profiles use work
  $ iloveimg compress photo.jpg --profile personal
  $ iloveimg profiles remove old
`,
  );
  return profiles;
}

function hint(names: string[]): string {
  return names.length ? `Saved profiles: ${names.join(', ')}.` : 'There are no saved profiles: create one with `iloveimg login --profile <name>`.';
}
