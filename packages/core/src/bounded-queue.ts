/**
 * The one bounded hand-off between a producer and a single async consumer (a decode worker → its source's reader,
 * a Kafka batch → a stream's write path). `push(item, 'dropOldest')` into a full queue evicts the oldest item and
 * returns it (the caller counts it); `'block'` never evicts: the producer waits with `waitForSpace()` (or holds
 * credits) instead. `close()` ends the consumer's iteration after the queued items; `fail(err)` ends it with `err`.
 */
export class BoundedQueue<T> implements AsyncIterable<T> {
  readonly capacity: number;
  readonly #items: T[] = [];
  #consumer: (() => void) | null = null;
  #spaceWaiters: (() => void)[] = [];
  #closed = false;
  #error: unknown = null;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  get size(): number {
    return this.#items.length;
  }

  /** Adds an item (ignored once closed); returns the item evicted to make room (`dropOldest` on a full queue). */
  push(item: T, policy: 'dropOldest' | 'block' = 'block'): T | undefined {
    if (this.#closed) return undefined;
    const evicted =
      policy === 'dropOldest' && this.#items.length >= this.capacity ? this.#items.shift() : undefined;
    this.#items.push(item);
    this.#wakeConsumer();
    return evicted;
  }

  /** Resolves once the queue has room (or is closed). */
  async waitForSpace(): Promise<void> {
    while (this.#items.length >= this.capacity && !this.#closed) {
      await new Promise<void>((r) => this.#spaceWaiters.push(r));
    }
  }

  close(): void {
    this.#closed = true;
    this.#wakeConsumer();
    for (const w of this.#spaceWaiters.splice(0)) w();
  }

  fail(err: unknown): void {
    this.#error = err;
    this.close();
  }

  #wakeConsumer(): void {
    const w = this.#consumer;
    this.#consumer = null;
    w?.();
  }

  /** The next item, or undefined at the end. Throws the error given to `fail` once the queue is drained. */
  async next(): Promise<T | undefined> {
    for (;;) {
      if (this.#items.length > 0) {
        const item = this.#items.shift()!;
        if (this.#items.length < this.capacity) for (const w of this.#spaceWaiters.splice(0)) w();
        return item;
      }
      if (this.#closed) {
        if (this.#error !== null) throw this.#error;
        return undefined;
      }
      await new Promise<void>((resolve) => {
        this.#consumer = resolve;
      });
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: async () => {
        const item = await this.next();
        return item === undefined ? { done: true, value: undefined } : { done: false, value: item };
      },
      return: async () => {
        this.close();
        return { done: true, value: undefined };
      },
    };
  }
}
