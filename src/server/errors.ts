/**
 * Error values of the engine's HTTP layer and the JSON bodies they become.
 *
 * Two shapes exist on the wire (docs/protocol.md §6.1): the API's own `{"error": {type, message, code, param}}`
 * for 400/404/429/5xx, and the framework-style `{name, message, code, status}` that every official client
 * reads on 401. Handlers throw these; the router turns them into responses, so no handler writes an error
 * body by hand.
 */
import type { ErrorBody, ErrorType, UnauthorizedBody } from '../protocol/wire.js';

export type ErrorParam = Record<string, unknown> | unknown[];

/**
 * A request the server refuses. `type` may be left out by shared code (body parsing, task lookup) that
 * does not know which endpoint it serves: the router then fills in the endpoint's own type
 * (UploadError on /upload, ProcessingError on /process, …), which is what the clients key on.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param?: ErrorParam,
    readonly type?: ErrorType,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }

  toBody(fallbackType: ErrorType): ErrorBody {
    const body: ErrorBody = { error: { type: this.type ?? fallbackType, message: this.message, code: this.status } };
    if (this.param !== undefined) body.error.param = this.param;
    return body;
  }
}

/** A 400 carrying a field → messages map, the shape PHP and .NET read the first message from. */
export function badParam(name: string, message: string, type?: ErrorType): HttpError {
  return new HttpError(400, message, { [name]: [message] }, type);
}

/** Every task lookup that fails — unknown, expired, deleted or another project's — looks the same. */
export function taskNotFound(): HttpError {
  return new HttpError(404, 'Task not found', undefined, 'TaskNotFound');
}

/** A 401 in the framework shape; `message` is what the clients show the user. */
export class UnauthorizedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnauthorizedError';
  }

  toBody(): UnauthorizedBody {
    return { name: 'Unauthorized', message: this.message, code: 0, status: 401 };
  }
}
