import { describe, expect, it } from 'vitest';
import { Admission } from './admission.js';
import { LvuError } from './lvu-error.js';

const later = () => {
  let done!: () => void;
  const p = new Promise<void>((r) => {
    done = r;
  });
  return { p, done };
};

describe('Admission', () => {
  it('runs at most `concurrent`, queues `queued`, refuses the rest with OVERLOADED and a Retry-After', async () => {
    const a = new Admission('searches', 2, 3);
    const gates = Array.from({ length: 5 }, later);
    let running = 0;
    let most = 0;
    const runs = gates.map((g, i) =>
      a.run(async () => {
        running++;
        most = Math.max(most, running);
        await g.p;
        running--;
        return i;
      }),
    );
    const refused = await a.run(async () => 99).catch((e) => e as LvuError);
    expect(refused).toBeInstanceOf(LvuError);
    expect((refused as LvuError).code).toBe('OVERLOADED');
    expect((refused as LvuError).details).toMatchObject({ status: 429, retryAfterSeconds: 2 });
    expect([a.running, a.waiting, a.rejected]).toEqual([2, 3, 1]);
    for (const g of gates) g.done();
    expect(await Promise.all(runs)).toEqual([0, 1, 2, 3, 4]);
    expect(most).toBe(2);
    expect([a.running, a.waiting]).toEqual([0, 0]);
  });

  it('a waiting caller that gives up leaves the queue; a failing one frees its slot', async () => {
    const a = new Admission('questions', 1, 2);
    const g = later();
    const first = a.run(() => g.p);
    const ac = new AbortController();
    const second = a.run(async () => 2, ac.signal);
    ac.abort();
    await expect(second).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(a.waiting).toBe(0);
    g.done();
    await first;
    await expect(a.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await a.run(async () => 3)).toBe(3);
    expect(a.running).toBe(0);
  });
});
