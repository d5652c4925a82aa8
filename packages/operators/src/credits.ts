import { LvuError } from '@lvu/core';

/**
 * A counting semaphore for backpressure across an RxJS chain: the source takes a credit before it pulls an item,
 * the end of the chain gives it back when the item is done with, so at most `capacity` items are in flight
 * whatever the stages in between buffer.
 */
export class Credits {
  readonly capacity: number;
  #free: number;
  #waiters: (() => void)[] = [];

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new LvuError('INVALID_ARGUMENT', `credits must be a positive integer, got ${capacity}`, {
        field: 'credits',
      });
    }
    this.capacity = capacity;
    this.#free = capacity;
  }

  get inFlight(): number {
    return this.capacity - this.#free;
  }

  acquire(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  release(n = 1): void {
    for (let i = 0; i < n; i++) {
      const w = this.#waiters.shift();
      if (w) w();
      else if (this.#free < this.capacity) this.#free++;
    }
  }
}
