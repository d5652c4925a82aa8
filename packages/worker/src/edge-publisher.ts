import type { FeatureWindow } from '@lvu/arrow';
import type { SampledFrame } from '@lvu/core';
import type { TransportProducer } from '@lvu/kafka';
import { frameMessage, sessionEndMessage, windowMessage } from './wire-format.js';

/**
 * The edge side of `lvu worker`: publishes one stream's sampled frames, or its feature windows (an edge with the
 * models), to a topic, each acknowledged before the next, all under this session's epoch (its start time), so a
 * worker tells a restarted edge (seq from 0 again) from redeliveries; `end` tells it the session is over.
 */
export class EdgePublisher {
  readonly epoch: number;
  readonly #producer: TransportProducer;
  readonly #topic: string;
  #lastSeq = -1;

  constructor(producer: TransportProducer, topic: string, epoch = Date.now()) {
    this.#producer = producer;
    this.#topic = topic;
    this.epoch = epoch;
  }

  async frame(f: SampledFrame): Promise<void> {
    await this.#producer.send(this.#topic, [frameMessage(f, this.epoch)]);
    this.#lastSeq = f.seq;
  }

  async window(w: FeatureWindow, precision: 'float32' | 'float16' = 'float32'): Promise<void> {
    await this.#producer.send(this.#topic, [windowMessage(w, this.epoch, precision)]);
    this.#lastSeq = w.lastSeq;
  }

  /** This session is over: workers close the stream's open window, as a replay does at the end of a file. */
  async end(streamId: string): Promise<void> {
    await this.#producer.send(this.#topic, [sessionEndMessage(streamId, this.#lastSeq, this.epoch)]);
  }
}
