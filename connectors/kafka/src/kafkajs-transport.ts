import { LvuError, retry } from '@lvu/core';
import { type Admin, type Consumer, type EachBatchPayload, Kafka, logLevel, type Producer } from 'kafkajs';
import type {
  ConsumerHandlers,
  IncomingMessage,
  KafkaTransport,
  OutgoingMessage,
  TransportConsumer,
  TransportProducer,
} from './kafka-transport.js';

const unavailable = (what: string, err: unknown) =>
  new LvuError('TRANSPORT_UNAVAILABLE', `${what}: ${(err as Error)?.message ?? err}`, {
    field: 'brokers',
    cause: err,
  });

/** Waiting for a broker: 250 ms doubling to 2 s (a broker that comes back is seen within about 2 s). */
const BROKER_BACKOFF = { initialDelayMs: 250, maxDelayMs: 2000, factor: 2, jitter: 0.3 };
/** Restarting a consumer kafkajs stopped for good: 500 ms doubling to 5 s. */
const CONSUMER_RESTART_BACKOFF = { initialDelayMs: 500, maxDelayMs: 5000, factor: 2, jitter: 0.3 };

/** The transport on kafkajs 2.2 (idempotent producer, manual commits, retries with backoff). */
export class KafkajsTransport implements KafkaTransport {
  readonly brokers: readonly string[];
  readonly #kafka: Kafka;
  readonly #closers = new Set<() => Promise<void>>();
  #admin: Admin | null = null;

