import { describe, expect, it } from 'vitest';
import { LvuError } from './lvu-error.js';
import { backoffDelayMs, retry } from './retry.js';

const noSleep = async () => {};

describe('retry', () => {
  it('retries retriable LvuErrors until success', async () => {
    let n = 0;
    const delays: number[] = [];
    const v = await retry(
      async () => {
        if (++n < 3) throw new LvuError('SOURCE_UNREACHABLE', 'down');
        return 'up';
      },
      { maxAttempts: 5 },
      { sleep: noSleep, onRetry: (_e, _a, d) => delays.push(d) },
    );
    expect(v).toBe('up');
    expect(n).toBe(3);
    expect(delays).toHaveLength(2);
  });

  it('never retries non-retriable errors or programming errors', async () => {
    let n = 0;
    await expect(
      retry(
        async () => {
          n++;
          throw new TypeError('bug');
        },
        {},
        { sleep: noSleep },
      ),
    ).rejects.toThrow(TypeError);
    await expect(
      retry(
        async () => {
          n++;
          throw new LvuError('INVALID_CONFIG', 'bad');
        },
        {},
        { sleep: noSleep },
      ),
    ).rejects.toThrow('bad');
    expect(n).toBe(2);
  });

  it('gives up after maxAttempts with the last error', async () => {
    let n = 0;
    await expect(
      retry(
        async () => {
          throw new LvuError('SOURCE_TIMEOUT', `t${++n}`);
        },
        { maxAttempts: 4 },
        { sleep: noSleep },
      ),
    ).rejects.toThrow('t4');
  });

  it('stops when aborted', async () => {
    const ac = new AbortController();
    const p = retry(
      async () => {
        throw new LvuError('SOURCE_TIMEOUT', 't');
      },
      { maxAttempts: Number.POSITIVE_INFINITY, initialDelayMs: 10_000 },
      { signal: ac.signal },
    );
    setTimeout(() => ac.abort(), 10);
    await expect(p).rejects.toMatchObject({ code: 'CANCELLED' });
  });

  it('stops at a deadline with the last error instead of sleeping past it, and retries what retryIf says', async () => {
    let calls = 0;
    const t0 = Date.now();
    const err = await retry(
      async () => {
        calls++;
        throw new LvuError('TRANSPORT_UNAVAILABLE', `attempt ${calls}`);
      },
      { maxAttempts: Number.POSITIVE_INFINITY, initialDelayMs: 40, maxDelayMs: 40, jitter: 0 },
      { deadline: Date.now() + 100 },
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'TRANSPORT_UNAVAILABLE', message: `attempt ${calls}` });
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(Date.now() - t0).toBeLessThan(1000);
    // a plain Error is not retried by default; retryIf makes it so
    let n = 0;
    const flaky = async () => {
      if (++n < 3) throw new Error('kafkajs says no');
      return n;
    };
    await expect(retry(flaky, { initialDelayMs: 1 })).rejects.toThrow('kafkajs says no');
    n = 0;
    await expect(retry(flaky, { initialDelayMs: 1 }, { retryIf: () => true })).resolves.toBe(3);
  });

  it('backoff grows by the factor, is capped, and jitters within its spread', () => {
    const p = { maxAttempts: 10, initialDelayMs: 100, maxDelayMs: 1000, factor: 2, jitter: 0.5 };
    expect(backoffDelayMs(p, 1, () => 0.5)).toBe(100);
    expect(backoffDelayMs(p, 3, () => 0.5)).toBe(400);
    expect(backoffDelayMs(p, 10, () => 0.5)).toBe(1000);
    expect(backoffDelayMs(p, 3, () => 0)).toBe(200);
    expect(backoffDelayMs(p, 3, () => 1)).toBe(600);
    expect(backoffDelayMs(p, 10, () => 1)).toBe(1000); // jitter never exceeds the cap
  });
});
