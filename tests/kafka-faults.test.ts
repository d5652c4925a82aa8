// biome-ignore-all lint/suspicious/noExplicitAny: JSON bodies of the API under test
/**
 * Kafka faults from the real world, on a real broker with Kafka's own console tools as peers: an edge restarted
 * with the same stream id, stray and stale messages, a worker started before its topic exists, a broker that is not
 * there, and a file through Kafka giving the context a one-process replay gives.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createEngine } from '@lvu/cli';
import type { SampledFrame } from '@lvu/core';
import { decodeFrame, encodeFrame, KafkajsTransport } from '@lvu/kafka';
import { createHttpServer } from '@lvu/server';
import { EPOCH_HEADER, KafkaWorker } from '@lvu/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaBroker } from './support/kafka-broker.js';
import { makeSceneVideo } from './support/media.js';
import { repoRoot } from './support/paths.js';
import { freePort } from './support/rtsp-server.js';

const LVU = resolve(repoRoot, 'packages/cli/bin/lvu.js');
const broker = new KafkaBroker();
const transports: KafkajsTransport[] = [];
const transport = () => {
  const t = new KafkajsTransport(broker.brokers, `lvu-faults-${transports.length}`);
  transports.push(t);
  return t;
};
const url = (topic: string) => `kafka://${broker.brokers[0]}/${topic}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(pred: () => boolean | Promise<boolean>, ms: number, what: string) {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

beforeAll(async () => {
  KafkaBroker.fetch();
  await broker.start();
}, 180_000);
afterAll(async () => {
  for (const t of transports) await t.close();
  await broker.kill();
});

/** One of Kafka's own console tools (the broker's jars), with `input` on its stdin. */
function consoleTool(className: string, args: string[], input?: string): string {
  const libs = execFileSync(resolve(repoRoot, 'tools/kafka/fetch.sh'), { encoding: 'utf8' }).trim();
  return execFileSync(
    'java',
    ['-cp', `${libs}/*`, className, '--bootstrap-server', broker.brokers[0]!, ...args],
    {
      encoding: 'utf8',
      ...(input === undefined ? { stdio: ['ignore', 'pipe', 'ignore'] } : { input }),
    },
  );
}

/** Kafka's console producer: one message per line, `key|value`. */
const consoleProduce = (topic: string, lines: string[]) =>
  consoleTool(
    'kafka.tools.ConsoleProducer',
    ['--topic', topic, '--property', 'parse.key=true', '--property', 'key.separator=|'],
    `${lines.join('\n')}\n`,
  );

/** Kafka's console consumer: the topic's messages with their keys and headers, from the start. */
const consoleConsume = (topic: string, max: number): string[] =>
  consoleTool('org.apache.kafka.tools.consumer.ConsoleConsumer', [
    '--topic',
    topic,
    '--from-beginning',
    '--max-messages',
    String(max),
    '--timeout-ms',
    '20000',
    '--property',
    'print.headers=true',
    '--property',
    'print.key=true',
  ])
    .trim()
    .split('\n')
    .filter(Boolean);

const frame = (streamId: string, seq: number, ptsMs = seq * 1000): SampledFrame => ({
  streamId,
  seq,
  ptsMs,
  wallMs: Date.now(),
  width: 320,
  height: 180,
  images: { 96: new Uint8Array(96 * 96 * 3).fill((seq * 37) & 255) },
});

async function workerWithApi(topic: string, group: string) {
  const engine = await createEngine({ longvu: { dinoWindowFrames: 4 } });
  const worker = new KafkaWorker(engine, transport(), { topic, group });
  await worker.start();
  const app = await createHttpServer(engine, worker.httpOptions());
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return {
    engine,
    worker,
    base,
    close: async () => {
      await worker.close();
      await app.close();
      await engine.close();
    },
  };
}

