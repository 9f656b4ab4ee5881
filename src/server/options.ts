/**
 * The engine server's options, their defaults, and the records it exposes to its caller.
 */
import { randomBytes } from 'node:crypto';
import type { ToolName } from '../protocol/tools.js';
import type { ToolImpl } from '../engine/types.js';
import type { FaultOptions } from './fault-spec.js';

export interface ProjectKeys {
  publicKey: string;
  secretKey: string;
}

export interface ServerLimits {
  /** Largest accepted file, per file (chunked files in total), in bytes. */
  maxUploadBytes: number;
  /** Decompression-bomb guard handed to the image tools (sharp's own default). */
  maxInputPixels: number;
  /** Budget per file (per joined task for gif_animation: this × files); past it the file is TimeOut. */
  fileTimeoutSeconds: number;
  /** Tasks per project that may be open (started, not processed) at once; more → StartError. */
  maxOpenTasks: number;
  /** Requests per minute per project; 0 = no limit. */
  rateLimit: number;
  /** Tasks and their files are removed this long after processing, or after their last use if never processed. */
  taskTtlSeconds: number;
  /** Allow `cloud_file` and `webhook` URLs on loopback, private and link-local addresses (tests, LANs). */
  allowPrivateUrls: boolean;
  /** The quota each project starts with; every successfully processed file uses one. */
  remainingFiles: number;
  /** Total time for fetching one `cloud_file` or delivering one webhook. */
  fetchTimeoutSeconds: number;
  /** Time allowed for receiving a whole request (uploads) and its headers (node:http timeouts). */
  requestTimeoutSeconds: number;
  headersTimeoutSeconds: number;
  /** Connections open at once; more are refused by node:http (0 = no cap). */
  maxConnections: number;
  /** Decode memory reserved at once across files, estimated from each header (decode-budget.ts); 0 = no cap. */
  maxDecodeBytes: number;
  /** Largest JSON / urlencoded body, in bytes. */
  maxFormBytes: number;
  /** The oldest entries of `RunningServer.log` are dropped past this many. */
  maxLogEntries: number;
}

export type EngineTools = Record<ToolName, ToolImpl>;

export type LogLevel = 'info' | 'warn' | 'error';
export type ServerLogger = (level: LogLevel, message: string) => void;

export interface ServeOptions {
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Key pairs that may use the server; one random pair is made when none are given. */
  projects?: ProjectKeys[];
  /** Where tasks keep their files; default a fresh directory under the OS temp dir, removed on close. */
  dataDir?: string;
  /**
   * Keep each task's record in a given dataDir for the next run (`serve --data-dir`); default true.
   * The embedded engine's dataDir is a throwaway one, so it sets false and writes no records.
   */
  keepTasks?: boolean;
  /**
   * Hold uploads, outputs and zips in memory up to this many bytes across all tasks, instead of in
   * dataDir (memory.ts; the embedded engine: 256 MB). Beyond it, and for encrypted files, they go to
   * disk. Default 0: all on disk (`serve`). Never with a store that keeps its tasks.
   */
  memoryBytes?: number;
  /** What `/start` returns as `server`: a bare host[:port]; default `${host}:${port}`. */
  publicHost?: string;
  /** Files processed at the same time, across all tasks; default 2 (sharp uses one thread per image). */
  concurrency?: number;
  limits?: Partial<ServerLimits>;
  /** The only way the server reports anything; it never writes to stdout or stderr itself. */
  logger?: ServerLogger;
  /** Image tools to use instead of src/engine (tests); loaded lazily from src/engine by default. */
  engine?: EngineTools;
  /** Inject failures for testing clients (`serve --faults`, see fault-spec.ts and faults.ts); off by default. */
  faults?: FaultOptions;
  /**
   * Serve HTTPS with this certificate and key (PEM). The official libraries force `https://` for the
   * worker host that `/start` returns, so this is what lets them talk to the engine unmodified.
   */
  tls?: { cert: string | Buffer; key: string | Buffer };
}

/** One request as it reached the server, for tests and `serve --verbose`. */
export interface RecordedRequest {
  method: string;
  /** The path without the query string, e.g. `/v1/upload`. */
  path: string;
  tool?: string;
  task?: string;
  /** For /process: the validated parameters; for `debug` requests: what was echoed. */
  params?: Record<string, unknown>;
  /** Epoch milliseconds at arrival. */
  at: number;
  /** The response status, once sent. */
  status?: number;
  /** For an upload with a file part: the part's filename as the client sent it. */
  file?: string;
  /** The fault injected into this request, when fault injection is on: `status 503`, `late 500`, `reset upload`, `reset download`. */
  fault?: string;
}

