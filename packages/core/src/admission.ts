import { LvuError } from './lvu-error.js';

/**
 * Admission control for work that competes with live ingest (questions, searches): at most `concurrent` run at
 * once, at most `queued` wait in arrival order, and a caller past both is refused at once with OVERLOADED (the
 * HTTP API's 429 with `Retry-After`), so a burst of callers never starves the streams nor grows memory without
 * bound. A caller that gives up while waiting (its signal aborts) leaves the queue.
 */
export class Admission {
  readonly name: string;
  readonly concurrent: number;
  readonly queued: number;
  #running = 0;
  readonly #waiting: { go: () => void; fail: (e: unknown) => void }[] = [];
  /** Callers refused so far (the metric `lvu_admission_rejected_total`). */
  rejected = 0;

  constructor(name: string, concurrent: number, queued: number) {
    this.name = name;
    this.concurrent = Math.max(1, concurrent);
    this.queued = Math.max(0, queued);
  }

  get running(): number {
    return this.#running;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  /** Runs `work` when a slot is free; OVERLOADED at once when the queue is full too. */
  async run<T>(work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (this.#running < this.concurrent) this.#running++;
    else {
      if (this.#waiting.length >= this.queued) {
        this.rejected++;
        throw new LvuError(
          'OVERLOADED',
          `${this.concurrent} ${this.name} running and ${this.#waiting.length} waiting: ask again shortly`,
          { details: { status: 429, retryAfterSeconds: this.retryAfterSeconds() } },
        );
      }
      await new Promise<void>((go, fail) => {
        const item = { go, fail };
        this.#waiting.push(item);
        signal?.addEventListener(
          'abort',
          () => {
            const i = this.#waiting.indexOf(item);
            if (i >= 0) this.#waiting.splice(i, 1);
            fail(new LvuError('CANCELLED', `the ${this.name} waiting for a slot was cancelled`));
          },
          { once: true },
        );
      });
    }
    // here this caller holds a slot: taken above, or handed over by the caller before it
    try {
      return await work();
    } finally {
      const next = this.#waiting.shift();
      if (next) next.go();
      else this.#running--;
    }
  }

  /** A hint for Retry-After: one second per round of waiting callers, at least 1. */
  retryAfterSeconds(): number {
    return Math.max(1, Math.ceil((this.#waiting.length + 1) / this.concurrent));
  }
}
