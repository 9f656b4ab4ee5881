/**
 * `iloveimg config get|set|unset|list|path`: the settings of a profile, and where each value in effect
 * comes from. One precedence for everything: flag > environment > selected profile (--profile or
 * ILOVEIMG_PROFILE) > current profile (else `default`) > built-in default; with no keys at all the
 * embedded engine runs. Secrets are shown masked (`secret_…abcd`), never in full.
 */
import { Argument, Command } from 'commander';
import { connectionFlags, ioFor, type AppContext } from '../lib/context.js';
import { CliError, UsageError } from '../lib/errors.js';
import type { ConfigKey } from '../account/config.js';
import { longFlag, optionOfKey } from '../account/global-options.js';

/** Kept in step with CONFIG_KEYS in src/account/config.ts (a test checks), so this file loads without it. */
const KEYS: ConfigKey[] = ['api_url', 'public_key', 'secret_key', 'file_encryption_key', 'output_dir', 'concurrency'];

type Source = 'flag' | 'env' | 'profile' | 'default';

interface Entry {
  key: ConfigKey;
  /** What is shown: secrets masked. */
  value: string | number | null;
  source: Source | null;
  /** `--api-url`, `ILOVEIMG_API_URL`, `profile work`, … */
  from: string | null;
}

interface Effective {
  profile: { name: string; source: 'flag' | 'env' | 'current' | 'default'; exists: boolean };
  config_file: string;
  server: { embedded: boolean; url: string | null };
  settings: Entry[];
}

/** The variable and the flag that give a profile key's setting (src/account/global-options.ts). */
const ENV_OF = (key: ConfigKey): string | undefined => optionOfKey(key)?.env;
const FLAG_OF = (key: ConfigKey): string | undefined => {
  const o = optionOfKey(key);
  return o ? longFlag(o) : undefined;
};

/** The settings in effect for a command run with the same flags and environment. */
async function effective(ctx: AppContext, self: Command): Promise<Effective> {
  const { resolveSettings } = await import('../account/connection.js');
  const { maskSecret, SECRET_KEYS } = await import('../account/config.js');
  const { DEFAULT_API_URL } = await import('../api/client.js');
  const { DEFAULT_CONCURRENCY } = await import('../run/model.js');
  const flags = connectionFlags(self);
  const s = await resolveSettings(flags, ctx.env);
  const profileFrom = `profile ${s.profile.name}`;
  const fromSource = (key: ConfigKey, source: Source | undefined): string | null =>
    source === 'flag' ? (FLAG_OF(key) ?? 'flag') : source === 'env' ? (ENV_OF(key) ?? 'environment') : source === 'profile' ? profileFrom : source === 'default' ? 'built-in default' : null;

  const { runsEmbedded } = await import('../account/connection.js');
  const embedded = runsEmbedded(s, flags.local);
  const entry = (key: ConfigKey, raw: string | number | undefined, source: Source | undefined): Entry => ({
    key,
    value: raw === undefined ? null : SECRET_KEYS.has(key) ? maskSecret(String(raw)) : raw,
    source: raw === undefined ? null : (source ?? null),
    from: raw === undefined ? null : fromSource(key, source),
  });
  const apiUrl = s.apiUrl ?? (embedded ? undefined : DEFAULT_API_URL);
  return {
    profile: { name: s.profile.name, source: s.profile.source, exists: s.profile.exists },
    config_file: s.profile.file,
    server: { embedded, url: embedded ? null : apiUrl! },
    settings: [
      entry('api_url', apiUrl, s.apiUrl ? s.sources.apiUrl : 'default'),
      entry('public_key', s.publicKey, s.sources.publicKey),
      entry('secret_key', s.secretKey, s.sources.secretKey),
      entry('file_encryption_key', s.fileEncryptionKey, s.sources.fileEncryptionKey),
      entry('output_dir', s.outputDir, 'profile'),
      entry('concurrency', s.concurrency ?? DEFAULT_CONCURRENCY, s.concurrency !== undefined ? 'profile' : 'default'),
    ],
  };
}

