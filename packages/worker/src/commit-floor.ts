/**
 * The offsets the Kafka worker commits, per partition (`topic/partition`): the next offset after the last message
 * delivered to a stream, and what the group has committed. With checkpoints, a partition is committed only up to its
 * first message no saved checkpoint covers yet (`floor`), so a restarted worker reads again what it would lose.
 */
export class CommitFloor {
  readonly #delivered = new Map<string, bigint>();
  readonly #committed = new Map<string, bigint>();

  /** The message at `offset` of `part` was handed to its stream. */
  delivered(part: string, offset: string | bigint): void {
    this.#delivered.set(part, BigInt(offset) + 1n);
  }

  /** Whether this worker still reads `part` (a rebalance may have taken it away). */
  owns(part: string): boolean {
    return this.#delivered.has(part);
  }

  /** A partition this worker lost: its new owner commits from here on. */
  drop(part: string): void {
    this.#delivered.delete(part);
    this.#committed.delete(part);
  }

  /**
   * What to commit now, decided in one synchronous step (frames keep arriving while commits are awaited, and a
   * delivered offset read later could pass messages no checkpoint covers yet): per partition, the offset of its
   * first `uncovered` message, or past the last delivered; only those beyond what is committed.
   */
  due(uncovered: Iterable<{ part: string; offset: bigint }>): [part: string, offset: bigint][] {
    const floor = new Map<string, bigint>();
    for (const { part, offset } of uncovered)
      if ((floor.get(part) ?? offset + 1n) > offset) floor.set(part, offset);
    return [...this.#delivered]
      .map(([part, next]) => [part, floor.get(part) ?? next] as [string, bigint])
      .filter(([part, offset]) => offset > (this.#committed.get(part) ?? -1n));
  }

  /** The group took the commit of `offset` for `part`. */
  committed(part: string, offset: bigint): void {
    this.#committed.set(part, offset);
  }
}
