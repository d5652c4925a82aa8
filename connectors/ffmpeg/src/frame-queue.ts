/**
 * A bounded single-consumer queue. `dropOldest`: a push into a full queue evicts the oldest item (returned to the
 * caller to count); `block`: the producer is expected to respect `free` (credits) and a push never evicts.
 * `close()` ends the consumer's iteration after the queued items; `fail(err)` ends it with an error.
 */
export class FrameQueue<T> {
  readonly capacity: number;
  readonly #items: T[] = [];
  #waiter: (() => void) | null = null;
  #closed = false;
  #error: unknown = null;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  get size(): number {
    return this.#items.length;
  }

  /** Adds an item; returns the evicted item when the queue was full (dropOldest), else undefined. */
  push(item: T, policy: 'dropOldest' | 'block'): T | undefined {
    let evicted: T | undefined;
    if (policy === 'dropOldest' && this.#items.length >= this.capacity) evicted = this.#items.shift();
    this.#items.push(item);
    this.#wake();
    return evicted;
  }

  close(): void {
    this.#closed = true;
    this.#wake();
  }

  fail(err: unknown): void {
    this.#error = err;
    this.#closed = true;
    this.#wake();
  }

  #wake(): void {
    const w = this.#waiter;
    this.#waiter = null;
    w?.();
  }

  /** The next item, or undefined at the end. Throws the error given to `fail` once the queue is drained. */
  async next(): Promise<T | undefined> {
    for (;;) {
      if (this.#items.length > 0) return this.#items.shift();
      if (this.#closed) {
        if (this.#error !== null) throw this.#error;
        return undefined;
      }
      await new Promise<void>((resolve) => {
        this.#waiter = resolve;
      });
    }
  }
}
