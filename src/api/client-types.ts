/**
 * The shapes the API client takes and hands back: its options, a started task, an upload's source,
 * a download's result, the task-list filters, and the description of one request.
 */
import type { Credentials } from './auth.js';
import type { ApiError, Step } from './errors.js';
import type { RetryPolicy } from './retry.js';
import type { ToolName } from '../protocol/tools.js';

export interface ClientOptions {
  apiUrl: string;
  credentials: Credentials;
  /** Per-request timeout in milliseconds (uploads and downloads get it per attempt). */
  timeoutMs?: number;
  /** Downloads fail when no byte arrives for this long (default 30 s), whatever the total timeout. */
  idleTimeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  userAgent?: string;
  /** Called before each retry, e.g. to report it or to lower the concurrency on 429. */
  onRetry?: (info: { step: Step; attempt: number; error: ApiError; delayMs: number }) => void;
  /** Aborts every request in flight (Ctrl-C). */
  signal?: AbortSignal;
  /** The embedded engine's in-process transport; without it, requests go over HTTP (got). */
  dispatch?: InProcessDispatch;
}

export const DEFAULT_TIMEOUT_MS = 300_000;
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;

/** The options with their defaults applied, once, by the client: what both transports read. */
export type ResolvedClientOptions = ClientOptions & { timeoutMs: number; idleTimeoutMs: number };

/** A started task: its id, tool, and the worker it lives on. */
export interface TaskRef {
  task: string;
  tool: ToolName | string;
  /** The worker host as the API returned it (bare host[:port]). */
  server: string;
}

export interface UploadSource {
  /** A local path, streamed from disk... */
  path?: string;
  /** ...or bytes already in memory (stdin). */
  data?: Buffer;
  /** The name sent as the file part's filename. */
  filename: string;
}

export interface DownloadResult {
  /** The file name from Content-Disposition (`filename*` first), untrusted: sanitise before use. */
  filename?: string;
  /** The bytes written to the destination (after any Content-Encoding is undone). */
  bytes: number;
  /** Its first bytes (at most 512), for sniffing without reading the file back. */
  head: Buffer;
}

export interface ListFilters {
  tool?: string;
  status?: string;
  custom_int?: number;
  page?: number;
}

export type Method = 'GET' | 'POST' | 'DELETE';

export interface RequestSpec {
  step: Step;
  method: Method;
  url: string;
  json?: unknown;
  /** Builds a fresh body for each attempt (a FormData cannot be replayed: docs/dependencies.md §5). */
  form?: () => Promise<FormData>;
  /** The same upload as its parts, for the in-process transport (src/api/in-process.ts). */
  upload?: readonly import('./in-process.js').UploadPart[];
  onUploadProgress?: (transferred: number) => void;
  /** Whether a failed attempt may be sent again (see retry.ts). */
  idempotent: boolean;
  /** Sent even after the abort signal fired (cleaning up remote tasks on Ctrl-C). */
  unabortable?: boolean;
}

/**
 * The embedded engine's router reached without a socket (src/server/inject.ts has the server side):
 * one request in, its answer's status, headers and body stream out.
 */
export type InProcessDispatch = (req: {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: Buffer | Buffer[];
  signal?: AbortSignal;
}) => Promise<{ statusCode: number; headers: import('node:http').IncomingHttpHeaders; body: import('node:stream').Readable }>;
