/**
 * The documented event contract. Every component reports through an EventBus; metrics are derived from events.
 * Event names are `<area>.<what>`; payloads always carry `streamId` when they concern one stream.
 */
export interface LvuEventMap {
  'source.connected': {
    streamId: string;
    url: string;
    width?: number;
    height?: number;
    fps?: number;
    transport?: 'tcp' | 'udp';
  };
  /** An RTSP server refused the transport (461) and `auto` switched to the other one. */
  'source.transport': { streamId: string; from: 'tcp' | 'udp'; to: 'tcp' | 'udp'; reason: string };
  'source.disconnected': { streamId: string; reason: string; code?: string };
  'source.reconnected': { streamId: string; gapMs: number; attempt: number };
  'source.stalled': { streamId: string; silentMs: number };
  'source.error': { streamId: string; code: string; message: string; retriable: boolean };
  'source.ended': { streamId: string; frames: number; truncated?: boolean };
  /** A file that ends before its stated duration: what came before the cut was used. */
  'source.truncated': {
    streamId: string;
    positionMs: number;
    durationMs: number;
    code: string;
    message: string;
    hint: string;
  };
  'frame.dropped': {
    streamId: string;
    seq: number;
    /** queue-full/late: a slow consumer; corrupt: undecodable; duplicate, stale-epoch, dead-letter: Kafka messages skipped. */
    reason: 'queue-full' | 'corrupt' | 'late' | 'duplicate' | 'stale-epoch' | 'dead-letter';
    dropped: number;
  };
  'frame.kept': { streamId: string; seq: number; score: number };
  'window.closed': { streamId: string; window: number; frames: number; kept: number };
  'context.evicted': { streamId: string; seqs: number[]; policy: string };
  'model.inferred': { model: string; batch: number; ms: number };
  /** A request to an inference server was sent again (unreachable, restarting, overloaded); the frames waited. */
  'model.retried': { model: string; attempt: number; message: string };
  'query.answered': { streamId: string; totalTokens: number; ms: number };
  'stream.added': { streamId: string; source: string };
  'stream.removed': { streamId: string };
  'stream.failed': { streamId: string; code: string; message: string };
  /** A stream's saved state (stateDir) could not be read or written; an unreadable file is set aside as `file`. */
  'state.unreadable': { streamId: string; file: string; message: string };
  /**
   * A stream's context could not be saved to stateDir (disk full, read-only, removed): the last good file is kept,
   * the save is retried at the next checkpoint; `failures` counts the failures in a row.
   */
  'checkpoint.failed': { streamId: string; code: string; message: string; failures: number };
  /** Saving works again after `failures` failed checkpoints. */
  'checkpoint.recovered': { streamId: string; failures: number };
  /** A stream's spill could not be written: spill is off for that stream (its context and questions go on). */
  'spill.failed': { streamId: string; code: string; message: string };
  /** An edge publishing the stream restarted (a new epoch): its frames continue the stream's seq and media time. */
  'stream.edge-restarted': { streamId: string; epoch: number; previousEpoch: number; seq: number };
}

export type LvuEventName = keyof LvuEventMap;
export type LvuEvent = { [K in LvuEventName]: { type: K; atMs: number } & LvuEventMap[K] }[LvuEventName];

type Listener = (event: LvuEvent) => void;

/** A minimal synchronous event bus. A throwing listener is isolated: it never breaks the emitter or other listeners. */
export class EventBus {
  readonly #listeners = new Set<Listener>();
  readonly #onListenerError: (err: unknown) => void;

  constructor(onListenerError: (err: unknown) => void = () => {}) {
    this.#onListenerError = onListenerError;
  }

  emit<K extends LvuEventName>(type: K, payload: LvuEventMap[K]): void {
    const event = { type, atMs: Date.now(), ...payload } as unknown as LvuEvent;
    for (const l of this.#listeners) {
      try {
        l(event);
      } catch (err) {
        this.#onListenerError(err);
      }
    }
  }

  /** Subscribes to every event; returns the unsubscribe function. */
  on(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
