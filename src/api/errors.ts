/**
 * Errors of the API layer, keyed by HTTP status (as openai-node and stripe-node do) and keeping the
 * server's own `type`, `message` and `param`, plus the step (`start`, `upload`, …) as a field.
 * Never carries the token or the secret key: only the method, the path and the server's words.
 */

import { cleanText } from '../lib/sanitize.js';

export type Step = 'auth' | 'start' | 'upload' | 'process' | 'download' | 'task' | 'delete' | 'list' | 'next' | 'info';

export class ApiError extends Error {
  constructor(
    message: string,
    /** HTTP status, 0 for a connection failure. */
    readonly status: number,
    readonly step: Step,
    /** The server's error type (`UploadError`, `ProcessingError`, `Unauthorized`, …). */
    readonly type: string,
    readonly param?: unknown,
    /** Seconds from `Retry-After`, when the server sent one. */
    readonly retryAfter?: number,
  ) {
    super(message);
    this.name = new.target.name;
  }

  /** Builds the subclass that fits the status, from a response body of any of the API's shapes. */
  static fromResponse(status: number, step: Step, body: unknown, retryAfter?: number): ApiError {
    const { type, message, param } = describeBody(status, body);
    const Cls =
      status === 401
        ? AuthenticationError
        : status === 403
          ? PermissionDeniedError
          : status === 404
          ? NotFoundError
            : status === 429
              ? RateLimitError
              : status >= 500
                ? ServerError
                : BadRequestError;
    return new Cls(message, status, step, type, param, retryAfter);
  }
}

/** Any other 4xx: the request itself is wrong (400, 413, 422, …). */
export class BadRequestError extends ApiError {}
/** 401: the keys or the token were refused. */
export class AuthenticationError extends ApiError {}
/** 403: the keys are valid but may not do this. */
export class PermissionDeniedError extends ApiError {}
export class NotFoundError extends ApiError {}
export class RateLimitError extends ApiError {}
export class ServerError extends ApiError {}
/** No HTTP answer at all: refused, reset, timed out, DNS. */
export class ConnectionError extends ApiError {}

/**
 * The API answers errors as `{error: {type, message, param}}`, 401s as `{name, message, status}`,
 * and some upload errors as a plain string (docs/protocol.md §6.1). Reads all of them.
 */
function describeBody(status: number, body: unknown): { type: string; message: string; param?: unknown } {
  if (body && typeof body === 'object') {
    const b = body as Record<string, unknown>;
    const e = (b.error && typeof b.error === 'object' ? b.error : b) as Record<string, unknown>;
    const type = String(e.type ?? e.name ?? `HTTP ${status}`);
    const message = typeof e.message === 'string' && e.message ? e.message : `HTTP ${status}`;
    const detail = firstParamMessage(e.param);
    return { type: cleanText(type).slice(0, 100), message: cleanText(detail ? `${message} (${detail})` : message).slice(0, 2000), param: e.param };
  }
  const text = typeof body === 'string' ? cleanText(body.trim().slice(0, 300)) : '';
  return { type: `HTTP ${status}`, message: text || `HTTP ${status}` };
}

/** `param: {file: ["File extension not supported."]}` → `file: File extension not supported.` */
function firstParamMessage(param: unknown): string | undefined {
  if (!param || typeof param !== 'object') return undefined;
  if (Array.isArray(param)) {
    const first = param[0] as Record<string, unknown> | undefined;
    if (!first) return undefined;
    const name = first.filename ?? first.server_filename ?? '';
    const err = first.error ?? first.status_message ?? first.status ?? '';
    return [name, err].filter(Boolean).join(': ') || undefined;
  }
  const [key, value] = Object.entries(param as Record<string, unknown>)[0] ?? [];
  if (key === undefined) return undefined;
  const msg = Array.isArray(value) ? value[0] : value;
  return `${key}: ${typeof msg === 'string' ? msg : JSON.stringify(msg)}`;
}
