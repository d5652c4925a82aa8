import type { SnapshotStore } from '@lvu/core';

/**
 * The one checkpointer of both applications — `lvu serve`'s durable memory (a `stateDir`) and the Kafka worker's
 * crash-safe mode (a directory or a compacted topic): a stream's checkpoint is built only when what it covers
 * advanced (no snapshot otherwise), decided synchronously at the call (frames keep arriving while saves are awaited),
 * and saved to the store one at a time, in call order. A failed save rejects with the store's error and leaves the
 * last good checkpoint in place; the caller decides what a failure means (serve reports it and retries at the next
 * tick, the worker commits no offset that round).
 */
export class Checkpointer {
  #chain: Promise<unknown> = Promise.resolve();

  constructor(readonly store: SnapshotStore) {}

  /**
   * Saves `id`'s checkpoint, built by the caller at the call (`StreamPipeline.checkpoint` / `Engine.checkpoint` with
   * the seq saved last: null when nothing advanced, and then nothing is saved). Resolves with the seq it covers once
   * saved, or null when there was nothing to save.
   */
  save(id: string, cp: { seq: number; snapshot: Uint8Array } | null): Promise<number | null> {
    if (!cp) return Promise.resolve(null);
    return this.run(() => this.store.save(id, cp.snapshot).then(() => cp.seq));
  }

  /** Runs `work` after every save and work queued before it (a deletion after the saves of that stream). */
  run<T>(work: () => Promise<T>): Promise<T> {
    const p = this.#chain.then(work);
    this.#chain = p.catch(() => {});
    return p;
  }

  /** Resolves when everything queued so far is done (failed or not). */
  async flush(): Promise<void> {
    await this.#chain;
  }
}
