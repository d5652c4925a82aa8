import type { EventBus, MetricFamily } from '@lvu/core';

/** What happened on the Kafka side of one stream: messages that never reached its context, and edge restarts. */
export interface KafkaStreamCounters {
  /** Redelivered (`duplicate`), from an edge session older than the one publishing (`staleEpoch`), malformed. */
  skipped: { duplicate: number; staleEpoch: number; deadLettered: number };
  /** Restarts of the edge publishing the stream (new epochs). */
  edgeRestarts: number;
}

export type SkipReason = 'duplicate' | 'stale-epoch' | 'dead-letter';

const KEY = { duplicate: 'duplicate', 'stale-epoch': 'staleEpoch', 'dead-letter': 'deadLettered' } as const;

const zero = (): KafkaStreamCounters => ({
  skipped: { duplicate: 0, staleEpoch: 0, deadLettered: 0 },
  edgeRestarts: 0,
});

/**
 * The Kafka worker's counters per stream it owns. They are the worker's, not the engine's: the engine knows
 * streams and frames, the worker knows messages, offsets and edges. Each is also reported on the engine's event
 * bus (`frame.dropped`, `stream.edge-restarted`), shown with the stream's status and on /metrics, and saved with
 * the stream's checkpoint so a restarted worker counts on from it.
 */
export class KafkaCounters {
  readonly #events: EventBus;
  readonly #streams = new Map<string, KafkaStreamCounters>();

  constructor(events: EventBus) {
    this.#events = events;
  }

  /** A stream this worker now owns: counting from its checkpoint's counters (`saved`), or from zero. */
  open(id: string, saved?: string): void {
    let c = zero();
    if (saved) {
      try {
        const s = JSON.parse(saved) as KafkaStreamCounters;
        c = { skipped: { ...c.skipped, ...s.skipped }, edgeRestarts: s.edgeRestarts ?? 0 };
      } catch {
        // a checkpoint without readable counters: they start again, the context is whole
      }
    }
    this.#streams.set(id, c);
  }

  /** A stream this worker no longer owns (its new owner counts on from the checkpoint). */
  delete(id: string): void {
    this.#streams.delete(id);
  }

  /** A message for stream `id` that never reaches its context: counted when this worker owns it, always reported. */
  skipped(id: string, reason: SkipReason, seq: number): void {
    const c = this.#streams.get(id);
    if (c) c.skipped[KEY[reason]]++;
    this.#events.emit('frame.dropped', { streamId: id, seq, reason, dropped: 1 });
  }

  /** The edge publishing stream `id` restarted: counted, and reported as `stream.edge-restarted`. */
  edgeRestarted(id: string, epoch: number, previousEpoch: number, seq: number): void {
    const c = this.#streams.get(id);
    if (c) c.edgeRestarts++;
    this.#events.emit('stream.edge-restarted', { streamId: id, epoch, previousEpoch, seq });
  }

  /** A copy of a stream's counters (undefined: not owned here). */
  of(id: string): KafkaStreamCounters | undefined {
    const c = this.#streams.get(id);
    return c && { skipped: { ...c.skipped }, edgeRestarts: c.edgeRestarts };
  }

  /** A stream's counters as a checkpoint carries them (snapshot metadata is text). */
  saved(id: string): string | undefined {
    const c = this.#streams.get(id);
    return c && JSON.stringify(c);
  }

  /** The counters as Prometheus metric families, one series per owned stream. */
  metrics(): MetricFamily[] {
    const streams = [...this.#streams];
    return [
      {
        name: 'lvu_stream_skipped_messages_total',
        type: 'counter',
        help: 'Kafka messages for the stream that never reached its context, by reason',
        samples: streams.flatMap(([stream, c]) =>
          (Object.keys(KEY) as SkipReason[]).map(
            (reason) => [{ stream, reason }, c.skipped[KEY[reason]]] as [Record<string, string>, number],
          ),
        ),
      },
      {
        name: 'lvu_stream_edge_restarts_total',
        type: 'counter',
        help: 'restarts of the edge publishing the stream (new epochs)',
        samples: streams.map(
          ([stream, c]) => [{ stream }, c.edgeRestarts] as [Record<string, string>, number],
        ),
      },
    ];
  }
}
