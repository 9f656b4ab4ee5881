/**
 * `iloveimg login`: saves a project's key pair in a profile, after checking it with a real `/start`
 * call (unless --no-verify). Keys come from --public-key/--secret-key, from a prompt on a terminal (the
 * secret without echo), or, for scripts, the public key as a flag and the secret key piped on stdin.
 *
 * The secret key is never printed, logged or put in an error message: only `maskSecret()` of it.
 */
import { Command } from 'commander';
import { ioFor, type AppContext } from '../lib/context.js';
import { AuthError, CliError, UsageError } from '../lib/errors.js';

export default function create(ctx: AppContext): Command {
  return new Command('login')
    .description('Save your API keys in a profile (checked against the API first)')
    .option('--no-verify', 'Save the keys without checking them against the API')
    .addHelpText(
      'after',
      `
The keys are those of a project on https://developer.iloveimg.com. On a terminal, login asks for
what is missing (the secret key without echo). Without a terminal, give --public-key and
--secret-key, or pipe the secret key on stdin so it never shows in \`ps\`.

The profile is --profile <name> (or ILOVEIMG_PROFILE), else 'default'; --api-url is saved with it.
The first profile saved becomes the current one. The file is readable by you only (0600, its
directory 0700); see \`iloveimg config path\`.

Examples:
  $ iloveimg login
  $ iloveimg login --profile work
  $ printf '%s' "$ILOVEIMG_SECRET" | iloveimg login --public-key project_public_123
  $ iloveimg login --profile local --api-url http://127.0.0.1:8080 --public-key … --secret-key …
`,
    )
    .action(async (opts: { verify: boolean }, self: Command) => {
      const io = ioFor(ctx, self);
      const g = self.optsWithGlobals();
      const { ProfileStore, checkProfileName, maskSecret } = await import('../account/config.js');
      const name = checkProfileName(g.profile ?? (ctx.env.ILOVEIMG_PROFILE || undefined) ?? 'default');
      const store = await ProfileStore.open({ configDir: g.configDir, env: ctx.env });
      const apiUrlFlag = g.apiUrl === undefined ? undefined : checkApiUrl(g.apiUrl);

      let publicKey = clean(g.publicKey, '--public-key');
      let secretKey = clean(g.secretKey, '--secret-key');
      if (!publicKey || !secretKey) {
        const stdinTTY = Boolean((ctx.stdin as { isTTY?: boolean }).isTTY);
        if (stdinTTY) {
          const { createPrompter } = await import('../account/prompt.js');
          const prompter = createPrompter(ctx.stdin, ctx.stderr, ctx.signal);
          try {
            if (!publicKey) io.stderr.write(`Logging in to profile '${name}'. The keys are in your project on https://developer.iloveimg.com.\n`);
            publicKey ??= clean(await prompter.ask('Public key: '), 'the public key');
            if (!publicKey) throw new UsageError('login: no public key given');
            secretKey ??= clean(await prompter.ask('Secret key (input hidden): ', { secret: true }), 'the secret key');
            if (!secretKey) throw new UsageError('login: no secret key given');
          } finally {
            prompter.close();
          }
        } else if (publicKey) {
          const { readAll } = await import('../account/prompt.js');
          secretKey = clean((await readAll(ctx.stdin)).trim(), 'the secret key on stdin');
        }
        if (!publicKey || !secretKey) {
          throw new UsageError(
            'login: there is no terminal to ask for the keys on',
            "Pass --public-key <key> and --secret-key <key>, or pipe the secret key: printf '%s' \"$SECRET\" | iloveimg login --public-key <key>",
          );
        }
      }

      const { DEFAULT_API_URL } = await import('../api/client.js');
      const apiUrl = apiUrlFlag ?? (ctx.env.ILOVEIMG_API_URL || undefined) ?? store.get(name)?.apiUrl ?? DEFAULT_API_URL;
      let remainingFiles: number | undefined;
      if (opts.verify) {
        io.info(`Checking the keys with ${apiUrl} …`);
        remainingFiles = await verify(ctx, io, { apiUrl, publicKey, secretKey, configDir: store.dir, timeout: g.timeout, retries: g.retries });
      }

      // "The current profile" is the saved one, else `default` when it exists: only with neither is
      // there no current profile, and then the one just saved becomes it.
      const effectiveCurrent = store.currentProfile && store.has(store.currentProfile) ? store.currentProfile : store.has('default') ? 'default' : undefined;
      store.update(name, { publicKey, secretKey, ...(apiUrlFlag ? { apiUrl: apiUrlFlag } : {}) });
      const current = effectiveCurrent === undefined || effectiveCurrent === name;
      if (effectiveCurrent === undefined) store.setCurrent(name);
      await store.save();

      if (g.json) {
        io.json({
          profile: name,
          current,
          public_key: publicKey,
          secret_key: maskSecret(secretKey),
          api_url: apiUrlFlag ?? store.get(name)?.apiUrl ?? null,
          verified: opts.verify,
          remaining_files: remainingFiles ?? null,
          config_file: store.file,
        });
      } else {
        const left = remainingFiles !== undefined ? `; ${remainingFiles} files left` : ' (not checked: --no-verify)';
        io.info(`Saved the keys of ${publicKey} (${maskSecret(secretKey)}) in profile '${name}'${left}.`);
        if (!current) io.info(`'${name}' is not the current profile ('${effectiveCurrent}' is): use it with --profile ${name}, or run \`iloveimg profiles use ${name}\`.`);
      }
      for (const v of ['ILOVEIMG_PUBLIC_KEY', 'ILOVEIMG_SECRET_KEY'] as const) {
        if (ctx.env[v]) io.warn(`${v} is set in the environment: it takes precedence over any saved profile.`);
      }
    });
}

