import type { SampledFrame } from '@lvu/core';
import { decodeFrame, encodeFrame, type IncomingMessage, KafkajsTransport } from '@lvu/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaBroker } from './support/kafka-broker.js';

/** A real Apache Kafka 3.9 broker (KRaft), its jars from Maven Central (tools/kafka). */
const broker = new KafkaBroker();
const transports: KafkajsTransport[] = [];
const transport = () => {
  const t = new KafkajsTransport(broker.brokers, `lvu-test-${transports.length}`);
  transports.push(t);
  return t;
};

beforeAll(async () => {
  KafkaBroker.fetch();
  await broker.start();
}, 180_000);

afterAll(async () => {
  for (const t of transports) await t.close();
  await broker.kill();
});

const frame = (streamId: string, seq: number): SampledFrame => ({
  streamId,
  seq,
  ptsMs: seq * 1000,
  wallMs: Date.now(),
  width: 640,
  height: 360,
  images: { 16: new Uint8Array(16 * 16 * 3).fill(seq & 255) },
});

async function consumeAll(topic: string, group: string, expected: number, ms = 60_000) {
  const c = await transport().consumer(group);
  const got: IncomingMessage[] = [];
  await c.run([topic], {
    onBatch: async (msgs) => {
      got.push(...msgs);
      const last = msgs.at(-1);
      if (last) await c.commit(last.topic, last.partition, String(BigInt(last.offset) + 1n));
    },
  });
  const end = Date.now() + ms;
  while (got.length < expected && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
  await c.close();
  return got;
}

describe('Kafka transport on a real broker', () => {
  it('frames keyed by stream id: every frame arrives, each stream in one partition, in order', async () => {
    const t = transport();
    await t.createTopic('frames-a', 4);
    const p = await t.producer();
    const streams = ['cam-1', 'cam-2', 'cam-3'];
    for (let seq = 0; seq < 20; seq++) {
      await p.send(
        'frames-a',
        streams.map((s) => ({ key: s, value: encodeFrame(frame(s, seq)) })),
      );
    }
    const got = await consumeAll('frames-a', 'g-a', 60);
    expect(got).toHaveLength(60);
    for (const s of streams) {
      const mine = got.filter((m) => m.key === s);
      expect(new Set(mine.map((m) => m.partition)).size).toBe(1);
      expect(mine.map((m) => decodeFrame(m.value).seq)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      expect(decodeFrame(mine[3]!.value).images[16]![0]).toBe(3);
    }
  }, 120_000);

  it('a broker killed and restarted mid-stream: the producer retries, nothing lost, nothing duplicated', async () => {
    const t = transport();
    await t.createTopic('frames-b', 2);
    const p = await t.producer();
    for (let seq = 0; seq < 10; seq++)
      await p.send('frames-b', [{ key: 'cam', value: encodeFrame(frame('cam', seq)) }]);
    await broker.kill();
    const sending = (async () => {
      for (let seq = 10; seq < 20; seq++)
        await p.send('frames-b', [{ key: 'cam', value: encodeFrame(frame('cam', seq)) }]);
    })();
    await new Promise((r) => setTimeout(r, 1500));
    await broker.start();
    await sending;
    const got = await consumeAll('frames-b', 'g-b', 20);
    expect(got.map((m) => decodeFrame(m.value).seq)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  }, 180_000);
});