  constructor(brokers: readonly string[], clientId = 'lvu') {
    if (brokers.length === 0) {
      throw new LvuError('INVALID_CONFIG', 'no Kafka brokers given', { field: 'brokers' });
    }
    this.brokers = brokers;
    this.#kafka = new Kafka({
      clientId,
      brokers: [...brokers],
      // LVU_KAFKA_LOG=error|warn|info|debug shows kafkajs' own log (JSON lines on stdout); silent by default
      logLevel:
        logLevel[(process.env.LVU_KAFKA_LOG ?? 'nothing').toUpperCase() as keyof typeof logLevel] ??
        logLevel.NOTHING,
      retry: { initialRetryTime: 200, maxRetryTime: 5000, retries: 30 },
      connectionTimeout: 3000,
    });
  }

  /**
   * Waits until a broker answers (a fresh probe connection per attempt, so a dead broker is told within seconds, not
   * after kafkajs' retries), calling `onRetry` after each failed attempt; TRANSPORT_UNAVAILABLE after `timeoutMs`.
   */
  async waitForBrokers(
    o: { timeoutMs?: number; onRetry?: (attempt: number, delayMs: number, err: LvuError) => void } = {},
  ): Promise<void> {
    await retry(
      async () => {
        const probe = new Kafka({
          clientId: 'lvu-probe',
          brokers: [...this.brokers],
          logLevel: logLevel.NOTHING,
          retry: { retries: 0 },
          connectionTimeout: 2000,
        }).admin();
        try {
          await probe.connect();
          await probe.disconnect();
        } catch (err) {
          await probe.disconnect().catch(() => {});
          throw new LvuError(
            'TRANSPORT_UNAVAILABLE',
            `no Kafka broker answered at ${this.brokers.join(', ')}: ${(err as Error)?.message ?? err}`,
            {
              field: 'brokers',
              cause: err,
              hint: 'start a broker (tools/kafka/start.sh --port 9092) or fix the host:port in the kafka:// URL',
            },
          );
        }
      },
      { ...BROKER_BACKOFF, maxAttempts: Number.POSITIVE_INFINITY },
      {
        deadline: Date.now() + (o.timeoutMs ?? 30_000),
        onRetry: (err, attempt, delay) => o.onRetry?.(attempt, delay, err as LvuError),
      },
    );
  }

  async producer(): Promise<TransportProducer> {
    const p: Producer = this.#kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    try {
      await p.connect();
    } catch (err) {
      throw unavailable('cannot connect the producer', err);
    }
    const close = () => p.disconnect();
    this.#closers.add(close);
    return {
      async send(topic: string, messages: readonly OutgoingMessage[]) {
        try {
          await p.send({
            topic,
            acks: -1,
            messages: messages.map((m) => ({
              key: m.key,
              value: Buffer.from(m.value.buffer, m.value.byteOffset, m.value.byteLength),
              headers: m.headers,
              ...(m.partition !== undefined ? { partition: m.partition } : {}),
            })),
          });
        } catch (err) {
          throw unavailable(`cannot publish to ${topic}`, err);
        }
      },
      close: async () => {
        this.#closers.delete(close);
        await close();
      },
    };
  }

  async consumer(groupId: string): Promise<TransportConsumer> {
    const c: Consumer = this.#kafka.consumer({
      groupId,
      sessionTimeout: 10_000,
      heartbeatInterval: 1000,
      rebalanceTimeout: 10_000,
    });
    try {
      await c.connect();
    } catch (err) {
      throw unavailable(`cannot connect consumer group ${groupId}`, err);
    }
    let closed = false;
    const close = () => {
      closed = true;
      return c.disconnect();
    };
    this.#closers.add(close);
    return {
      async run(topics: readonly string[], h: ConsumerHandlers, o: { fromBeginning?: boolean } = {}) {
        for (const topic of topics) {
          try {
            await c.subscribe({ topic, fromBeginning: o.fromBeginning ?? true });
          } catch (err) {
            throw unavailable(`cannot subscribe to ${topic}`, err);
          }
        }
        if (h.onAssigned) {
          c.on(c.events.GROUP_JOIN, (e) => {
            const a = e.payload.memberAssignment as Record<string, number[]>;
            void h.onAssigned!(
              Object.entries(a).flatMap(([topic, ps]) => ps.map((partition) => ({ topic, partition }))),
            );
          });
        }
        const config = {
          autoCommit: false,
          eachBatchAutoResolve: true,
          eachBatch: async ({ batch }: EachBatchPayload) => {
            const msgs: IncomingMessage[] = batch.messages.map((m) => ({
              topic: batch.topic,
              partition: batch.partition,
              offset: m.offset,
              key: m.key ? m.key.toString('utf8') : null,
              value: m.value
                ? new Uint8Array(m.value.buffer, m.value.byteOffset, m.value.byteLength)
                : new Uint8Array(0),
              headers: Object.fromEntries(
                Object.entries(m.headers ?? {}).map(([k, v]) => [
                  k,
                  Array.isArray(v) ? String(v[0]) : String(v ?? ''),
                ]),
              ),
              timestampMs: Number(m.timestamp),
            }));
            await h.onBatch(msgs);
          },
        };
        // kafkajs gives up on errors it deems final, e.g. "the coordinator is not aware of this member" from a commit
        // after a broker restart, and the consumer would stop for good: reconnect and run again (uncommitted
        // messages are delivered again; consumers are idempotent)
        c.on(c.events.CRASH, (e) => {
          if (e.payload.restart || closed) return;
          h.onError?.(e.payload.error);
          // until it runs again or the consumer is closed (kafkajs' own errors are all worth another try here)
          void retry(
            async () => {
              if (closed) return;
              await c.connect();
              await c.run(config);
            },
            { ...CONSUMER_RESTART_BACKOFF, maxAttempts: Number.POSITIVE_INFINITY },
            { retryIf: () => !closed, onRetry: (err) => h.onError?.(err as Error) },
          ).catch(() => {});
        });
        await c.run(config);
      },
      async commit(topic: string, partition: number, offset: string) {
        await c.commitOffsets([{ topic, partition, offset }]);
      },
      close: async () => {
        this.#closers.delete(close);
        await close();
      },
    };
  }

  async #connectedAdmin(): Promise<Admin> {
    if (!this.#admin) {
      const admin = this.#kafka.admin();
      try {
        await admin.connect();
      } catch (err) {
        throw unavailable('cannot connect the admin client', err);
      }
      this.#admin = admin;
    }
    return this.#admin;
  }

  async endOffsets(topic: string): Promise<Map<number, bigint>> {
    const admin = await this.#connectedAdmin();
    // a topic another client has just created has no leaders for a moment ("not the leader"): retried
    return retry(
      async () => {
        try {
          const offsets = await admin.fetchTopicOffsets(topic);
          return new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
        } catch (err) {
          throw unavailable(`cannot read the end offsets of ${topic}`, err);
        }
      },
      { maxAttempts: 10, initialDelayMs: 100, maxDelayMs: 2000 },
    );
  }

  /**
   * Creates a topic unless it exists; true when this call created it. Retried (about 25 s): a broker that has just
   * started, or two workers creating the same topic at once, can answer "does not host this topic-partition" while
   * the leader is elected; the caller sees TRANSPORT_UNAVAILABLE only if it lasts.
   */
  async createTopic(
    topic: string,
    partitions: number,
    config: Record<string, string> = {},
  ): Promise<boolean> {
    const admin = await this.#connectedAdmin();
    return retry(
      async () => {
        try {
          return await admin.createTopics({
            waitForLeaders: true,
            topics: [
              {
                topic,
                numPartitions: partitions,
                replicationFactor: 1,
                configEntries: Object.entries(config).map(([name, value]) => ({ name, value })),
              },
            ],
          });
        } catch (err) {
          throw unavailable(`cannot create topic ${topic}`, err);
        }
      },
      { maxAttempts: 15, initialDelayMs: 200, maxDelayMs: 2000 },
    );
  }

  async close(): Promise<void> {
    for (const c of [...this.#closers]) await c().catch(() => {});
    this.#closers.clear();
    await this.#admin?.disconnect().catch(() => {});
    this.#admin = null;
  }
}