describe('edges restarted and stray messages', () => {
  it('an edge restarted with the same --stream-id: the second run’s frames continue the stream, counted, in /metrics', async () => {
    const video = makeSceneVideo(30);
    await transport().createTopic('edge-restart', 4);
    const ingest = () =>
      execFileSync(
        process.execPath,
        [LVU, 'ingest', video, '--to', url('edge-restart'), '--stream-id', 'cam', '--max-frames', '12'],
        {
          stdio: ['ignore', 'ignore', 'inherit'],
        },
      );
    ingest();
    await sleep(5); // a new epoch (the edge's start time in ms)
    ingest();
    const w = await workerWithApi('edge-restart', 'g-restart');
    try {
      await until(() => w.worker.stats.frames >= 24, 60_000, '24 frames');
      await until(
        async () => ((await (await fetch(`${w.base}/v1/streams/cam`)).json()) as any).counters.sampled === 24,
        30_000,
        'sampled 24',
      );
      const s: any = await (await fetch(`${w.base}/v1/streams/cam`)).json();
      expect(s.counters).toMatchObject({ sampled: 24 });
      expect(s.kafka).toMatchObject({ edgeRestarts: 1, skipped: { duplicate: 0, staleEpoch: 0 } });
      expect(w.worker.stats).toMatchObject({ frames: 24, duplicates: 0, edgeRestarts: 1 });
      const frames = w.engine.frames('cam');
      const seqs = frames.map((f) => f.seq);
      expect(new Set(seqs).size).toBe(seqs.length);
      expect(Math.max(...seqs)).toBeGreaterThanOrEqual(12); // frames of the second run are in the context
      const pts = frames.map((f) => f.ptsMs);
      expect(pts).toEqual([...pts].sort((a, b) => a - b)); // media time moves on across the restart
      const metrics = await (await fetch(`${w.base}/metrics`)).text();
      expect(metrics).toContain('lvu_stream_edge_restarts_total{stream="cam"} 1');
      expect(metrics).toContain('lvu_stream_skipped_messages_total{stream="cam",reason="duplicate"} 0');
    } finally {
      await w.close();
    }
  }, 180_000);

  it('a stray seq 1000000, a stale edge, a seq jump and console-producer garbage: none blinds the stream; each is counted', async () => {
    const topic = 'stray';
    await transport().createTopic(topic, 2);
    const p = await transport().producer();
    const send = (f: SampledFrame, epoch?: number) =>
      p.send(topic, [
        {
          key: f.streamId,
          value: encodeFrame(f),
          ...(epoch ? { headers: { [EPOCH_HEADER]: String(epoch) } } : {}),
        },
      ]);
    // a hand-made message with no epoch and an absurd seq, then a real edge (epoch 2000) from seq 0
    await send(frame('cam', 1_000_000, 0));
    for (let seq = 0; seq < 8; seq++) await send(frame('cam', seq, 1000 + seq * 1000), 2000);
    // an older edge still publishing under the same id
    await send(frame('cam', 8, 9000), 1000);
    // the current edge jumps 500 000 frames ahead in one second of media time
    await send(frame('cam', 500_008, 10_000), 2000);
    // Kafka's console producer: text where a frame belongs
    consoleProduce(topic, ['cam|this is not a frame']);
    for (let seq = 8; seq < 12; seq++) await send(frame('cam', seq, 1000 + seq * 1000), 2000);
    await send(frame('cam', 11, 12_000), 2000); // redelivered
    const w = await workerWithApi(topic, 'g-stray');
    try {
      await until(() => w.worker.stats.messages >= 16, 60_000, '16 messages');
      await until(() => w.engine.status('cam').counters.sampled >= 13, 30_000, '13 sampled');
      const s = w.engine.status('cam');
      expect(s.counters.sampled).toBe(13); // the stray one, then the edge's 12 (not blinded)
      // the worker's counters, with the stream's status in its API
      const kafka = { edgeRestarts: 1, skipped: { duplicate: 1, staleEpoch: 1, deadLettered: 2 } };
      expect(w.worker.counters.of('cam')).toEqual(kafka);
      expect(await (await fetch(`${w.base}/v1/streams/cam`)).json()).toMatchObject({ kafka });
      expect(w.worker.stats).toMatchObject({ staleFrames: 1, duplicates: 1, deadLetters: 3 });
      const dead = consoleConsume(`${topic}.dead-letter`, 3).join('\n');
      expect(dead).toMatch(/older than the session 2000/);
      expect(dead).toMatch(/seq jumps ahead by \d+ frames/);
      expect(dead).toMatch(/not a msgpack SampledFrame/);
      const metrics = await (await fetch(`${w.base}/metrics`)).text();
      expect(metrics).toContain('lvu_stream_skipped_messages_total{stream="cam",reason="stale-epoch"} 1');
      expect(metrics).toContain('lvu_stream_skipped_messages_total{stream="cam",reason="dead-letter"} 2');
    } finally {
      await w.close();
    }
  }, 180_000);
});

