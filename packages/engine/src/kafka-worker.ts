import { LvuError, type SampledFrame } from '@lvu/core';
import {
  AsyncQueue,
  decodeFrame,
  type IncomingMessage,
  type KafkaTransport,
  type TransportConsumer,
  type TransportProducer,
} from '@lvu/kafka';
import type { Engine } from './engine.js';
import { downscaleRgb } from './jpeg-images.js';

export interface KafkaWorkerOptions {
  topic: string;
  group: string;
  /** Where malformed messages go, with the reason in headers (default `<topic>.dead-letter`). */
  deadLetterTopic?: string;
  /** Messages larger than this are dead-lettered unread (default 32 MiB). */
  maxMessageBytes?: number;
}

export interface KafkaWorkerStats {
  messages: number;
  frames: number;
  duplicates: number;
  deadLetters: number;
  streams: number;
}

/**
 * `lvu worker`: consumes SampledFrames from a topic with a consumer group and runs the engine's write path for the
 * streams of the partitions it owns (one engine stream per stream id, created on its first frame). Malformed,
 * truncated or oversized messages go to the dead-letter topic with the reason and never stop the partition;
 * redelivered frames (seq at or below the last one taken) are skipped, so duplicates never reach a context.
 * Offsets are committed once a batch's frames are handed to their streams.
 */
export class KafkaWorker {
  readonly stats: KafkaWorkerStats = { messages: 0, frames: 0, duplicates: 0, deadLetters: 0, streams: 0 };
  readonly #engine: Engine;
  readonly #transport: KafkaTransport;
  readonly #o: Required<KafkaWorkerOptions>;
  readonly #queues = new Map<string, AsyncQueue<SampledFrame>>();
  readonly #lastSeq = new Map<string, number>();
  #consumer: TransportConsumer | null = null;
  #dlq: TransportProducer | null = null;

  constructor(engine: Engine, transport: KafkaTransport, o: KafkaWorkerOptions) {
    this.#engine = engine;
    this.#transport = transport;
    this.#o = {
      deadLetterTopic: `${o.topic}.dead-letter`,
      maxMessageBytes: 32 * 1024 ** 2,
      ...o,
    };
  }

  async start(): Promise<void> {
    this.#dlq = await this.#transport.producer();
    const c = await this.#transport.consumer(this.#o.group);
    this.#consumer = c;
    await c.run([this.#o.topic], {
      onBatch: async (msgs) => {
        for (const m of msgs) await this.#take(m);
        const last = msgs.at(-1);
        if (last) await c.commit(last.topic, last.partition, String(BigInt(last.offset) + 1n));
      },
    });
  }

  async #take(m: IncomingMessage): Promise<void> {
    this.stats.messages++;
    let f: SampledFrame;
    try {
      if (m.value.byteLength > this.#o.maxMessageBytes) {
        throw new LvuError('MALFORMED_MESSAGE', `message of ${m.value.byteLength} bytes is over the limit`, {
          field: 'value',
        });
      }
      f = decodeFrame(m.value);
      if (m.key !== null && m.key !== f.streamId) {
        throw new LvuError(
          'MALFORMED_MESSAGE',
          `key ${m.key} differs from the frame's stream ${f.streamId}`,
          {
            field: 'key',
          },
        );
      }
    } catch (err) {
      await this.#deadLetter(m, err);
      return;
    }
    const last = this.#lastSeq.get(f.streamId) ?? -1;
    if (f.seq <= last) {
      this.stats.duplicates++;
      return;
    }
    this.#lastSeq.set(f.streamId, f.seq);
    const q = this.#queue(f.streamId);
    await q.waitForSpace(); // a slow stream holds its partition, not the process
    q.push(this.#adapt(f));
    this.stats.frames++;
  }

  /** Frames published at other sizes: each size the encoders need is box-downscaled from a larger image. */
  #adapt(f: SampledFrame): SampledFrame {
    const have = Object.keys(f.images).map(Number);
    for (const need of this.#engine.vision.imageSizes) {
      if (f.images[need]) continue;
      const from = have.filter((s) => s >= need).sort((a, b) => a - b)[0];
      if (from !== undefined) f.images[need] = downscaleRgb(f.images[from]!, from, need);
    }
    return f;
  }

  #queue(streamId: string): AsyncQueue<SampledFrame> {
    let q = this.#queues.get(streamId);
    if (!q) {
      q = new AsyncQueue<SampledFrame>(64);
      this.#queues.set(streamId, q);
      this.#engine.addStream({ id: streamId, source: q });
      this.stats.streams++;
    }
    return q;
  }

  async #deadLetter(m: IncomingMessage, err: unknown): Promise<void> {
    const e = err instanceof LvuError ? err : new LvuError('MALFORMED_MESSAGE', String(err), { cause: err });
    this.stats.deadLetters++;
    this.#engine.events.emit('frame.dropped', {
      streamId: m.key ?? '(unknown)',
      seq: -1,
      reason: 'corrupt',
      dropped: this.stats.deadLetters,
    });
    await this.#dlq!.send(this.#o.deadLetterTopic, [
      {
        key: m.key ?? '',
        value: m.value,
        headers: {
          'lvu-error': e.code,
          'lvu-reason': e.message.slice(0, 500),
          'lvu-source': `${m.topic}/${m.partition}/${m.offset}`,
        },
      },
    ]);
  }

  async close(): Promise<void> {
    await this.#consumer?.close();
    for (const q of this.#queues.values()) q.close();
    await this.#dlq?.close();
  }
}
