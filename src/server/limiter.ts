/**
 * A counting semaphore: the server-wide bound on files processed at once. sharp runs one thread per
 * image on this hardware, so more parallel files than cores only adds memory and contention.
 */
export class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly size: number) {}

  /** Resolves with a release function once a slot is free; call it exactly once. */
  async acquire(): Promise<() => void> {
    if (this.active < this.size) this.active++;
    // A releasing holder hands its slot straight to the first waiter, so `active` stays counted.
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    };
  }
}
