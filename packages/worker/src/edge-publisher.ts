import type { FeatureWindow } from '@lvu/arrow';
import type { SampledFrame } from '@lvu/core';
import type { OutgoingMessage, TransportProducer } from '@lvu/kafka';
import { EdgeSpool } from './edge-spool.js';
import { frameMessage, sessionEndMessage, windowMessage } from './wire-format.js';

/**
 * The edge side of `lvu worker`: publishes one stream's sampled frames, or its feature windows (an edge with the
 * models), to a topic, each acknowledged before the next, all under this session's epoch (its start time), so a
 * worker tells a restarted edge (seq from 0 again) from redeliveries; `end` tells it the session is over.
 */
export class EdgePublisher {
  readonly epoch: number;
  /** With a spool directory: what the broker cannot take now waits on disk (see EdgeSpool). */
  readonly spool: EdgeSpool | null;
  readonly #producer: TransportProducer;
  readonly #topic: string;
  #lastSeq = -1;

  constructor(
    producer: TransportProducer,
    topic: string,
    epoch = Date.now(),
    spool?: { dir: string; maxBytes?: number },
  ) {
    this.#producer = producer;
    this.#topic = topic;
    this.epoch = epoch;
    this.spool = spool ? new EdgeSpool((m) => producer.send(topic, [m]), spool) : null;
  }

  /** Sent and acknowledged before it resolves; with a spool, handed to it (sent in order, later if need be). */
  async #publish(m: OutgoingMessage): Promise<void> {
    if (this.spool) await this.spool.push(m);
    else await this.#producer.send(this.#topic, [m]);
  }

  async frame(f: SampledFrame): Promise<void> {
    await this.#publish(frameMessage(f, this.epoch));
    this.#lastSeq = f.seq;
  }

  async window(w: FeatureWindow, precision: 'float32' | 'float16' = 'float32'): Promise<void> {
    await this.#publish(windowMessage(w, this.epoch, precision));
    this.#lastSeq = w.lastSeq;
  }

  /**
   * This session is over: workers close the stream's open window, as a replay does at the end of a file. With a
   * spool, resolves once everything spooled has been sent.
   */
  async end(streamId: string): Promise<void> {
    await this.#publish(sessionEndMessage(streamId, this.#lastSeq, this.epoch));
    await this.spool?.drain();
  }
}
