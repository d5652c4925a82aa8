/**
 * An unbounded-by-design hand-off from a consumer callback to an async iterator, with `waitForSpace` so the
 * producer side can hold the Kafka consumer when the reader falls behind (`highWater` items).
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  readonly #items: T[] = [];
  #waiting: ((r: IteratorResult<T>) => void) | null = null;
  #spaceWaiters: (() => void)[] = [];
  #closed = false;

  constructor(readonly highWater = 64) {}

  get size(): number {
    return this.#items.length;
  }

  push(item: T): void {
    if (this.#closed) return;
    const w = this.#waiting;
    if (w) {
      this.#waiting = null;
      w({ value: item, done: false });
    } else this.#items.push(item);
  }

  async waitForSpace(): Promise<void> {
    while (this.#items.length >= this.highWater && !this.#closed) {
      await new Promise<void>((r) => this.#spaceWaiters.push(r));
    }
  }

  close(): void {
    this.#closed = true;
    this.#waiting?.({ value: undefined, done: true });
    this.#waiting = null;
    for (const w of this.#spaceWaiters.splice(0)) w();
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        const item = this.#items.shift();
        if (item !== undefined) {
          if (this.#items.length < this.highWater) for (const w of this.#spaceWaiters.splice(0)) w();
          return Promise.resolve({ value: item, done: false });
        }
        if (this.#closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((r) => {
          this.#waiting = r;
        });
      },
      return: () => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
