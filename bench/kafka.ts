/**
 * `npm run bench -- kafka --json`: lvu over a real Apache Kafka 3.9.1 broker (KRaft, started here from the Maven
 * Central jars of tools/kafka) on this machine.
 * 1. producer → broker → consumer throughput (frames/s, MB/s) for SampledFrame payloads (384² RGB, msgpackr) and
 *    FeatureBatch payloads (144×1024 float32: msgpackr vs Arrow IPC), median of runs;
 * 2. what Kafka costs: the same file through one process (`Engine` replay) vs through `lvu ingest --to` + a worker
 *    (wall time until the worker has taken every frame), tiny models; the throughput ratio.
 */
import { execFileSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildFeatureBatch, type FeatureRow, featureRows, featureSchema, fromIpc, toIpc } from '@lvu/arrow';
import type { SampledFrame } from '@lvu/core';
import { Engine, KafkaWorker } from '@lvu/engine';
import { decodeFrame, encodeFrame, KafkajsTransport } from '@lvu/kafka';
import { Packr } from 'msgpackr';
import { KafkaBroker } from '../tests/support/kafka-broker.js';
import type { BenchOptions, BenchRow } from './run.js';
import { median } from './stats.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TINY = join(root, 'tests/fixtures/models/tiny');
const VTEST = '/usr/share/doc/opencv-doc/examples/data/vtest.avi';

/** Sends `n` payloads in batches of 8 and consumes them with a fresh group: end-to-end wall time. */
async function roundTrip(
  t: KafkajsTransport,
  topic: string,
  payloads: Uint8Array[],
  check: (v: Uint8Array) => void,
) {
  await t.createTopic(topic, 4);
  const c = await t.consumer(`bench-${topic}`);
  let got = 0;
  let done: () => void = () => {};
  const all = new Promise<void>((r) => (done = r));
  await c.run([topic], {
    onBatch: async (msgs) => {
      for (const m of msgs) check(m.value);
      got += msgs.length;
      if (got >= payloads.length) done();
    },
  });
  const p = await t.producer();
  await new Promise((r) => setTimeout(r, 1000)); // the group has joined
  const t0 = performance.now();
  for (let i = 0; i < payloads.length; i += 8) {
    await p.send(
      topic,
      payloads.slice(i, i + 8).map((value, k) => ({ key: `s${(i + k) % 4}`, value })),
    );
  }
  await all;
  const ms = performance.now() - t0;
  await c.close();
  await p.close();
  return ms;
}

