/**
 * `iloveimg logout`: forgets the keys of a profile (public, secret and file encryption key). Its other
 * settings (API URL, output dir, concurrency) stay; a profile left with nothing is removed.
 */
import { Command } from 'commander';
import { ioFor, type AppContext } from '../lib/context.js';
import { UsageError } from '../lib/errors.js';

export default function create(ctx: AppContext): Command {
  return new Command('logout')
    .description('Remove the saved keys of a profile (--profile, else the current one)')
    .addHelpText(
      'after',
      `
Examples:
  $ iloveimg logout
  $ iloveimg logout --profile work
`,
    )
    .action(async (_opts: unknown, self: Command) => {
      const io = ioFor(ctx, self);
      const g = self.optsWithGlobals();
      const { ProfileStore } = await import('../account/config.js');
      const store = await ProfileStore.open({ configDir: g.configDir, env: ctx.env });
      const named = g.profile ?? (ctx.env.ILOVEIMG_PROFILE || undefined);
      const name: string = named ?? store.currentProfile ?? 'default';
      const report = (removedKeys: boolean, removedProfile: boolean) => {
        if (g.json) io.json({ profile: name, removed_keys: removedKeys, removed_profile: removedProfile, config_file: store.file });
      };

      const profile = store.get(name);
      if (!profile) {
        if (named) throw new UsageError(`There is no profile named '${name}'`, 'List them with `iloveimg profiles list`.');
        io.info(`Not logged in: there is no saved profile '${name}'.`);
        return report(false, false);
      }
      if (!profile.publicKey && !profile.secretKey && !profile.fileEncryptionKey) {
        io.info(`Profile '${name}' has no saved keys.`);
        return report(false, false);
      }
      const rest = store.update(name, { publicKey: undefined, secretKey: undefined, fileEncryptionKey: undefined });
      const empty = Object.keys(rest).length === 0;
      if (empty) store.remove(name);
      await store.save();
      io.info(empty ? `Removed the keys and the profile '${name}' (it held nothing else).` : `Removed the keys of profile '${name}' (its other settings stay).`);
      for (const v of ['ILOVEIMG_PUBLIC_KEY', 'ILOVEIMG_SECRET_KEY'] as const) {
        if (ctx.env[v]) io.warn(`${v} is still set in the environment and is still used.`);
      }
      report(true, empty);
    });
}
