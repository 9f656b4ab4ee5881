/**
 * A counting semaphore: the server-wide bound on files processed at once. sharp runs one thread per
 * image on this hardware, so more parallel files than cores only adds memory and contention.
 *
 * Fair across owners (projects): waiters queue per owner, and a freed slot goes to the owners in
 * turn, so one project sending thousands of files cannot hold every slot while another waits.
 */
export class Semaphore {
  private active = 0;
  /** Waiters by owner; Map order is the turn order (an owner served goes to the back). */
  private readonly waiting = new Map<string, (() => void)[]>();

  constructor(private readonly size: number) {}

  /** Resolves with a release function once a slot is free; call it exactly once. */
  async acquire(owner = ''): Promise<() => void> {
    if (this.active < this.size) this.active++;
    // A releasing holder hands its slot straight to the next waiter, so `active` stays counted.
    else
      await new Promise<void>((resolve) => {
        const queue = this.waiting.get(owner) ?? [];
        queue.push(resolve);
        this.waiting.set(owner, queue);
      });
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.nextWaiter();
      if (next) next();
      else this.active--;
    };
  }

  private nextWaiter(): (() => void) | undefined {
    const [owner, queue] = this.waiting.entries().next().value ?? [];
    if (owner === undefined || !queue) return undefined;
    const next = queue.shift();
    this.waiting.delete(owner);
    if (queue.length > 0) this.waiting.set(owner, queue);
    return next;
  }
}
