/**
 * When and how long to wait before sending a failed request again. The iLove* SDKs never retry
 * (docs/protocol.md §6.2, §8), and their users see batches die on a 429 or a flaky node; we retry the
 * failures that say "try again", with exponential backoff and full jitter, honouring Retry-After.
 */
import { ConnectionError, type ApiError } from './errors.js';

/** See IloveimgClient.retryPolicy for why six. */
export const DEFAULT_RETRIES = 6;

export interface RetryPolicy {
  /** Attempts after the first. */
  retries: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/**
 * - 429 and 503: the server did not do the work; safe for every request, process included.
 * - Connection failures, timeouts, 500, 502, 504: only for requests that can be repeated without
 *   harm (everything but process and task/next: the caller recovers process by asking for the task
 *   and resending only when it is still TaskWaiting, and task/next by finding the child it made).
 * - 401 "Signature verification failed": a known intermittent failure of some API nodes with a valid
 *   token (docs/protocol.md §2.3); re-signed and retried. Other 401s ("Expired token", wrong key) are final.
 * - Everything else (400 validation, 404, other 4xx) is final.
 */
export function shouldRetry(error: ApiError, idempotent: boolean): boolean {
  if (error.status === 429 || error.status === 503) return true;
  if (error instanceof ConnectionError || error.status === 500 || error.status === 502 || error.status === 504) return idempotent;
  if (error.status === 401) return /signature verification failed/i.test(error.message);
  return false;
}

export function retryDelay(attempt: number, error: ApiError, policy: RetryPolicy, random = Math.random): number {
  if (error.retryAfter !== undefined) return Math.min(policy.maxDelayMs, Math.ceil(error.retryAfter * 1000));
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  // Full jitter: spreads the retries of many parallel uploads so they do not hit the server together.
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
