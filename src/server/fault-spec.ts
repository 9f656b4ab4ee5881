/**
 * The spec of fault injection (`serve --faults <spec>`): its options, the parser and the formatter
 * for logs. Off unless a spec is given.
 *
 * Spec: comma-separated `key=value` pairs, e.g. `rate=0.2,status=500:503:429,reset=0.05,latency=80,seed=42`
 *
 * | key       | meaning                                                                                   | default        |
 * |-----------|-------------------------------------------------------------------------------------------|----------------|
 * | `rate`    | share (0–1) of requests answered with an error status instead of being handled            | 0              |
 * | `status`  | the statuses to pick from, `:`-separated; only 500, 502, 503, 504 and 429                  | 500:503:429    |
 * | `late`    | share (0–1) of the status faults on `POST /process` and `POST /task/next` that are         | 0              |
 * |           | injected AFTER the request did its work: the task is processed (or the child task made)    |                |
 * |           | and the answer is replaced by a 500 (whatever status was drawn) — an answer lost on the    |                |
 * |           | way back                                                                                   |                |
 * | `reset`   | share (0–1) of uploads and of downloads whose connection is cut mid-transfer               | 0              |
 * | `latency` | milliseconds added before every request is looked at                                     | 0              |
 * | `seed`    | seed of the PRNG that picks the faults (same seed + same request order = same faults)      | random, logged |
 * | `only`    | fault only these endpoints, `:`-separated: `start`, `upload`, `process`, `download`,       | all            |
 * |           | `task` (`/task`, `/task/{id}`), `next` (`/task/next`), `info`, `auth`                      |                |
 * | `limit`   | inject at most this many faults in all, then none (`rate=1,only=process,limit=1`: exactly  | no limit       |
 * |           | the first process fails)                                                                  |                |
 *
 * What each fault does to a request: src/server/faults.ts (the injector).
 */
import { randomInt } from 'node:crypto';

export interface FaultOptions {
  /** Share of requests answered with one of `statuses` instead of being handled (0–1). */
  rate: number;
  /** Statuses a status fault picks from (uniformly). */
  statuses: number[];
  /** Share of status faults on /process and /task/next injected after the work is done (0–1). */
  late: number;
  /** Share of uploads and of downloads cut mid-transfer (0–1). */
  reset: number;
  /** Milliseconds of delay before every request. */
  latencyMs: number;
  /** PRNG seed. */
  seed: number;
  /** Endpoints that may be faulted (see the module comment); all when absent. */
  only?: string[];
  /** Most faults injected in all; unlimited when absent. */
  limit?: number;
}

export const FAULT_ENDPOINTS = ['start', 'upload', 'process', 'download', 'task', 'next', 'info', 'auth'] as const;

export const FAULT_STATUSES = [500, 502, 503, 504, 429] as const;

/** A bad `--faults` spec; the message names the part that is wrong. */
export class FaultSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FaultSpecError';
  }
}

function share(key: string, raw: string): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new FaultSpecError(`faults: ${key} must be a number from 0 to 1, not "${raw}"`);
  return n;
}

function whole(key: string, raw: string, max: number): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || n > max) throw new FaultSpecError(`faults: ${key} must be a whole number from 0 to ${max}, not "${raw}"`);
  return n;
}

/** Parses a spec such as `rate=0.2,status=500:503:429,reset=0.05,latency=80,seed=42` (see the module comment). */
export function parseFaults(spec: string): FaultOptions {
  const opts: FaultOptions = { rate: 0, statuses: [500, 503, 429], late: 0, reset: 0, latencyMs: 0, seed: randomInt(0, 2 ** 32) };
  const seen = new Set<string>();
  for (const part of spec.split(',')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) throw new FaultSpecError(`faults: expected key=value, not "${part.trim()}"`);
    const key = part.slice(0, eq).trim().toLowerCase();
    const value = part.slice(eq + 1).trim();
    if (seen.has(key)) throw new FaultSpecError(`faults: ${key} is given twice`);
    seen.add(key);
    switch (key) {
      case 'rate':
        opts.rate = share(key, value);
        break;
      case 'late':
        opts.late = share(key, value);
        break;
      case 'reset':
        opts.reset = share(key, value);
        break;
      case 'latency':
        opts.latencyMs = whole(key, value, 60_000);
        break;
      case 'seed':
        opts.seed = whole(key, value, 2 ** 32 - 1);
        break;
      case 'limit':
        opts.limit = whole(key, value, Number.MAX_SAFE_INTEGER);
        break;
      case 'only': {
        const list = value.split(':').map((s) => s.trim().toLowerCase());
        const bad = list.find((s) => !(FAULT_ENDPOINTS as readonly string[]).includes(s));
        if (bad !== undefined) throw new FaultSpecError(`faults: only must name endpoints among ${FAULT_ENDPOINTS.join(', ')} separated by ':', not "${value}"`);
        opts.only = [...new Set(list)];
        break;
      }
      case 'status': {
        const list = value.split(':').map((s) => Number(s.trim()));
        const bad = list.find((s) => !(FAULT_STATUSES as readonly number[]).includes(s));
        if (list.length === 0 || bad !== undefined) {
          throw new FaultSpecError(`faults: status must be ${FAULT_STATUSES.join(', ')} separated by ':', not "${value}"`);
        }
        opts.statuses = [...new Set(list)];
        break;
      }
      default:
        throw new FaultSpecError(`faults: unknown key "${key}" (known: rate, status, late, reset, latency, seed, only, limit)`);
    }
  }
  return opts;
}

/** `rate=0.2,status=500:503:429,late=0,reset=0.05,latency=80,seed=42`: the full spec, for logs. */
export function formatFaults(o: FaultOptions): string {
  const only = o.only ? `,only=${o.only.join(':')}` : '';
  const limit = o.limit !== undefined ? `,limit=${o.limit}` : '';
  return `rate=${o.rate},status=${o.statuses.join(':')},late=${o.late},reset=${o.reset},latency=${o.latencyMs},seed=${o.seed}${only}${limit}`;
}

