/**
 * Requests per minute per project, in fixed one-minute windows.
 *
 * The reference promises rate-limit headers on every response without naming them; we send the
 * common `X-RateLimit-Limit/Remaining/Reset` (Reset in Unix seconds, as GitHub does) and, on 429,
 * `Retry-After` in seconds, which is what got and the .NET client honour.
 */

const WINDOW_MS = 60_000;

export interface RateDecision {
  allowed: boolean;
  headers: Record<string, string>;
}

export class RateLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(private readonly perMinute: number) {}

  hit(key: string, now = Date.now()): RateDecision {
    let w = this.windows.get(key);
    if (!w || now - w.start >= WINDOW_MS) {
      if (this.windows.size > 10_000) this.prune(now);
      w = { start: now, count: 0 };
      this.windows.set(key, w);
    }
    const allowed = w.count < this.perMinute;
    if (allowed) w.count++;
    const resetMs = w.start + WINDOW_MS;
    const headers: Record<string, string> = {
      'X-RateLimit-Limit': String(this.perMinute),
      'X-RateLimit-Remaining': String(Math.max(0, this.perMinute - w.count)),
      'X-RateLimit-Reset': String(Math.ceil(resetMs / 1000)),
    };
    if (!allowed) headers['Retry-After'] = String(Math.max(1, Math.ceil((resetMs - now) / 1000)));
    return { allowed, headers };
  }

  private prune(now: number): void {
    for (const [key, w] of this.windows) if (now - w.start >= WINDOW_MS) this.windows.delete(key);
  }
}