/** The profile `set`/`unset` change: --profile, ILOVEIMG_PROFILE, the current one, else `default`. */
async function target(ctx: AppContext, self: Command) {
  const { ProfileStore, checkProfileName } = await import('../account/config.js');
  const g = self.optsWithGlobals();
  const store = await ProfileStore.open({ configDir: g.configDir, env: ctx.env });
  const name = checkProfileName(g.profile ?? (ctx.env.ILOVEIMG_PROFILE || undefined) ?? store.currentProfile ?? 'default');
  return { store, name };
}

/** Checks and normalises a value for `key`; returns what is stored. */
async function parseValue(key: ConfigKey, raw: string): Promise<string | number> {
  const v = raw.trim();
  if (!v) throw new UsageError(`config set ${key}: the value is empty (use \`iloveimg config unset ${key}\` to remove it)`);
  switch (key) {
    case 'api_url': {
      const { checkApiUrl } = await import('./login.js');
      return checkApiUrl(v);
    }
    case 'concurrency': {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > 64) throw new UsageError(`concurrency must be a whole number from 1 to 64, got ${JSON.stringify(v)}`);
      return n;
    }
    case 'file_encryption_key':
      if (![16, 24, 32].includes(v.length)) throw new UsageError(`file_encryption_key must be 16, 24 or 32 characters long, got ${v.length}`);
      return v;
    case 'public_key':
    case 'secret_key':
      if (/\s/.test(v)) throw new UsageError(`${key} contains whitespace: that is not an iLoveIMG key`);
      return v;
    default:
      return v;
  }
}

