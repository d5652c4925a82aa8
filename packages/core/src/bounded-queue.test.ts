import { describe, expect, it } from 'vitest';
import { BoundedQueue } from './bounded-queue.js';

describe('BoundedQueue', () => {
  it('dropOldest evicts and returns the oldest item of a full queue; block never evicts', () => {
    const q = new BoundedQueue<number>(2);
    expect(q.push(1, 'dropOldest')).toBeUndefined();
    expect(q.push(2, 'dropOldest')).toBeUndefined();
    expect(q.push(3, 'dropOldest')).toBe(1);
    expect(q.push(4)).toBeUndefined();
    expect(q.size).toBe(3);
  });

  it('hands items to a waiting consumer in order, then ends after close (or throws the error of fail)', async () => {
    const q = new BoundedQueue<number>(4);
    const got: number[] = [];
    const reading = (async () => {
      for await (const x of q) got.push(x);
    })();
    q.push(1);
    await Promise.resolve();
    q.push(2);
    q.close();
    q.push(3); // after close: ignored
    await reading;
    expect(got).toEqual([1, 2]);
    const f = new BoundedQueue<number>(4);
    f.push(7);
    f.fail(new Error('decoder died'));
    expect(await f.next()).toBe(7);
    await expect(f.next()).rejects.toThrow('decoder died');
  });

  it('waitForSpace holds the producer until the consumer takes an item, or the queue closes', async () => {
    const q = new BoundedQueue<number>(1);
    q.push(1);
    let released = false;
    const waiting = q.waitForSpace().then(() => {
      released = true;
    });
    await new Promise((r) => setTimeout(r, 5));
    expect(released).toBe(false);
    expect(await q.next()).toBe(1);
    await waiting;
    expect(released).toBe(true);
    q.push(2);
    const again = q.waitForSpace();
    q.close();
    await again; // a closed queue never holds anyone
  });
});
