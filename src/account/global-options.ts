/**
 * The program's global settings, one row each: the root option, its group and its help, the environment
 * variable and the profile key that give the same setting (precedence flag > environment > profile >
 * default, README "Configuration"). Read by the root program (src/cli.ts: the options, their parsers,
 * which of them take a value, and the `Environment:` help), the settings resolution (connection.ts)
 * and `config list` (src/commands/config.ts: where a value came from).
 * Adding a global setting: a row here, and its use where the setting is applied (docs/architecture.md,
 * "How to add a flag").
 */
import { DEFAULT_RETRIES } from '../api/retry.js';

export interface GlobalOption {
  /**
   * commander's name of the option (`ConnectionFlags` in connection.ts, `ioFor` in src/lib/context.ts);
   * none for a setting only a variable gives.
   */
  prop?: 'apiUrl' | 'publicKey' | 'secretKey' | 'local' | 'profile' | 'configDir' | 'fileEncryptionKey' | 'timeout' | 'idleTimeout' | 'retries' | 'json' | 'ndjson' | 'quiet' | 'verbose';
  /** commander's flags; none when only the environment or a profile gives the setting. */
  flags?: string;
  /** The heading of the root help the option is listed under (default `Connection`). */
  group?: 'Connection' | 'Output';
  /** What the setting is: the flag's help and the variable's line under `Environment:`. */
  help: string;
  /** The built-in value, said in both. */
  default?: string;
  /** Said after the flag's help only. */
  flagNote?: string;
  /** How the flag's value is read: seconds (kept as milliseconds) or a whole number in a range; else as given. */
  parse?: 'seconds' | { min: number; max: number };
  /** The variable that gives the same setting. */
  env?: string;
  /** The profile key (`config get/set`) that gives the same setting. */
  configKey?: 'api_url' | 'public_key' | 'secret_key' | 'file_encryption_key';
}

export const GLOBAL_OPTIONS: readonly GlobalOption[] = [
  { prop: 'apiUrl', flags: '--api-url <url>', help: 'API base URL', default: 'https://api.iloveimg.com', env: 'ILOVEIMG_API_URL', configKey: 'api_url' },
  { prop: 'publicKey', flags: '--public-key <key>', help: 'Project public key', env: 'ILOVEIMG_PUBLIC_KEY', configKey: 'public_key' },
  { prop: 'secretKey', flags: '--secret-key <key>', help: 'Project secret key', flagNote: 'prefer the env or a profile: flags show in `ps`', env: 'ILOVEIMG_SECRET_KEY', configKey: 'secret_key' },
  { prop: 'local', flags: '--local', help: 'Use the embedded engine even when keys are configured' },
  { prop: 'profile', flags: '--profile <name>', help: 'Use this saved profile', env: 'ILOVEIMG_PROFILE' },
  { prop: 'configDir', flags: '--config-dir <dir>', help: 'Where profiles are kept', env: 'ILOVEIMG_CONFIG_DIR' },
  // A tool's --file-encryption-key gives it for one run (a parameter of the tool table).
  { prop: 'fileEncryptionKey', help: 'File encryption key (16, 24 or 32 characters)', env: 'ILOVEIMG_FILE_ENCRYPTION_KEY', configKey: 'file_encryption_key' },
  { prop: 'timeout', flags: '--timeout <seconds>', help: 'Per-request timeout', default: '300', parse: 'seconds' },
  { prop: 'idleTimeout', flags: '--idle-timeout <seconds>', help: 'Give up a download attempt when no byte arrives for this long', default: '30', parse: 'seconds' },
  { prop: 'retries', flags: '--retries <n>', help: 'Retries of a failed request', default: String(DEFAULT_RETRIES), parse: { min: 0, max: 20 } },
  { prop: 'json', flags: '--json', group: 'Output', help: 'Print one JSON document on stdout (nothing else goes to stdout)' },
  { prop: 'ndjson', flags: '--ndjson', group: 'Output', help: 'Print one JSON event per line on stdout as files finish' },
  { prop: 'quiet', flags: '-q, --quiet', group: 'Output', help: 'Print only warnings and errors' },
  { prop: 'verbose', flags: '-v, --verbose', group: 'Output', help: 'Print more: tasks, retries, stack traces' },
  // Read where they apply: the bound of a download (src/run/result.ts) and the terminal (src/lib/io.ts).
  { env: 'ILOVEIMG_MAX_RESULT_SIZE', help: 'Largest result to download, e.g. 2GB', default: 'from the inputs' },
  { env: 'NO_COLOR', help: 'No colours' },
];

/** The long flag of an option (`--api-url`, `--quiet`). */
export function longFlag(o: GlobalOption): string | undefined {
  return o.flags?.split(/[ ,]+/).find((f) => f.startsWith('--'));
}

/** The row of a setting a profile can hold. */
export function optionOfKey(key: string): GlobalOption | undefined {
  return GLOBAL_OPTIONS.find((o) => o.configKey === key);
}

/** The flag's help: `API base URL (default https://api.iloveimg.com; env ILOVEIMG_API_URL)`. */
export function flagHelp(o: GlobalOption): string {
  return withNotes(o.help, [o.default && `default ${o.default}`, o.env && `env ${o.env}`, o.flagNote]);
}

/** The `Environment:` part of the root help: every variable of the table, then the precedence. */
export function environmentHelp(): string {
  const rows = GLOBAL_OPTIONS.filter((o) => o.env);
  const width = Math.max(...rows.map((o) => o.env!.length));
  const lines = rows.map((o) => `  ${o.env!.padEnd(width)}  ${withNotes(o.help, [o.default && `default ${o.default}`, o.flags && `like ${longFlag(o)}`])}`);
  return `Environment:
${lines.join('\n')}

Settings are taken from, in order: flag > environment > selected profile > default profile.
With no keys at all (or with --local), the embedded engine runs in-process: no account, no network.`;
}

function withNotes(text: string, notes: (string | undefined)[]): string {
  const said = notes.filter(Boolean);
  return said.length ? `${text} (${said.join('; ')})` : text;
}
