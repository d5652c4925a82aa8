import { LvuError } from './lvu-error.js';

export interface RetryPolicy {
  /** Attempts in all, including the first; `Infinity` retries forever. */
  maxAttempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
  /** Multiplier between successive delays. */
  factor: number;
  /** Fraction of each delay that is randomised (0 = none, 1 = full jitter). */
  jitter: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 5,
  initialDelayMs: 200,
  maxDelayMs: 10_000,
  factor: 2,
  jitter: 0.3,
};

/** Whether an error may be retried: only LvuErrors marked retriable; programming errors never. */
export function isRetriable(err: unknown): boolean {
  return err instanceof LvuError && err.retriable;
}

/** Delay before attempt `attempt` (1-based: the delay after the first failure is attempt 1); never above the cap. */
export function backoffDelayMs(
  policy: Omit<RetryPolicy, 'maxAttempts'>,
  attempt: number,
  random: () => number = Math.random,
): number {
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.factor ** Math.max(0, attempt - 1));
  const spread = base * policy.jitter;
  return Math.min(policy.maxDelayMs, Math.max(0, base - spread + 2 * spread * random()));
}

export interface RetryHooks {
  signal?: AbortSignal;
  /** Which errors to retry (default `isRetriable`: LvuErrors marked retriable; programming errors never). */
  retryIf?: (err: unknown) => boolean;
  /** Epoch ms after which no attempt starts: the last error is thrown instead of waiting past it. */
  deadline?: number;
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new LvuError('CANCELLED', 'retry cancelled'));
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new LvuError('CANCELLED', 'retry cancelled'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * The one retry helper: runs `fn` until it succeeds, throws an error `retryIf` refuses, the policy's attempts run
 * out or the next attempt would start after `deadline`. Capped exponential backoff with jitter between attempts.
 */
export async function retry<T>(
  fn: (attempt: number) => Promise<T>,
  policy: Partial<RetryPolicy> = {},
  hooks: RetryHooks = {},
): Promise<T> {
  const p: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...policy };
  const sleep = hooks.sleep ?? abortableSleep;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (!(hooks.retryIf ?? isRetriable)(err) || attempt >= p.maxAttempts || hooks.signal?.aborted)
        throw err;
      const delay = backoffDelayMs(p, attempt);
      if (hooks.deadline !== undefined && Date.now() + delay > hooks.deadline) throw err;
      hooks.onRetry?.(err, attempt, delay);
      await sleep(delay, hooks.signal);
    }
  }
}
