/**
 * lvu's own view of a Kafka client: what the ingesters and workers need, nothing client-specific, so another client
 * (e.g. @platformatic/kafka once it runs on our Node) can replace kafkajs behind it.
 */
export interface OutgoingMessage {
  /** Partitioning key: the stream id. */
  key: string;
  value: Uint8Array;
  headers?: Record<string, string>;
  /** An explicit partition (default: chosen by hashing the key). */
  partition?: number;
}

export interface IncomingMessage {
  topic: string;
  partition: number;
  /** Kafka offsets are 64-bit: kept as decimal strings. */
  offset: string;
  key: string | null;
  value: Uint8Array;
  headers: Record<string, string>;
  timestampMs: number;
}

export interface TransportProducer {
  /** Resolves when the broker acknowledged every message (all in-sync replicas; idempotent producer). */
  send(topic: string, messages: readonly OutgoingMessage[]): Promise<void>;
  close(): Promise<void>;
}

export interface ConsumerHandlers {
  /** One batch of one partition, in offset order; resolve to let the consumer go on. */
  onBatch(messages: readonly IncomingMessage[]): Promise<void>;
  /** Partitions this member owns after a rebalance. */
  onAssigned?(partitions: { topic: string; partition: number }[]): void | Promise<void>;
  /** The client stopped on an error and is reconnecting by itself (counted, logged; nothing to do). */
  onError?(err: Error): void;
}

export interface TransportConsumer {
  /** Starts consuming `topics` with the group; offsets are committed only by `commit`. */
  run(topics: readonly string[], handlers: ConsumerHandlers, o?: { fromBeginning?: boolean }): Promise<void>;
  /** Commits `offset` as the next offset to read of a partition. */
  commit(topic: string, partition: number, offset: string): Promise<void>;
  close(): Promise<void>;
}

export interface KafkaTransport {
  readonly brokers: readonly string[];
  producer(): Promise<TransportProducer>;
  consumer(groupId: string): Promise<TransportConsumer>;
  /** Creates a topic unless it exists (true: this call created it). */
  createTopic(
    topic: string,
    partitions: number,
    config?: Record<string, string>,
  ): Promise<boolean | undefined>;
  /** Per partition, the offset the next message will get (the high watermark). */
  endOffsets(topic: string): Promise<Map<number, bigint>>;
  close(): Promise<void>;
}
