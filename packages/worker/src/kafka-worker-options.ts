import type { FeatureWindow } from '@lvu/arrow';
import type { BoundedQueue, SampledFrame, SnapshotStore } from '@lvu/core';
import type { StandingQuestionInput } from '@lvu/engine';

export interface KafkaWorkerOptions {
  topic: string;
  group: string;
  /** Where malformed messages go, with the reason in headers (default `<topic>.dead-letter`). */
  deadLetterTopic?: string;
  /** Messages larger than this are dead-lettered unread (default 32 MiB). */
  maxMessageBytes?: number;
  /**
   * Crash-safe mode: each stream's context is checkpointed (Arrow IPC) in this store — a directory (path), or a
   * compacted Kafka topic (`KafkaSnapshotStore`) so workers on other machines can restore it — and a partition's
   * offset is committed only past frames a durable checkpoint covers; a restarted worker restores the checkpoints
   * and replays the rest, ending with the context an uninterrupted worker builds. Without it, offsets are committed
   * as frames are handed over.
   */
  snapshots?: SnapshotStore | string;
  /** Standing questions asked about every stream this worker owns, while it owns it (`stream` is filled in). */
  standing?: Omit<StandingQuestionInput, 'stream'>[];
  /** Topic the standing answers are published to (JSON, keyed by stream id); none by default. */
  answersTopic?: string;
  /** How often checkpoints are taken and offsets committed (default 1000 ms). */
  checkpointIntervalMs?: number;
  /** Partitions of the input topic when the worker has to create it (it does not exist yet): default 6. */
  partitions?: number;
}

export interface KafkaWorkerStats {
  messages: number;
  frames: number;
  /** Feature windows from edges that run the models (`lvu ingest --features`). */
  windows: number;
  duplicates: number;
  /** Messages from an edge session older than the stream's current one (dead-lettered). */
  staleFrames: number;
  /** Edges that restarted (a new epoch for a stream). */
  edgeRestarts: number;
  deadLetters: number;
  streams: number;
  /** Offset commits the group refused (during rebalances, after a broker restart); retried at the next checkpoint. */
  commitErrors: number;
  /** Times the Kafka consumer stopped on an error its client deems final and was reconnected. */
  consumerRestarts: number;
  /** Standing answers published to the answers topic, and those that could not be (broker down past retries). */
  answers: number;
  answerErrors: number;
}

/** A stream of a partition this worker owns, and its bookkeeping. */
export interface OwnedStream {
  /** Its messages on their way to the engine's write path (holds the partition when the stream is slow). */
  queue: BoundedQueue<SampledFrame | FeatureWindow>;
  /** Sampled frames, or feature windows from an edge with the models. */
  kind: 'frame' | 'window';
  /** The partition (`topic/partition`) its messages arrive on. */
  part: string;
  /** With a snapshot store: the messages taken and not yet covered by a saved checkpoint, in order. */
  pending: { seq: number; part: string; offset: bigint }[];
  /** The seq the last saved checkpoint covers (−1: none). */
  savedSeq: number;
}

export function emptyWorkerStats(): KafkaWorkerStats {
  return {
    messages: 0,
    frames: 0,
    windows: 0,
    duplicates: 0,
    staleFrames: 0,
    edgeRestarts: 0,
    deadLetters: 0,
    streams: 0,
    commitErrors: 0,
    consumerRestarts: 0,
    answers: 0,
    answerErrors: 0,
  };
}
