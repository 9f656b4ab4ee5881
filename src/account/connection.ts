/**
 * Decides which server a command talks to and with which keys, and hands back a ready client.
 *
 * Precedence, one rule for every setting (README "Configuration"): flag > environment > selected
 * profile > default profile > embedded engine. With no keys from any of them, or with `--local`, the
 * engine is started in-process on 127.0.0.1 (port 0) with a throwaway key pair and the very same
 * client talks to it with the API's requests: handed to its router in-process, or over loopback HTTP
 * with ILOVEIMG_ENGINE_TRANSPORT=loopback (docs/architecture.md, "Transport").
 */
import { mkdir, mkdtemp, rm, writeFile, access } from 'node:fs/promises';
import { tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { IloveimgClient, DEFAULT_API_URL, type ClientOptions } from '../api/client.js';
import type { IO } from '../lib/io.js';
import { trackTempDir } from '../lib/cleanup.js';
import { AuthError } from '../lib/errors.js';
import { selectProfile, type ProfileSource } from './profile-settings.js';
import { addSecret } from '../lib/sanitize.js';
import { GLOBAL_OPTIONS, longFlag, type GlobalOption } from './global-options.js';

export interface ConnectionFlags {
  apiUrl?: string;
  publicKey?: string;
  secretKey?: string;
  local?: boolean;
  profile?: string;
  configDir?: string;
  fileEncryptionKey?: string;
  timeout?: number;
  /** Milliseconds without a byte before a download attempt is given up (--idle-timeout). */
  idleTimeout?: number;
  retries?: number;
}

export interface Connection {
  client: IloveimgClient;
  /** True when talking to the in-process engine. */
  embedded: boolean;
  /** How requests travel: to the embedded engine's router directly or over loopback, or to a server. */
  transport: 'in-process' | 'loopback' | 'network';
  apiUrl: string;
  close(): Promise<void>;
}

export interface ConnectOptions {
  io: IO;
  env?: NodeJS.ProcessEnv;
  /**
   * Aborts the client's requests when it fires. Batch runs leave it unset, so that a first Ctrl-C
   * lets the requests under way finish (see src/main.ts); single-request commands may pass it.
   */
  signal?: AbortSignal;
  onRetry?: ClientOptions['onRetry'];
  /** Commands that make no sense on a throwaway engine (tasks, quota) refuse it with this reason. */
  requireRemote?: string;
  /** Settings the caller already resolved (a batch run reads the profile's defaults first). */
  settings?: ResolvedSettings;
}

export interface ResolvedSettings {
  apiUrl?: string;
  publicKey?: string;
  secretKey?: string;
  fileEncryptionKey?: string;
  /** Where each value came from, for `config list` and error messages. */
  sources: Record<string, 'flag' | 'env' | 'profile' | 'default'>;
  /** Defaults a profile may hold for batch runs (no flag or variable sets these: `-o`/`-j` are per command). */
  outputDir?: string;
  concurrency?: number;
  /** The profile that was consulted, why it was picked, and the file it lives in. */
  profile: { name: string; source: ProfileSource; exists: boolean; file: string };
}

/** Applies the precedence table to the credentials and the API URL. */
export async function resolveSettings(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): Promise<ResolvedSettings> {
  const selected = await selectProfile({ profile: flags.profile, configDir: flags.configDir, env });
  const profile = selected.settings;
  const sources: ResolvedSettings['sources'] = {};
  const pick = (name: Credential) => {
    const envName = optionOf(name).env!;
    if (flags[name]) return (sources[name] = 'flag'), flags[name];
    if (env[envName]) return (sources[name] = 'env'), env[envName];
    if (profile?.[name]) return (sources[name] = 'profile'), profile[name];
    return undefined;
  };
  return {
    apiUrl: pick('apiUrl'),
    publicKey: pick('publicKey'),
    secretKey: pick('secretKey'),
    fileEncryptionKey: pick('fileEncryptionKey'),
    sources,
    outputDir: profile?.outputDir,
    concurrency: profile?.concurrency,
    profile: { name: selected.name, source: selected.source, exists: Boolean(profile), file: selected.file },
  };
}

export async function connect(flags: ConnectionFlags, opts: ConnectOptions): Promise<Connection> {
  const s = opts.settings ?? (await resolveSettings(flags, opts.env));
  // A profile's secret is as unprintable as one from the environment (sanitize.ts).
  addSecret(s.secretKey);
  addSecret(s.fileEncryptionKey);
  const clientOptions = (apiUrl: string, publicKey: string, secretKey: string): ClientOptions => ({
    apiUrl,
    credentials: { publicKey, secretKey, fileEncryptionKey: s.fileEncryptionKey },
    timeoutMs: flags.timeout,
    idleTimeoutMs: flags.idleTimeout,
    retry: flags.retries !== undefined ? { retries: flags.retries } : undefined,
    signal: opts.signal,
    onRetry: opts.onRetry,
    userAgent: 'iloveimg-cli',
  });

  const haveKeys = Boolean(s.publicKey && s.secretKey);
  const embedded = runsEmbedded(s, flags.local);
  // No key at all: the embedded engine (README "Configuration"), even when an api_url is left over
  // (a profile after `logout`, ILOVEIMG_API_URL); say where it came from and what to do about it.
  if (embedded && !flags.local && s.apiUrl && opts.requireRemote === undefined) {
    opts.io.warn(`api_url ${s.apiUrl} (from ${sourceName(s, 'apiUrl')}) is not used: no keys are configured, so the embedded engine runs. Run \`iloveimg login\` to use that server${s.sources.apiUrl === 'profile' ? ', or `iloveimg config unset api_url`' : ''}.`);
  } else if (!embedded) {
    if (!haveKeys) {
      // Not embedded, so one key is there: name the missing one and where the other came from.
      const have = s.publicKey ? 'publicKey' : 'secretKey';
      throw new AuthError(
        `${s.apiUrl ?? DEFAULT_API_URL} needs a key pair: the ${have === 'publicKey' ? 'secret' : 'public'} key is missing (the ${have === 'publicKey' ? 'public' : 'secret'} key comes from ${sourceName(s, have)})`,
        'Set ILOVEIMG_PUBLIC_KEY and ILOVEIMG_SECRET_KEY, pass --public-key/--secret-key, or run `iloveimg login`.',
      );
    }
    const apiUrl = s.apiUrl ?? DEFAULT_API_URL;
    const client = new IloveimgClient(clientOptions(apiUrl, s.publicKey!, s.secretKey!));
    return { client, embedded: false, transport: 'network', apiUrl, close: async () => undefined };
  }

  if (opts.requireRemote) {
    throw new AuthError(`${opts.requireRemote} needs a server that outlives this command`, 'Configure keys (`iloveimg login`), or run `iloveimg serve` and pass --api-url with its keys.');
  }
  const { startServer, EMBEDDED_MEMORY_BYTES } = await import('../server/index.js');
  // The engine's data directory is made here so that a hard exit (second Ctrl-C) removes it too.
  const dataDir = await mkdtemp(path.join(tmpdir(), 'iloveimg-engine-'));
  const untrack = trackTempDir(dataDir);
  // The user's own files: the decode-memory cap is half the machine's memory, not serve's 1000 MB.
  const limits = { maxDecodeBytes: Math.max(1e9, Math.floor(totalmem() / 2)) };
  const server = await startServer({ host: '127.0.0.1', port: 0, dataDir, keepTasks: false, memoryBytes: EMBEDDED_MEMORY_BYTES, limits }).catch(async (e: unknown) => {
    await rm(dataDir, { recursive: true, force: true });
    untrack();
    throw e;
  });
  const [pair] = server.projects;
  if (!flags.local) await engineNotice(opts.io, path.dirname(s.profile.file));
  // The in-process transport unless ILOVEIMG_ENGINE_TRANSPORT=loopback (docs/architecture.md,
  // "Transport"): same router, handlers and wire format, no socket. The engine listens either way.
  const loopback = (opts.env ?? process.env).ILOVEIMG_ENGINE_TRANSPORT === 'loopback';
  const client = new IloveimgClient({ ...clientOptions(server.url, pair.publicKey, pair.secretKey), dispatch: loopback ? undefined : server.dispatch });
  const close = async () => {
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
    untrack();
  };
  return { client, embedded: true, transport: loopback ? 'loopback' : 'in-process', apiUrl: server.url, close };
}

/**
 * The one rule for which server a run talks to (README "Configuration"), shared with `config list`: the
 * embedded engine with `--local` or when no key at all is configured (a left-over api_url included);
 * otherwise the configured server, where a lone key without its pair is an error.
 */
export function runsEmbedded(s: { publicKey?: string; secretKey?: string }, local?: boolean): boolean {
  return Boolean(local) || !(s.publicKey || s.secretKey);
}

/**
 * "Using the embedded engine…" is news once, not on every run (README "Offline"): it is shown on a
 * terminal the first time the engine runs for a config directory (a marker file there remembers it),
 * every time with -v, and never in a pipe or with -q/--json.
 */
async function engineNotice(io: IO, dir: string): Promise<void> {
  const text = 'Using the embedded engine (no API keys configured). To use iLoveIMG\'s cloud, run `iloveimg login` or set ILOVEIMG_PUBLIC_KEY and ILOVEIMG_SECRET_KEY.';
  if (io.verbose) return io.info(text);
  if (!io.interactive) return;
  const marker = path.join(dir, 'engine-notice-shown');
  if (await access(marker).then(() => true, () => false)) return;
  io.info(text);
  await mkdir(dir, { recursive: true, mode: 0o700 })
    .then(() => writeFile(marker, ''))
    .catch(() => undefined);
}

/** "the profile 'work'", "ILOVEIMG_API_URL", "--api-url": where a setting came from, for messages. */
function sourceName(s: ResolvedSettings, key: 'apiUrl' | 'publicKey' | 'secretKey'): string {
  const src = s.sources[key];
  return src === 'flag' ? longFlag(optionOf(key))! : src === 'env' ? optionOf(key).env! : `the profile '${s.profile.name}' (${s.profile.file})`;
}

/** The settings a flag, a variable or a profile can give. */
type Credential = 'apiUrl' | 'publicKey' | 'secretKey' | 'fileEncryptionKey';

function optionOf(prop: Credential): GlobalOption {
  return GLOBAL_OPTIONS.find((o) => o.prop === prop)!;
}