export interface RunningServer {
  /** e.g. `http://127.0.0.1:41234` */
  url: string;
  port: number;
  projects: ProjectKeys[];
  /** Stops listening, waits for background processing, and removes a temporary dataDir. */
  close(): Promise<void>;
  log: RecordedRequest[];
  /** The same router reached without a socket: the embedded engine's transport (src/server/inject.ts). */
  dispatch?: import('./inject.js').Dispatch;
}

export const DEFAULT_LIMITS: ServerLimits = {
  maxUploadBytes: 200 * 1024 * 1024,
  maxInputPixels: 268402689,
  fileTimeoutSeconds: 120,
  maxOpenTasks: 1000,
  rateLimit: 0,
  taskTtlSeconds: 7200,
  allowPrivateUrls: false,
  remainingFiles: 1_000_000,
  fetchTimeoutSeconds: 60,
  // Short enough that slow connections are cut soon, long enough for a 200 MB upload at ~1 MB/s.
  requestTimeoutSeconds: 300,
  headersTimeoutSeconds: 20,
  maxConnections: 512,
  maxDecodeBytes: 1_000_000_000,
  maxFormBytes: 10 * 1024 * 1024,
  maxLogEntries: 10_000,
};

export interface ResolvedOptions {
  host: string;
  port: number;
  projects: ProjectKeys[];
  dataDir?: string;
  publicHost?: string;
  concurrency: number;
  limits: ServerLimits;
  logger: ServerLogger;
  engine?: EngineTools;
  faults?: FaultOptions;
  tls?: { cert: string | Buffer; key: string | Buffer };
}

export function randomProject(): ProjectKeys {
  return {
    publicKey: `project_public_${randomBytes(16).toString('hex')}`,
    secretKey: `secret_key_${randomBytes(16).toString('hex')}`,
  };
}

/** Applies defaults and refuses option values that would make the server misbehave later. */
export function resolveOptions(opts: ServeOptions): ResolvedOptions {
  const limits: ServerLimits = { ...DEFAULT_LIMITS };
  for (const [key, value] of Object.entries(opts.limits ?? {}) as [keyof ServerLimits, unknown][]) {
    if (value === undefined) continue;
    if (!(key in DEFAULT_LIMITS)) throw new TypeError(`Unknown server limit: ${key}`);
    if (typeof DEFAULT_LIMITS[key] === 'boolean') {
      if (typeof value !== 'boolean') throw new TypeError(`limits.${key} must be a boolean`);
    } else if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new TypeError(`limits.${key} must be a non-negative number`);
    }
    (limits as unknown as Record<string, unknown>)[key] = value;
  }

  const projects = opts.projects && opts.projects.length > 0 ? opts.projects.map((p) => ({ ...p })) : [randomProject()];
  const seen = new Set<string>();
  for (const p of projects) {
    if (!p.publicKey || !p.secretKey) throw new TypeError('Every project needs a publicKey and a secretKey');
    if (seen.has(p.publicKey)) throw new TypeError(`Duplicate project public key: ${p.publicKey}`);
    seen.add(p.publicKey);
  }

  const concurrency = opts.concurrency ?? 2;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new TypeError('concurrency must be a whole number ≥ 1');
  const port = opts.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new TypeError('port must be 0–65535');

  return {
    host: opts.host ?? '127.0.0.1',
    port,
    projects,
    dataDir: opts.dataDir,
    publicHost: opts.publicHost,
    concurrency,
    limits,
    logger: opts.logger ?? (() => {}),
    engine: opts.engine,
    faults: opts.faults ? checkFaults(opts.faults) : undefined,
    tls: opts.tls,
  };
}

function checkFaults(f: FaultOptions): FaultOptions {
  for (const key of ['rate', 'late', 'reset'] as const) {
    if (typeof f[key] !== 'number' || !(f[key] >= 0 && f[key] <= 1)) throw new TypeError(`faults.${key} must be a number from 0 to 1`);
  }
  if (!Number.isFinite(f.latencyMs) || f.latencyMs < 0) throw new TypeError('faults.latencyMs must be a non-negative number');
  if (!Number.isInteger(f.seed)) throw new TypeError('faults.seed must be a whole number');
  if (f.rate > 0 && f.statuses.length === 0) throw new TypeError('faults.statuses must name at least one status');
  if (f.limit !== undefined && !(Number.isInteger(f.limit) && f.limit >= 0)) throw new TypeError('faults.limit must be a whole number ≥ 0');
  return { ...f, statuses: [...f.statuses], only: f.only ? [...f.only] : undefined };
}
