/**
 * Reads the saved profile that applies to this run. The file is only opened when it exists, and conf
 * (slow to import: ajv) is not loaded for that: commands with keys in flags or the environment, and the
 * embedded engine, never pay for it.
 */
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { UsageError } from '../lib/errors.js';

export interface ProfileSettings {
  apiUrl?: string;
  publicKey?: string;
  secretKey?: string;
  fileEncryptionKey?: string;
  outputDir?: string;
  concurrency?: number;
}

export interface StoredConfig {
  currentProfile?: string;
  profiles?: Record<string, ProfileSettings>;
}

export const CONFIG_FILE = 'config.json';

/** `--config-dir` / `ILOVEIMG_CONFIG_DIR`, else the platform's config directory + `iloveimg`. */
export function configDir(override?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (override) return path.resolve(override);
  if (env.ILOVEIMG_CONFIG_DIR) return path.resolve(env.ILOVEIMG_CONFIG_DIR);
  const home = os.homedir();
  if (process.platform === 'win32') return path.join(env.APPDATA ?? path.join(home, 'AppData', 'Roaming'), 'iloveimg', 'Config');
  if (process.platform === 'darwin') return path.join(home, 'Library', 'Preferences', 'iloveimg');
  return path.join(env.XDG_CONFIG_HOME ?? path.join(home, '.config'), 'iloveimg');
}

export async function readStoredConfig(dir: string): Promise<StoredConfig | undefined> {
  const text = await readFile(path.join(dir, CONFIG_FILE), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as StoredConfig;
  } catch {
    throw new UsageError(`${path.join(dir, CONFIG_FILE)} is not valid JSON`, 'Fix or delete it, then run `iloveimg login` again.');
  }
}

/** Where the profile in use was chosen: `--profile`, ILOVEIMG_PROFILE, the saved current one, or `default`. */
export type ProfileSource = 'flag' | 'env' | 'current' | 'default';

export interface SelectedProfile {
  name: string;
  source: ProfileSource;
  /** Undefined when no such profile is saved (only possible for `current` and `default`). */
  settings?: ProfileSettings;
  /** The config directory and file that were read. */
  dir: string;
  file: string;
}

/**
 * Picks the profile a run uses: `--profile`, else ILOVEIMG_PROFILE, else the saved current one, else
 * `default`. A profile named by the flag or the environment must exist.
 */
export async function selectProfile(opts: { profile?: string; configDir?: string; env?: NodeJS.ProcessEnv }): Promise<SelectedProfile> {
  const env = opts.env ?? process.env;
  const dir = configDir(opts.configDir, env);
  const stored = await readStoredConfig(dir);
  const fromEnv = env.ILOVEIMG_PROFILE || undefined;
  const [name, source]: [string, ProfileSource] = opts.profile
    ? [opts.profile, 'flag']
    : fromEnv
      ? [fromEnv, 'env']
      : stored?.currentProfile
        ? [stored.currentProfile, 'current']
        : ['default', 'default'];
  const found = stored?.profiles && Object.hasOwn(stored.profiles, name) ? stored.profiles[name] : undefined;
  if (!found && (source === 'flag' || source === 'env')) {
    const how = source === 'flag' ? `--profile ${name}` : `ILOVEIMG_PROFILE=${name}`;
    throw new UsageError(`There is no profile named '${name}' (${how})`, `List them with \`iloveimg profiles list\`, or create it with \`iloveimg login --profile ${name}\`.`);
  }
  return { name, source, settings: found, dir, file: path.join(dir, CONFIG_FILE) };
}

/** The selected profile (flag or ILOVEIMG_PROFILE), else the current one, else `default`. */
export async function loadProfileSettings(opts: { profile?: string; configDir?: string; env?: NodeJS.ProcessEnv }): Promise<ProfileSettings | undefined> {
  return (await selectProfile(opts)).settings;
}