describe('the worker and the broker', () => {
  it('lvu worker on a topic that does not exist yet starts (creating it) and takes an edge that comes later', async () => {
    const port = await freePort();
    const w = spawn(
      process.execPath,
      [LVU, 'worker', '--from', url('not-yet'), '--group', 'g-new', '--port', String(port)],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    w.stdout.on('data', (d) => (out += d));
    w.stderr.on('data', (d) => (out += d));
    try {
      await until(() => /serving/.test(out) || w.exitCode !== null, 60_000, 'the worker serving');
      expect(w.exitCode, out).toBeNull();
      expect(out).toContain('created topic not-yet');
      execFileSync(
        process.execPath,
        [
          LVU,
          'ingest',
          makeSceneVideo(30),
          '--to',
          url('not-yet'),
          '--stream-id',
          'late',
          '--max-frames',
          '8',
        ],
        {
          stdio: ['ignore', 'ignore', 'inherit'],
        },
      );
      await until(
        async () => {
          const r = await fetch(`http://127.0.0.1:${port}/v1/streams`).catch(() => null);
          const j: any = r?.ok ? await r.json() : { streams: [] };
          return j.streams.some((s: any) => s.id === 'late' && s.counters.sampled === 8);
        },
        60_000,
        'the late edge’s frames',
      );
    } finally {
      w.kill('SIGTERM');
      await new Promise((r) => w.once('exit', r));
    }
  }, 180_000);

  it('a broker down for 12 s under a realtime edge with --spool: every frame reaches the topic, in order, none dropped', async () => {
    const video = makeSceneVideo(24);
    const spool = mkdtempSync(join(tmpdir(), 'lvu-spool-'));
    await transport().createTopic('frames-spool', 1);
    const edge = spawn(
      'node',
      [
        LVU,
        'ingest',
        video,
        '--realtime',
        '--fps',
        '2',
        '--json',
        '--to',
        url('frames-spool'),
        '--stream-id',
        'sp',
        '--spool',
        spool,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    edge.stdout!.on('data', (d) => (out += d));
    edge.stderr!.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => edge.once('exit', (code) => r(code)));
    try {
      await until(() => (out.match(/"seq":/g) ?? []).length >= 6, 30_000, 'frames before the outage');
      await broker.kill();
      await sleep(12_000);
      // the edge went on taking frames (2 fps) and put them on disk meanwhile
      expect(readdirSync(spool).filter((f) => f.endsWith('.msg')).length).toBeGreaterThan(10);
      await broker.start();
      expect(await exited).toBe(0);
    } finally {
      edge.kill('SIGKILL');
    }
    expect(out).not.toMatch(/"event":"dropped"/);
    expect(readdirSync(spool).filter((f) => f.endsWith('.msg'))).toEqual([]);
    // read back with Kafka's own console consumer: seqs 0..47, each once, in order, then the end marker
    const lines = consoleTool('org.apache.kafka.tools.consumer.ConsoleConsumer', [
      '--topic',
      'frames-spool',
      '--from-beginning',
      '--timeout-ms',
      '15000',
      '--property',
      'print.headers=true',
      '--property',
      'print.value=false',
    ])
      .trim()
      .split('\n')
      .filter(Boolean);
    expect(lines.length).toBe(49);
    expect(lines.at(-1)).toMatch(/lvu-end:47/);
    const c = await transport().consumer('spool-check');
    const seqs: number[] = [];
    await c.run(
      ['frames-spool'],
      {
        onBatch: async (msgs) => {
          for (const m of msgs) if (m.value.byteLength > 0) seqs.push(decodeFrame(m.value).seq);
        },
      },
      { fromBeginning: true },
    );
    await until(() => seqs.length >= 48, 30_000, 'the topic read back');
    await c.close();
    expect(seqs).toEqual(Array.from({ length: 48 }, (_, i) => i));
  }, 180_000);

  it('no broker there: lvu worker and lvu ingest --to say so at once, retry, then TRANSPORT_UNAVAILABLE with the fix', async () => {
    const dead = `kafka://127.0.0.1:${await freePort()}/frames`;
    for (const args of [
      ['worker', '--from', dead, '--group', 'g', '--broker-timeout-ms', '4000'],
      ['ingest', makeSceneVideo(30), '--to', dead, '--broker-timeout-ms', '4000'],
    ]) {
      const t0 = Date.now();
      const r = spawnSync(process.execPath, [LVU, ...args], { encoding: 'utf8', timeout: 60_000 });
      expect(r.status, `${args[0]}: ${r.stderr}`).toBe(2);
      expect(Date.now() - t0).toBeLessThan(30_000);
      const lines = r.stderr.trim().split('\n');
      expect(
        lines.filter((l) => l.includes('waiting: no Kafka broker answered')).length,
      ).toBeGreaterThanOrEqual(1);
      expect(JSON.parse(lines.at(-1)!)).toMatchObject({ error: 'TRANSPORT_UNAVAILABLE', field: 'brokers' });
      expect(JSON.parse(lines.at(-1)!).hint).toContain('tools/kafka/start.sh');
      expect(r.stderr).not.toContain('    at '); // no stack trace
    }
  }, 120_000);
});

describe('the same file through Kafka and in one process', () => {
  it('lvu ingest --to with its default sizes gives the context a one-process replay gives', async () => {
    const video = makeSceneVideo(40);
    await transport().createTopic('same-file', 2);
    execFileSync(process.execPath, [LVU, 'ingest', video, '--to', url('same-file'), '--stream-id', 'cam'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const ref = await createEngine();
    ref.addStream({ id: 'cam', source: video });
    await ref.whenDone('cam');
    const want = ref
      .frames('cam')
      .map((f) => [
        f.seq,
        f.ptsMs,
        Buffer.from(f.hi.buffer, f.hi.byteOffset, f.hi.byteLength).toString('base64'),
      ]);
    await ref.close();
    const engine = await createEngine();
    const worker = new KafkaWorker(engine, transport(), { topic: 'same-file', group: 'g-same' });
    try {
      await worker.start();
      await until(() => worker.stats.frames >= 40, 60_000, '40 frames');
      await until(() => engine.status('cam').counters.windows >= 2, 30_000, 'two windows');
      await sleep(500);
      const got = engine
        .frames('cam')
        .map((f) => [
          f.seq,
          f.ptsMs,
          Buffer.from(f.hi.buffer, f.hi.byteOffset, f.hi.byteLength).toString('base64'),
        ]);
      expect(got.length).toBe(want.length);
      expect(got).toEqual(want);
    } finally {
      await worker.close();
      await engine.close();
    }
  }, 180_000);
});