/** Trimmed, or undefined when empty; keys never contain whitespace. */
function clean(value: string | undefined, what: string): string | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (!v) return undefined;
  if (/\s/.test(v)) throw new UsageError(`${what} contains whitespace: that is not an iLoveIMG key`);
  return v;
}

export function checkApiUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--api-url must be an http(s) URL, got ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--api-url must be an http(s) URL, got ${JSON.stringify(raw)}`);
  if (url.username || url.password) throw new UsageError('--api-url must not contain a user name or password');
  return raw.replace(/\/+$/, '');
}

/** A real `/start` with the keys; returns the project's remaining files. Nothing is saved on failure. */
async function verify(
  ctx: AppContext,
  io: import('../lib/io.js').IO,
  c: { apiUrl: string; publicKey: string; secretKey: string; configDir: string; timeout?: number; retries?: number },
): Promise<number> {
  const { connect } = await import('../account/connection.js');
  const { ApiError, AuthenticationError, PermissionDeniedError } = await import('../api/errors.js');
  // Everything comes from these flags (an empty environment), so no saved profile or variable can
  // slip another key or server into the check.
  const conn = await connect(
    { apiUrl: c.apiUrl, publicKey: c.publicKey, secretKey: c.secretKey, configDir: c.configDir, timeout: c.timeout, retries: c.retries ?? 1 },
    { io, env: {}, signal: ctx.signal },
  );
  try {
    const started = await conn.client.start('compressimage');
    // The check needs no task: remove it rather than leave an open one counting against the limit.
    await conn.client.deleteTask(started).catch(() => undefined);
    return started.remainingFiles;
  } catch (e) {
    if (e instanceof AuthenticationError || e instanceof PermissionDeniedError) {
      throw new AuthError(`${c.apiUrl} rejected these keys (HTTP ${e.status}: ${e.message}); nothing was saved`, 'Copy both keys of the same project from https://developer.iloveimg.com and run `iloveimg login` again.');
    }
    if (e instanceof ApiError) {
      throw new CliError(`could not check the keys with ${c.apiUrl}: ${e.message}${e.status ? ` (HTTP ${e.status})` : ''}; nothing was saved`, 'Try again, or pass --no-verify to save them without checking.');
    }
    throw e;
  } finally {
    await conn.close();
  }
}