export default function create(ctx: AppContext): Command {
  const config = new Command('config').description('Show and change settings: get, set, unset, list, path');
  const keyArg = () => new Argument('<key>', `one of ${KEYS.join(', ')}`).choices(KEYS);

  config
    .command('list')
    .alias('ls')
    .description('Show every setting in effect and where it comes from (secrets masked)')
    .action(async (_opts: unknown, self: Command) => {
      const io = ioFor(ctx, self);
      const e = await effective(ctx, self);
      if (self.optsWithGlobals().json) return io.json(e);
      const how = { flag: 'from --profile', env: 'from ILOVEIMG_PROFILE', current: 'the current profile', default: 'the default profile' }[e.profile.source];
      const out = ctx.stdout;
      out.write(`profile  ${e.profile.name} (${how}${e.profile.exists ? '' : ', not saved yet'})\nfile     ${e.config_file}\n\n`);
      const rows = e.settings.map((s) => [s.key, s.value === null ? '-' : String(s.value), s.from ?? 'not set']);
      const w0 = Math.max(...rows.map((r) => r[0].length));
      const w1 = Math.max(...rows.map((r) => r[1].length));
      for (const [k, v, f] of rows) out.write(`${k.padEnd(w0)}  ${v.padEnd(w1)}  ${f}\n`);
      out.write(`\nserver   ${e.server.embedded ? 'the embedded engine (no keys configured, or --local)' : e.server.url}\n`);
    });

  config
    .command('get')
    .description('Print the value in effect of one setting (secrets masked)')
    .addArgument(keyArg())
    .action(async (key: ConfigKey, _opts: unknown, self: Command) => {
      const io = ioFor(ctx, self);
      const e = await effective(ctx, self);
      const s = e.settings.find((x) => x.key === key)!;
      if (self.optsWithGlobals().json) return io.json(s);
      if (s.value === null) {
        throw new CliError(`${key} is not set${key === 'api_url' ? ': the embedded engine is used' : ''}`, `Set it with \`iloveimg config set ${key} <value>\`.`);
      }
      ctx.stdout.write(`${s.value}\n`);
    });

  config
    .command('set')
    .description('Save a setting in the profile (--profile, else the current one)')
    .addArgument(keyArg())
    .argument('[value]', 'the value; for secret_key and file_encryption_key leave it out to be asked (or pipe it on stdin)')
    .action(async (key: ConfigKey, value: string | undefined, _opts: unknown, self: Command) => {
      const io = ioFor(ctx, self);
      const { maskSecret, SECRET_KEYS, CONFIG_KEYS } = await import('../account/config.js');
      const secret = SECRET_KEYS.has(key);
      if (value === undefined) {
        if (!secret) throw new UsageError(`config set ${key} needs a value`, `Example: iloveimg config set ${key} ${key === 'concurrency' ? '4' : key === 'api_url' ? 'http://127.0.0.1:8080' : '<value>'}`);
        value = await askSecret(ctx, key);
      }
      const stored = await parseValue(key, value);
      const { store, name } = await target(ctx, self);
      const existed = store.has(name);
      const hadCurrent = (store.currentProfile && store.has(store.currentProfile)) || store.has('default');
      store.update(name, { [CONFIG_KEYS[key]]: stored });
      if (!hadCurrent) store.setCurrent(name);
      await store.save();
      const shown = secret ? maskSecret(String(stored)) : stored;
      if (self.optsWithGlobals().json) io.json({ profile: name, key, value: shown, created_profile: !existed, config_file: store.file });
      else io.info(`${existed ? '' : `Created profile '${name}'. `}Set ${key} = ${shown} in profile '${name}'.`);
      const over = ENV_OF(key);
      if (over && ctx.env[over]) io.warn(`${over} is set in the environment: it takes precedence over the profile.`);
    });

  config
    .command('unset')
    .description('Remove a setting from the profile (--profile, else the current one)')
    .addArgument(keyArg())
    .action(async (key: ConfigKey, _opts: unknown, self: Command) => {
      const io = ioFor(ctx, self);
      const { CONFIG_KEYS } = await import('../account/config.js');
      const { store, name } = await target(ctx, self);
      const had = store.get(name)?.[CONFIG_KEYS[key]] !== undefined;
      if (had) {
        store.update(name, { [CONFIG_KEYS[key]]: undefined });
        await store.save();
      }
      if (self.optsWithGlobals().json) io.json({ profile: name, key, removed: had, config_file: store.file });
      else io.info(had ? `Removed ${key} from profile '${name}'.` : `${key} is not set in profile '${name}'.`);
    });

  config
    .command('path')
    .description('Print where the profiles are kept')
    .action(async (_opts: unknown, self: Command) => {
      const io = ioFor(ctx, self);
      const { existsSync } = await import('node:fs');
      const { ProfileStore } = await import('../account/config.js');
      const store = await ProfileStore.open({ configDir: self.optsWithGlobals().configDir, env: ctx.env });
      if (self.optsWithGlobals().json) io.json({ config_file: store.file, config_dir: store.dir, exists: existsSync(store.file) });
      else ctx.stdout.write(`${store.file}\n`);
    });

  config.addHelpText(
    'after',
    `
Keys: ${KEYS.join(', ')}.

Precedence, for every setting: flag > environment variable > the profile named by --profile or
ILOVEIMG_PROFILE > the current profile (\`iloveimg profiles use\`), else 'default' > built-in
default. With no keys from any of them (or with --local) the embedded engine runs in-process.
One profile is read per run: values are not merged across profiles.

Examples:
  $ iloveimg config list
  $ iloveimg config list --profile work --json
  $ iloveimg config set api_url http://127.0.0.1:8080
  $ iloveimg config set concurrency 4 --profile work
  $ iloveimg config set file_encryption_key        # asks, without echo
  $ iloveimg config get public_key
  $ iloveimg config path
`,
  );
  return config;
}

async function askSecret(ctx: AppContext, key: string): Promise<string> {
  const { createPrompter, readAll } = await import('../account/prompt.js');
  if (!(ctx.stdin as { isTTY?: boolean }).isTTY) {
    const v = (await readAll(ctx.stdin)).trim();
    if (!v) throw new UsageError(`config set ${key}: no value given and nothing on stdin`, `Pipe it: printf '%s' "$VALUE" | iloveimg config set ${key}`);
    return v;
  }
  const prompter = createPrompter(ctx.stdin, ctx.stderr, ctx.signal);
  try {
    return await prompter.ask(`${key} (input hidden): `, { secret: true });
  } finally {
    prompter.close();
  }
}
