/**
 * The root program's connection options, one row each: the flag and its help, the environment
 * variable and the profile key that give the same setting (precedence flag > environment > profile >
 * default, README "Configuration"). Read by the root program (src/cli.ts: the options, and which of
 * them take a value), the settings resolution (connection.ts) and `config list`
 * (src/commands/config.ts: where a value came from).
 * Adding a connection option: a row here, and its use where the setting is applied.
 */
import { DEFAULT_RETRIES } from '../api/retry.js';

export interface GlobalOption {
  /** The property in `ConnectionFlags` and commander's options. */
  prop: 'apiUrl' | 'publicKey' | 'secretKey' | 'local' | 'profile' | 'configDir' | 'fileEncryptionKey' | 'timeout' | 'idleTimeout' | 'retries';
  /** commander's flags; none when only the environment or a profile gives the setting. */
  flags?: string;
  help?: string;
  /** The variable that gives the same setting. */
  env?: string;
  /** The profile key (`config get/set`) that gives the same setting. */
  configKey?: 'api_url' | 'public_key' | 'secret_key' | 'file_encryption_key';
}

export const GLOBAL_OPTIONS: readonly GlobalOption[] = [
  { prop: 'apiUrl', flags: '--api-url <url>', help: 'API base URL (default https://api.iloveimg.com; env ILOVEIMG_API_URL)', env: 'ILOVEIMG_API_URL', configKey: 'api_url' },
  { prop: 'publicKey', flags: '--public-key <key>', help: 'Project public key (env ILOVEIMG_PUBLIC_KEY)', env: 'ILOVEIMG_PUBLIC_KEY', configKey: 'public_key' },
  { prop: 'secretKey', flags: '--secret-key <key>', help: 'Project secret key (env ILOVEIMG_SECRET_KEY; prefer the env or a profile: flags show in `ps`)', env: 'ILOVEIMG_SECRET_KEY', configKey: 'secret_key' },
  { prop: 'local', flags: '--local', help: 'Use the embedded engine even when keys are configured' },
  { prop: 'profile', flags: '--profile <name>', help: 'Use this saved profile (env ILOVEIMG_PROFILE)', env: 'ILOVEIMG_PROFILE' },
  { prop: 'configDir', flags: '--config-dir <dir>', help: 'Where profiles are kept (env ILOVEIMG_CONFIG_DIR)', env: 'ILOVEIMG_CONFIG_DIR' },
  { prop: 'fileEncryptionKey', env: 'ILOVEIMG_FILE_ENCRYPTION_KEY', configKey: 'file_encryption_key' },
  { prop: 'timeout', flags: '--timeout <seconds>', help: 'Per-request timeout (default 300)' },
  { prop: 'idleTimeout', flags: '--idle-timeout <seconds>', help: 'Give up a download attempt when no byte arrives for this long (default 30)' },
  { prop: 'retries', flags: '--retries <n>', help: `Retries of a failed request (default ${DEFAULT_RETRIES})` },
];

/** The long flag of an option (`--api-url`). */
export function longFlag(o: GlobalOption): string | undefined {
  return o.flags?.split(' ')[0];
}

/** The row of a setting a profile can hold. */
export function optionOfKey(key: string): GlobalOption | undefined {
  return GLOBAL_OPTIONS.find((o) => o.configKey === key);
}