export async function run(opts: BenchOptions): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  // the same launcher the tests use (tools/kafka/start.sh on free ports)
  KafkaBroker.fetch();
  const broker = new KafkaBroker();
  await broker.start();
  const t = new KafkajsTransport(broker.brokers, 'lvu-bench');
  try {
    const n = opts.quick ? 40 : 200;
    const runs = Math.max(1, Math.min(opts.runs, 3));
    // 1a. SampledFrame, 384² RGB, msgpackr
    const frame = (seq: number): SampledFrame => ({
      streamId: `s${seq % 4}`,
      seq,
      ptsMs: seq * 1000,
      wallMs: Date.now(),
      width: 1280,
      height: 720,
      images: { 384: new Uint8Array(384 * 384 * 3).fill(seq & 255) },
    });
    const framesPayload = Array.from({ length: n }, (_, i) => encodeFrame(frame(i)));
    const fMs: number[] = [];
    for (let r = 0; r < runs; r++)
      fMs.push(await roundTrip(t, `sf-${r}`, framesPayload, (v) => decodeFrame(v)));
    const fBytes = framesPayload.reduce((a, b) => a + b.byteLength, 0);
    rows.push({
      bench: 'kafka',
      case: `SampledFrame 384² RGB (msgpackr), ${n} messages, producer → broker → consumer`,
      messageBytes: framesPayload[0]!.byteLength,
      framesPerS: Math.round(n / (median(fMs) / 1000)),
      mbPerS: Number((fBytes / 2 ** 20 / (median(fMs) / 1000)).toFixed(1)),
      runs,
    });
    // 1b. FeatureBatch, 144×1024 float32, one frame per message: msgpackr vs Arrow IPC
    const dim = 1024;
    const feature = (seq: number): FeatureRow => ({
      streamId: `s${seq % 4}`,
      seq,
      ptsMs: seq * 1000,
      wallMs: 0,
      frameH: 720,
      frameW: 1280,
      hi: Float32Array.from({ length: 144 * dim }, (_, i) => Math.sin(i + seq)),
      lo: Float32Array.from({ length: 64 * dim }, (_, i) => Math.cos(i + seq)),
      thumb: new Uint8Array(0),
    });
    const schema = featureSchema({ hiValues: 144 * dim, loValues: 64 * dim });
    const packr = new Packr({ moreTypes: true, useRecords: false });
    const features = Array.from({ length: n }, (_, i) => feature(i));
    for (const [codec, encode, decode] of [
      ['msgpackr', (f: FeatureRow) => packr.pack(f), (v: Uint8Array) => packr.unpack(v)],
      [
        'Arrow IPC',
        (f: FeatureRow) => toIpc([buildFeatureBatch([f], schema)], schema),
        (v: Uint8Array) => featureRows(fromIpc(v).batches[0]!),
      ],
    ] as const) {
      const te = performance.now();
      const payloads = features.map((f) => encode(f));
      const encodeMs = performance.now() - te;
      const td = performance.now();
      for (const p of payloads) decode(p);
      const decodeMs = performance.now() - td;
      const ms: number[] = [];
      for (let r = 0; r < runs; r++)
        ms.push(await roundTrip(t, `fb-${codec.replace(' ', '')}-${r}`, payloads, decode));
      const bytes = payloads.reduce((a, b) => a + b.byteLength, 0);
      rows.push({
        bench: 'kafka',
        case: `FeatureBatch 144×1024 + 64×1024 float32 (${codec}), ${n} messages, producer → broker → consumer`,
        messageBytes: payloads[0]!.byteLength,
        framesPerS: Math.round(n / (median(ms) / 1000)),
        mbPerS: Number((bytes / 2 ** 20 / (median(ms) / 1000)).toFixed(1)),
        encodeUsPerFrame: Math.round((encodeMs * 1000) / n),
        decodeUsPerFrame: Math.round((decodeMs * 1000) / n),
        runs,
      });
    }
    // 2. what Kafka costs: one process vs ingester + worker through the broker, same file, tiny models
    let t0 = performance.now();
    const direct = await Engine.create({ models: TINY, backend: 'none' });
    direct.addStream({ id: 'vtest', source: VTEST });
    await direct.whenDone('vtest');
    const directMs = performance.now() - t0;
    const frames = direct.status('vtest').counters.sampled;
    await direct.close();
    await t.createTopic('vtest', 4);
    const engine = await Engine.create({ models: TINY, backend: 'none' });
    const worker = new KafkaWorker(engine, new KafkajsTransport(broker.brokers, 'lvu-bench-worker'), {
      topic: 'vtest',
      group: 'bench-workers',
    });
    await worker.start();
    t0 = performance.now();
    execFileSync(
      'node',
      [
        join(root, 'packages/cli/bin/lvu.js'),
        'ingest',
        VTEST,
        '--size',
        '112,128',
        '--stream-id',
        'vtest',
        '--to',
        `kafka://${broker.brokers[0]}/vtest`,
      ],
      { stdio: 'ignore' },
    );
    while (engine.listStreams()[0]?.counters.sampled !== frames) await new Promise((r) => setTimeout(r, 20));
    const kafkaMs = performance.now() - t0;
    await worker.close();
    await engine.close();
    rows.push({
      bench: 'kafka',
      case: `vtest.avi (${frames} frames at 1 fps), tiny models: one process vs lvu ingest --to kafka + lvu worker`,
      oneProcessMs: Math.round(directMs),
      throughKafkaMs: Math.round(kafkaMs),
      throughputRatio: Number((directMs / kafkaMs).toFixed(3)),
      target: '≥ 0.8',
      note: 'through Kafka includes starting the ingest CLI process (node-av load) and the broker round trips',
    });
  } finally {
    await t.close();
    await broker.kill();
  }
  return rows;
}
