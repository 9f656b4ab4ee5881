/** What every handler may use: one object per running server, built in index.ts. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthContext } from './auth.js';
import type { FilePart } from './body.js';
import type { Fields } from './brackets.js';
import type { AtRestKey } from './storage.js';
import type { Semaphore } from '../concurrency/semaphore.js';
import type { DecodeBudget } from './decode-budget.js';
import type { EngineTools, ProjectKeys, RecordedRequest, ServerLimits, ServerLogger } from './options.js';
import type { FaultInjector } from './faults.js';
import type { RateLimiter } from './ratelimit.js';
import type { TaskStore } from './store.js';

export interface ServerContext {
  readonly limits: ServerLimits;
  readonly store: TaskStore;
  /** public key → keys */
  readonly projects: ReadonlyMap<string, ProjectKeys>;
  /** What `/start` and task resources report as `server`. */
  readonly publicHost: string;
  /** `publicHost` with the scheme the server listens with (`https://127.0.0.1:8443`): the webhook's `server`. */
  readonly publicUrl: string;
  /** Files processed at once, across all tasks. */
  readonly slots: Semaphore;
  /** Decode memory, reserved per file from its header before its tool runs. */
  readonly decodeBudget: DecodeBudget;
  readonly rateLimiter?: RateLimiter;
  /** `serve --faults`: failures injected before (or instead of) handling a request. */
  readonly faults?: FaultInjector;
  readonly log: RecordedRequest[];
  readonly logger: ServerLogger;
  /** The image tools, imported on first use so that starting the server does not load sharp. */
  loadEngine(): Promise<EngineTools>;
  /** Registers background work (asynchronous processing, webhooks) for `close()` to wait for. */
  track(work: Promise<unknown>): void;
  /** Set by `close()`: files not yet started are left unprocessed. */
  readonly closing: boolean;
}

/** One request, as the router hands it to a handler: authenticated, rate-checked, body parsed. */
export interface Call {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  /** Path parameters, already percent-decoded. */
  params: Record<string, string>;
  fields: Fields;
  /** The multipart file part of an upload, in the temp dir; the router deletes it afterwards. */
  file?: FilePart;
  /** Absent only on routes that need no token (/auth). */
  auth?: AuthContext;
  /** The at-rest key from the token's `file_encryption_key` claim, length already checked. */
  claimKey?: AtRestKey;
  entry: RecordedRequest;
}
