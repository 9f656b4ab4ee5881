/**
 * Bounds how many async jobs run at once; `limit` may be lowered while running (repeated 429s).
 * The server has its own (`src/server/limiter.ts`): it hands a freed slot straight to the next
 * project in turn, which a limit lowered mid-run would break, so the two stay apart.
 */
export class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(public limit: number) {}

  async run<T>(job: () => Promise<T>): Promise<T> {
    while (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await job();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}
