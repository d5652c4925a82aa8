/** Float tensors move as typed arrays end to end; float16 travels as raw bits in a Uint16Array. */
export type FloatArray = Float32Array | Float64Array;

/** One frame sampled from a source, with RGB pixels at each size the encoders asked for. */
export interface SampledFrame {
  streamId: string;
  /** Monotonic per stream, never reused, also across reconnects. */
  seq: number;
  /** Media time (presentation timestamp) in milliseconds. */
  ptsMs: number;
  /** Wall-clock arrival time in milliseconds since the epoch. */
  wallMs: number;
  /** Source frame size before preprocessing. */
  width: number;
  height: number;
  /** RGB24 images keyed by their square side (e.g. 378 for DINOv2, 384 for SigLIP). */
  images: Record<number, Uint8Array>;
  /**
   * A marker, not a frame (no images): the edge session publishing the stream ended (its file ended, or it was
   * stopped), so the open temporal-reduction window closes as it would at the end of a replay.
   */
  sessionEnd?: true;
  /**
   * Where the frame lies in a recording, in the file's own media time (before any rebasing): a stream of a file
   * that is restarted resumes after the last frame its saved context covers instead of from the start.
   */
  positionMs?: number;
}

/**
 * Where a worker keeps each stream's latest context checkpoint (an Arrow IPC snapshot): a local or shared
 * directory, or a compacted Kafka topic. `save` resolves once the snapshot is durable; `load` returns the latest
 * one saved by any worker, or null.
 */
export interface SnapshotStore {
  /** Where it is, for messages (a directory or `kafka://…/topic`). */
  readonly location: string;
  /** Optional warm-up before the first load (e.g. reading a snapshots topic to its end). */
  open?(): Promise<void>;
  save(streamId: string, snapshot: Uint8Array): Promise<void>;
  load(streamId: string): Promise<Uint8Array | null>;
  close(): Promise<void>;
}

/**
 * Metrics an application adds to a server's /metrics (Prometheus text format): one family, its samples each with
 * their labels. The Kafka worker's per-stream message counters are some.
 */
export interface MetricFamily {
  name: string;
  type: 'counter' | 'gauge';
  help: string;
  samples: [Record<string, string>, number][];
}
