import type {
  ConsumerHandlers,
  IncomingMessage,
  KafkaTransport,
  OutgoingMessage,
  TransportConsumer,
  TransportProducer,
} from '@lvu/kafka';

/**
 * An in-process KafkaTransport for unit tests of what sits on it (the worker's offset bookkeeping): topics of
 * partitions held in memory, a key's partition chosen by a stable hash, one member per group that owns every
 * partition, batches of up to `batchSize` messages per partition, committed offsets per group. It keeps Kafka's
 * contract where the worker relies on it: a consumer starts at its group's committed offset (redelivering what
 * was not committed), and a batch is delivered only after the previous one resolved.
 */
export class MemoryTransport implements KafkaTransport {
  readonly brokers = ['memory'];
  readonly topics = new Map<string, IncomingMessage[][]>();
  /** `group/topic/partition` → the next offset to read. */
  readonly committed = new Map<string, bigint>();
  readonly #closers = new Set<() => Promise<void>>();

  constructor(readonly batchSize = 16) {}

  async createTopic(topic: string, partitions: number): Promise<boolean> {
    if (this.topics.has(topic)) return false;
    this.topics.set(
      topic,
      Array.from({ length: partitions }, () => []),
    );
    return true;
  }

  #partitionOf(topic: string, m: OutgoingMessage): number {
    const parts = this.topics.get(topic)!;
    if (m.partition !== undefined) return m.partition;
    let h = 0;
    for (const c of m.key) h = (h * 31 + c.charCodeAt(0)) >>> 0;
    return h % parts.length;
  }

  async producer(): Promise<TransportProducer> {
    return {
      send: async (topic, messages) => {
        if (!this.topics.has(topic)) await this.createTopic(topic, 1);
        for (const m of messages) {
          const p = this.#partitionOf(topic, m);
          const log = this.topics.get(topic)![p]!;
          log.push({
            topic,
            partition: p,
            offset: String(log.length),
            key: m.key,
            value: m.value,
            headers: { ...m.headers },
            timestampMs: Date.now(),
          });
        }
      },
      close: async () => {},
    };
  }

  async consumer(groupId: string): Promise<TransportConsumer> {
    let stopped = false;
    let loop: Promise<void> = Promise.resolve();
    const close = async () => {
      stopped = true;
      await loop;
    };
    this.#closers.add(close);
    return {
      run: async (topics: readonly string[], h: ConsumerHandlers) => {
        const parts = topics.flatMap((t) =>
          (this.topics.get(t) ?? []).map((_, partition) => ({ topic: t, partition })),
        );
        await h.onAssigned?.(parts);
        const next = new Map(
          parts.map((p) => [
            `${p.topic}/${p.partition}`,
            this.committed.get(`${groupId}/${p.topic}/${p.partition}`) ?? 0n,
          ]),
        );
        loop = (async () => {
          while (!stopped) {
            let delivered = false;
            for (const p of parts) {
              const key = `${p.topic}/${p.partition}`;
              const log = this.topics.get(p.topic)![p.partition]!;
              const from = Number(next.get(key)!);
              if (from >= log.length) continue;
              const batch = log.slice(from, from + this.batchSize);
              await h.onBatch(batch);
              next.set(key, BigInt(from + batch.length));
              delivered = true;
              if (stopped) return;
            }
            if (!delivered) await new Promise((r) => setTimeout(r, 2));
          }
        })();
      },
      commit: async (topic, partition, offset) => {
        this.committed.set(`${groupId}/${topic}/${partition}`, BigInt(offset));
      },
      close: async () => {
        this.#closers.delete(close);
        await close();
      },
    };
  }

  async endOffsets(topic: string): Promise<Map<number, bigint>> {
    return new Map((this.topics.get(topic) ?? []).map((log, p) => [p, BigInt(log.length)]));
  }

  async close(): Promise<void> {
    for (const c of [...this.#closers]) await c();
  }
}
