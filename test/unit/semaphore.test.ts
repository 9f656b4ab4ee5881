/**
 * The one semaphore (src/concurrency/semaphore.ts): its bound, its order (first come first served
 * within a key, keys in turn), and a limit changed while jobs hold slots.
 */
import { describe, expect, it } from 'vitest';
import { Semaphore } from '../../src/concurrency/semaphore.js';

/** Lets every pending promise callback run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

/** Starts an acquire and records its name in `got` once it holds a slot. */
function waiter(s: Semaphore, name: string, got: string[], key = '') {
  return s.acquire(key).then((release) => (got.push(name), release));
}

describe('Semaphore', () => {
  it('never lets more than the limit run, and runs every job', async () => {
    const s = new Semaphore(3);
    let running = 0;
    let most = 0;
    const done = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        s.run(async () => {
          most = Math.max(most, ++running);
          await settle();
          running--;
          return i;
        }),
      ),
    );
    expect(done).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(most).toBe(3);
    expect(s.inFlight).toBe(0);
  });

  it('serves one key first come, first served; a newcomer never overtakes the queue', async () => {
    const s = new Semaphore(1);
    const got: string[] = [];
    const first = await s.acquire();
    const queued = ['a', 'b', 'c'].map((n) => waiter(s, n, got));
    first();
    const late = waiter(s, 'late', got); // asked after a slot was handed on: still behind a, b, c
    for (const p of [...queued, late]) (await p)();
    expect(got).toEqual(['a', 'b', 'c', 'late']);
  });

  it('hands freed slots to the keys in turn: a flood from one key does not starve another', async () => {
    const s = new Semaphore(1);
    const got: string[] = [];
    const first = await s.acquire('flood');
    const asks = [...Array.from({ length: 5 }, (_, i) => [`flood${i}`, 'flood']), ['other0', 'other']];
    const jobs = asks.map(([name, key]) => s.acquire(key).then((release) => (got.push(name), release())));
    first();
    await Promise.all(jobs);
    expect(got).toEqual(['flood0', 'other0', 'flood1', 'flood2', 'flood3', 'flood4']);
  });

  it('a lowered limit lets the jobs in flight finish and hands no slot on until fewer run', async () => {
    const s = new Semaphore(3);
    const got: string[] = [];
    const holders = await Promise.all([s.acquire(), s.acquire(), s.acquire()]);
    const waiting = ['w1', 'w2', 'w3'].map((n) => waiter(s, n, got));
    s.limit = 1;
    holders[0]();
    holders[1]();
    await settle();
    expect(got).toEqual([]);
    expect(s.inFlight).toBe(1);
    holders[2]();
    await settle();
    expect(got).toEqual(['w1']);
    expect(s.inFlight).toBe(1);
    // Raised again: the waiters are woken at once, up to the new limit.
    s.limit = 3;
    await settle();
    expect(got).toEqual(['w1', 'w2', 'w3']);
    expect(s.inFlight).toBe(3);
    for (const p of waiting) (await p)();
    expect(s.inFlight).toBe(0);
  });

  it('a second release does nothing, and a failed job frees its slot', async () => {
    const s = new Semaphore(1);
    const release = await s.acquire();
    release();
    release();
    expect(s.inFlight).toBe(0);
    await expect(s.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(s.inFlight).toBe(0);
    expect(await s.run(async () => 'next')).toBe('next');
  });

  it('refuses a limit that is not a whole number of at least one', () => {
    expect(() => new Semaphore(0)).toThrow(RangeError);
    const s = new Semaphore(2);
    expect(() => (s.limit = 1.5)).toThrow(/whole number/);
    expect(s.limit).toBe(2);
  });
});
