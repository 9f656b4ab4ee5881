/**
 * Small pieces of the client's HTTP handling: redirects kept on their origin, response bodies and
 * `Retry-After` read, network failures turned into ConnectionErrors that never carry a token, the
 * Content-Disposition file name, and an abortable sleep.
 */
import { ApiError, ConnectionError, type Step } from './errors.js';

/** A redirect may stay on the server it came from; one to another origin is refused (README "Security"). */
export function refuseOtherOrigins(options: { url?: URL | string }, response: { url?: string }): void {
  const to = options.url ? new URL(String(options.url)) : undefined;
  const from = response.url ? new URL(response.url) : undefined;
  if (to && from && to.origin !== from.origin) throw new ApiError(`the server redirected to another origin (${to.origin}); refused`, 0, 'download', 'RedirectRefused');
}

export function enc(s: string): string {
  return encodeURIComponent(s);
}

export function parseBody(text: string): unknown {
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function retryAfterOf(res: { headers: Record<string, string | string[] | undefined> }): number | undefined {
  const h = res.headers['retry-after'];
  if (!h) return undefined;
  const secs = Number(h);
  if (Number.isFinite(secs)) return Math.max(0, secs);
  const date = Date.parse(String(h));
  return Number.isFinite(date) ? Math.max(0, (date - Date.now()) / 1000) : undefined;
}

/** Network failures become ConnectionError; the message names the step and host, never the token. */
export function toApiError(raw: unknown, step: Step, method: string, url: string): ApiError {
  if (raw instanceof ApiError) return raw;
  // got wraps what a hook throws (refuseOtherOrigins).
  if ((raw as { cause?: unknown })?.cause instanceof ApiError) return (raw as { cause: ApiError }).cause;
  const err = raw as NodeJS.ErrnoException & { code?: string; name?: string };
  const host = safeHost(url);
  // got's network messages name the cause ("self-signed certificate", "connect ECONNREFUSED …") and
  // never carry headers, so they are safe to show; the code is added when the message lacks it.
  const message = err?.message ?? 'unknown error';
  const code = err?.code && !message.includes(err.code) ? ` (${err.code})` : '';
  const what = err?.name === 'TimeoutError' || err?.code === 'ETIMEDOUT' ? 'timed out' : `failed: ${message}${code}`;
  return new ConnectionError(`${method} ${host} (${step}) ${what}`, 0, step, err?.code ?? 'ConnectionError');
}

export function safeHost(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return 'the API';
  }
}

/**
 * The name in a Content-Disposition header: RFC 5987 `filename*=utf-8''…` first, then `filename="…"`
 * or a bare token (docs/protocol.md §3.5). The result is untrusted.
 */
export function filenameFromDisposition(header: string): string | undefined {
  const star = /filename\*\s*=\s*([^']*)'[^']*'([^;]+)/i.exec(header);
  if (star) {
    try {
      return decodeURIComponent(star[2].trim().replace(/^"|"$/g, ''));
    } catch {
      /* a malformed escape: fall back to the plain parameter */
    }
  }
  const quoted = /filename\s*=\s*"((?:[^"\\]|\\.)*)"/i.exec(header);
  if (quoted) return quoted[1].replace(/\\(.)/g, '$1');
  const bare = /filename\s*=\s*([^;\s]+)/i.exec(header);
  return bare?.[1];
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}
