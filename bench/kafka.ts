/**
 * `npm run bench -- kafka --json`: lvu over a real Apache Kafka 3.9.1 broker (KRaft, started here from the Maven
 * Central jars of tools/kafka) on this machine.
 * 1. producer → broker → consumer throughput (frames/s, MB/s) for SampledFrame payloads (384² RGB, msgpackr) and
 *    FeatureBatch payloads (144×1024 + 64×1024 in float32 and float16: msgpackr vs Arrow IPC), median of runs;
 * 2. what Kafka costs: the same file (vtest.avi at 5 fps) through one process (a fresh `lvu replay`) vs through a
 *    fresh `lvu ingest --to` + a running worker, raw frames or feature windows from an edge with the models; wall
 *    ratio, and the steady-state rate ratio against the in-process engine;
 * 3. end-to-end latency p50/p99 at 1 fps × 8 and 32 streams, from publishing a window's last frame to the window
 *    being in the worker's context.
 * LVU_BENCH_CASES=throughput,cost,latency picks sections.
 */
import { execFile } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  buildFeatureBatch,
  type FeatureRow,
  featureRows,
  featureSchema,
  fromHalf,
  fromIpc,
  toHalf,
  toIpc,
} from '@lvu/arrow';
import { createEngine } from '@lvu/cli';
import type { SampledFrame } from '@lvu/core';
import { decodeFrame, encodeFrame, KafkajsTransport } from '@lvu/kafka';
import { KafkaWorker } from '@lvu/worker';
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
    const cases = new Set((process.env.LVU_BENCH_CASES ?? 'throughput,cost,latency').split(','));
    const runs = Math.max(1, Math.min(opts.runs, 3));
    if (cases.has('throughput')) {
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
      const packr = new Packr({ moreTypes: true, useRecords: false });
      const features = Array.from({ length: n }, (_, i) => feature(i));
      const schema32 = featureSchema({ hiValues: 144 * dim, loValues: 64 * dim });
      const schema16 = featureSchema({ hiValues: 144 * dim, loValues: 64 * dim, precision: 'float16' });
      const half = (f: FeatureRow) => ({ ...f, hi: toHalf(f.hi), lo: toHalf(f.lo) });
      for (const [codec, encode, decode] of [
        ['float32, msgpackr', (f: FeatureRow) => packr.pack(f), (v: Uint8Array) => packr.unpack(v)],
        [
          'float32, Arrow IPC',
          (f: FeatureRow) => toIpc([buildFeatureBatch([f], schema32)], schema32),
          (v: Uint8Array) => featureRows(fromIpc(v).batches[0]!),
        ],
        [
          'float16, msgpackr',
          (f: FeatureRow) => packr.pack(half(f)),
          (v: Uint8Array) => {
            const r = packr.unpack(v) as FeatureRow & { hi: Uint16Array; lo: Uint16Array };
            return { ...r, hi: fromHalf(r.hi), lo: fromHalf(r.lo) };
          },
        ],
        [
          'float16, Arrow IPC',
          (f: FeatureRow) => toIpc([buildFeatureBatch([f], schema16)], schema16),
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
        process.stderr.write(`kafka bench: FeatureBatch ${codec}\n`);
        for (let r = 0; r < runs; r++)
          ms.push(await roundTrip(t, `fb-${codec.replace(/[^a-z0-9]/gi, '')}-${r}`, payloads, decode));
        const bytes = payloads.reduce((a, b) => a + b.byteLength, 0);
        rows.push({
          bench: 'kafka',
          case: `FeatureBatch 144×1024 + 64×1024 (${codec}), ${n} messages, producer → broker → consumer`,
          messageBytes: payloads[0]!.byteLength,
          framesPerS: Math.round(n / (median(ms) / 1000)),
          mbPerS: Number((bytes / 2 ** 20 / (median(ms) / 1000)).toFixed(1)),
          encodeUsPerFrame: Math.round((encodeMs * 1000) / n),
          decodeUsPerFrame: Math.round((decodeMs * 1000) / n),
          runs,
        });
      }
    }
    if (cases.has('cost')) {
      // 2. what Kafka costs, on a longer input: vtest.avi sampled at 5 fps (~400 frames), tiny models. The worker is a
      //    running service; the ingest CLI's start (node-av load) counts. Steady state: frames/s after the first 10 %.
      const fps = opts.quick ? 1 : 5;
      const progress = (count: () => number, total: () => number) => {
        const t0 = performance.now();
        let t10 = 0;
        return new Promise<{ ms: number; steadyPerS: number }>((done, fail) => {
          const tick = setInterval(() => {
            if (performance.now() - t0 > (opts.quick ? 60_000 : 600_000)) {
              clearInterval(tick);
              fail(new Error(`stuck at ${count()} of ${total()} frames`));
            }
            const c = count();
            const n = total();
            if (!t10 && n > 0 && c >= n * 0.1) t10 = performance.now();
            if (n > 0 && c >= n) {
              clearInterval(tick);
              const end = performance.now();
              done({ ms: end - t0, steadyPerS: (n * 0.9) / ((end - t10) / 1000) });
            }
          }, 10);
        });
      };
      process.stderr.write('kafka bench: one process vs through Kafka\n');
      // a first replay learns the frame count (and warms the page cache and the model sessions' code paths)
      const oneProcess = async (total: number) => {
        const direct = await createEngine({ models: TINY, backend: 'none' });
        const run = Number.isFinite(total)
          ? progress(
              () => direct.listStreams()[0]?.counters.sampled ?? 0,
              () => total,
            )
          : null;
        direct.addStream({ id: 'vtest', source: VTEST, sourceOptions: { fps } });
        await direct.whenDone('vtest');
        const n = direct.status('vtest').counters.sampled;
        const r = run ? await run : null;
        await direct.close();
        return { n, r };
      };
      const frames = (await oneProcess(Number.POSITIVE_INFINITY)).n;
      const one = (await oneProcess(frames)).r!;
      // the same replay as a fresh `lvu replay` process, like the ingest CLI on the Kafka side (the worker runs already)
      const cliMs: number[] = [];
      for (let r = 0; r < runs; r++) {
        const t0 = performance.now();
        await new Promise((res, rej) =>
          execFile(
            'node',
            [
              join(root, 'packages/cli/bin/lvu.js'),
              'replay',
              VTEST,
              '--models',
              TINY,
              '--fps',
              String(fps),
              '--backend',
              'none',
              '--json',
            ],
            (err) => (err ? rej(err) : res(null)),
          ),
        );
        cliMs.push(performance.now() - t0);
      }
      const oneCliMs = median(cliMs);

      for (const mode of ['frames', 'features'] as const) {
        process.stderr.write(`kafka bench: ${frames} frames through Kafka as ${mode}\n`);
        const topic = `vtest-${mode}`;
        await t.createTopic(topic, 4);
        const engine = await createEngine({ models: TINY, backend: 'none' });
        const worker = new KafkaWorker(engine, new KafkajsTransport(broker.brokers, 'lvu-bench-worker'), {
          topic,
          group: `bench-${mode}`,
        });
        await worker.start();
        // frames: the worker runs every model (its last, open window waits for more frames); features: the edge does
        const target = mode === 'frames' ? frames : frames;
        const running = progress(
          () => engine.listStreams()[0]?.counters.sampled ?? 0,
          () => target,
        );
        const cli = [
          join(root, 'packages/cli/bin/lvu.js'),
          'ingest',
          VTEST,
          '--fps',
          String(fps),
          '--stream-id',
          'vtest',
          '--to',
          `kafka://${broker.brokers[0]}/${topic}`,
          ...(mode === 'frames' ? ['--size', '112,128'] : ['--features', '--models', TINY]),
        ];
        const ingest = execFile('node', cli);
        const exited = new Promise((res) => ingest.once('exit', res)); // it may end before the worker is done
        const r = await running;
        await exited;
        await worker.close();
        await engine.close();
        rows.push({
          bench: 'kafka',
          case: `vtest.avi (${frames} frames at ${fps} fps), tiny models: one process vs lvu ingest --to kafka${mode === 'features' ? ' --features (edge runs the models)' : ' (raw frames)'} + lvu worker`,
          oneProcessCliMs: Math.round(oneCliMs),
          throughKafkaMs: Math.round(r.ms),
          throughputRatio: Number((oneCliMs / r.ms).toFixed(3)),
          inProcessEngineMs: Math.round(one.ms),
          steadyOneProcessPerS: Number(one.steadyPerS.toFixed(1)),
          steadyThroughKafkaPerS: Number(r.steadyPerS.toFixed(1)),
          steadyRatio: Number((r.steadyPerS / one.steadyPerS).toFixed(3)),
          target: 'throughputRatio ≥ 0.8',
        });
      }
    }
    // 3. end-to-end latency at 1 fps × N streams: a window's last frame published → the window in the worker's
    //    context (DINO on every frame, temporal reduction, SigLIP + SVA + projector on kept frames), tiny models
    for (const streams of cases.has('latency') ? (opts.quick ? [4] : [8, 32]) : []) {
      process.stderr.write(`kafka bench: latency, ${streams} streams\n`);
      const seconds = opts.quick ? 34 : 66;
      const topic = `latency-${streams}`;
      await t.createTopic(topic, 8);
      const engine = await createEngine({ models: TINY, backend: 'none' });
      const sizes = [...engine.vision.imageSizes];
      const published = new Map<string, number>();
      const latency: number[] = [];
      engine.events.on((e) => {
        if (e.type !== 'stream.added') return;
        const id = (e as { streamId: string }).streamId;
        engine.windows$(id).subscribe((w) => {
          const at = published.get(`${id}/${w.lastSeq}`);
          if (at !== undefined) latency.push(Date.now() - at);
        });
      });
      const worker = new KafkaWorker(engine, new KafkajsTransport(broker.brokers, 'lvu-bench-latency'), {
        topic,
        group: `latency-${streams}`,
      });
      await worker.start();
      const p = await t.producer();
      const img = (side: number, v: number) =>
        new Uint8Array(side * side * 3).map((_, i) => (v + (i % 61)) & 255);
      const t0 = Date.now();
      for (let sec = 0; sec < seconds; sec++) {
        const wait = t0 + sec * 1000 - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const batch = Array.from({ length: streams }, (_, k) => {
          const id = `cam-${k}`;
          const v = (Math.floor(sec / 5) * 53 + k * 17) & 255;
          published.set(`${id}/${sec}`, Date.now());
          return {
            key: id,
            value: encodeFrame({
              streamId: id,
              seq: sec,
              ptsMs: sec * 1000,
              wallMs: Date.now(),
              width: 1280,
              height: 720,
              images: Object.fromEntries(sizes.map((s) => [s, img(s, v)])),
            }),
          };
        });
        await p.send(topic, batch);
      }
      const windowsExpected = streams * Math.floor(seconds / engine.longvu.dinoWindowFrames);
      for (let i = 0; i < 200 && latency.length < windowsExpected; i++)
        await new Promise((r) => setTimeout(r, 50));
      await p.close();
      await worker.close();
      await engine.close();
      const sorted = [...latency].sort((a, b) => a - b);
      const q = (f: number) => sorted[Math.min(sorted.length - 1, Math.floor(f * sorted.length))] ?? null;
      rows.push({
        bench: 'kafka',
        case: `end-to-end latency, ${streams} streams × 1 fps for ${seconds} s (${sizes.join(',')} px RGB frames), tiny models: last frame of a window published → window in the context`,
        windows: latency.length,
        windowsExpected,
        p50Ms: q(0.5),
        p99Ms: q(0.99),
        maxMs: sorted.at(-1) ?? null,
      });
    }
  } finally {
    await t.close();
    await broker.kill();
  }
  return rows;
}
