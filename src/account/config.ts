/**
 * Writes the saved profiles: the one place that changes config.json.
 *
 * Reading stays in profile-settings.ts (plain JSON, no conf: every command reads, few write). Writing
 * goes through conf, imported only here and only when something is written (~77 ms: ajv), for its
 * atomic writes. The file is owner-only (0600) and so is its directory (0700), fixed on every write,
 * because it holds secret keys; conf alone would leave the directory 0755 (docs/dependencies.md §6).
 *
 * The layout is the one profile-settings.ts reads:
 *   {currentProfile, profiles: {name: {apiUrl, publicKey, secretKey, fileEncryptionKey, outputDir, concurrency}}}
 */
import { chmod, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../lib/errors.js';
import { CONFIG_FILE, configDir, readStoredConfig, type ProfileSettings, type StoredConfig } from './profile-settings.js';

export const FILE_MODE = 0o600;
export const DIR_MODE = 0o700;

/** The keys of `config get|set`, as the user types them, and their field in a profile. */
export const CONFIG_KEYS = {
  api_url: 'apiUrl',
  public_key: 'publicKey',
  secret_key: 'secretKey',
  file_encryption_key: 'fileEncryptionKey',
  output_dir: 'outputDir',
  concurrency: 'concurrency',
} as const satisfies Record<string, keyof ProfileSettings>;
export type ConfigKey = keyof typeof CONFIG_KEYS;
export const CONFIG_KEY_NAMES = Object.keys(CONFIG_KEYS) as ConfigKey[];

/** Keys whose values are never shown in full. */
export const SECRET_KEYS: ReadonlySet<ConfigKey> = new Set(['secret_key', 'file_encryption_key']);

/** Profile names stay simple: they are typed on command lines and completed by shells. */
const PROFILE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function checkProfileName(name: string): string {
  if (!PROFILE_NAME.test(name)) {
    throw new UsageError(`'${name}' is not a valid profile name`, 'Use letters, digits, dots, dashes and underscores (up to 64), starting with a letter or digit.');
  }
  return name;
}

/**
 * `secret_key_8f2c…e41d` → `secret_…e41d`: the well-known `secret_` prefix of iLoveIMG secret keys
 * (it says what kind of key it is) and the last four characters, enough to tell two keys apart.
 * Short values show nothing but the ellipsis.
 */
export function maskSecret(value: string | undefined): string {
  if (!value) return '';
  const prefix = value.startsWith('secret_') ? 'secret_' : '';
  const tail = value.length >= 16 ? value.slice(-4) : '';
  return `${prefix}…${tail}`;
}

/** The saved profiles, opened for changes. Every `save` writes the whole file atomically. */
export class ProfileStore {
  private constructor(
    readonly dir: string,
    private data: StoredConfig,
  ) {}

  /** Reads the store in `dir` (`--config-dir` / ILOVEIMG_CONFIG_DIR / the platform default). */
  static async open(opts: { configDir?: string; env?: NodeJS.ProcessEnv } = {}): Promise<ProfileStore> {
    const dir = configDir(opts.configDir, opts.env ?? process.env);
    const data = (await readStoredConfig(dir)) ?? {};
    return new ProfileStore(dir, data);
  }

  get file(): string {
    return path.join(this.dir, CONFIG_FILE);
  }

  get currentProfile(): string | undefined {
    return this.data.currentProfile;
  }

  names(): string[] {
    return Object.keys(this.data.profiles ?? {}).sort();
  }

  has(name: string): boolean {
    return Boolean(this.data.profiles && Object.hasOwn(this.data.profiles, name));
  }

  get(name: string): ProfileSettings | undefined {
    return this.has(name) ? { ...this.data.profiles![name] } : undefined;
  }

  /** Merges `patch` into a profile (creating it); an `undefined` value removes that setting. */
  update(name: string, patch: Partial<ProfileSettings>): ProfileSettings {
    checkProfileName(name);
    const next: ProfileSettings = { ...(this.get(name) ?? {}) };
    for (const [k, v] of Object.entries(patch) as [keyof ProfileSettings, unknown][]) {
      if (v === undefined) delete next[k];
      else (next as Record<string, unknown>)[k] = v;
    }
    this.data.profiles = { ...(this.data.profiles ?? {}), [name]: next };
    return next;
  }

  remove(name: string): boolean {
    if (!this.has(name)) return false;
    const { [name]: _gone, ...rest } = this.data.profiles!;
    this.data.profiles = rest;
    if (this.data.currentProfile === name) delete this.data.currentProfile;
    return true;
  }

  setCurrent(name: string | undefined): void {
    if (name === undefined) delete this.data.currentProfile;
    else this.data.currentProfile = name;
  }

  /** Writes the file through conf (0600), then makes sure the directory is 0700. */
  async save(): Promise<void> {
    // mkdir's mode only applies to directories it creates; chmod below fixes an existing one.
    await mkdir(this.dir, { recursive: true, mode: DIR_MODE });
    await chmod(this.dir, DIR_MODE);
    const { default: Conf } = await import('conf');
    const conf = new Conf<StoredConfig & Record<string, unknown>>({
      cwd: this.dir,
      configName: path.basename(CONFIG_FILE, '.json'),
      configFileMode: FILE_MODE,
      // Profile names are keys: never read `a.b` as a path.
      accessPropertiesByDotNotation: false,
    });
    const ordered: StoredConfig = {};
    if (this.data.currentProfile !== undefined) ordered.currentProfile = this.data.currentProfile;
    ordered.profiles = this.data.profiles ?? {};
    conf.store = ordered as StoredConfig & Record<string, unknown>;
    // conf writes through a temporary file with the mode above; a file that pre-dates it is fixed too.
    await chmod(this.file, FILE_MODE);
    await chmod(this.dir, DIR_MODE);
  }
}
