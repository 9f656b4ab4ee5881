/**
 * A counting semaphore, fair across keys, whose limit may change while jobs run. The one bound on
 * work in flight for both sides: the client's tasks and uploads (`src/run/batch.ts`, limit halved
 * on repeated 429s) and the server's processing slots (`src/server/process.ts`, keyed by project).
 *
 * - **Fair across keys.** Waiters queue per key (a project; the client uses one key), and a freed
 *   slot goes to the keys in turn, so one key with thousands of waiters cannot hold every slot while
 *   another waits. Within a key, first come, first served.
 * - **No barging.** A releasing holder hands its slot straight to the next waiter, so a newcomer
 *   never overtakes the queue.
 * - **Settable limit.** Lowering it lets the jobs in flight finish: a release then frees its slot
 *   instead of handing it on, until fewer than `limit` are active. Raising it wakes waiters at once.
 */
export class Semaphore {
  private active = 0;
  private max: number;
  /** Waiters by key; Map order is the turn order (a key served goes to the back). */
  private readonly waiting = new Map<string, (() => void)[]>();

  constructor(limit: number) {
    this.max = Semaphore.check(limit);
  }

  get limit(): number {
    return this.max;
  }

  set limit(value: number) {
    this.max = Semaphore.check(value);
    while (this.active < this.max) {
      const next = this.nextWaiter();
      if (!next) break;
      this.active++;
      next();
    }
  }

  /** Jobs holding a slot now (may exceed `limit` for a while after it was lowered). */
  get inFlight(): number {
    return this.active;
  }

  /** Resolves with a release function once a slot is free for `key`; call it once (later calls do nothing). */
  async acquire(key = ''): Promise<() => void> {
    if (this.active < this.max && this.waiting.size === 0) this.active++;
    // The slot is counted by whoever hands it over (a release, or a raised limit).
    else
      await new Promise<void>((resolve) => {
        const queue = this.waiting.get(key) ?? [];
        queue.push(resolve);
        this.waiting.set(key, queue);
      });
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.active <= this.max ? this.nextWaiter() : undefined;
      if (next) next();
      else this.active--;
    };
  }

  /** Runs `job` in a slot for `key` and frees the slot when it settles. */
  async run<T>(job: () => Promise<T>, key = ''): Promise<T> {
    const release = await this.acquire(key);
    try {
      return await job();
    } finally {
      release();
    }
  }

  private nextWaiter(): (() => void) | undefined {
    const [key, queue] = this.waiting.entries().next().value ?? [];
    if (key === undefined || !queue) return undefined;
    const next = queue.shift();
    this.waiting.delete(key);
    if (queue.length > 0) this.waiting.set(key, queue);
    return next;
  }

  private static check(limit: number): number {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`a semaphore's limit is a whole number ≥ 1, not ${limit}`);
    return limit;
  }
}
