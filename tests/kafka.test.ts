import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { encodeWindow } from '@lvu/arrow';
import { createEngine } from '@lvu/cli';
import type { SampledFrame } from '@lvu/core';
import {
  decodeFrame,
  encodeFrame,
  type IncomingMessage,
  KafkajsTransport,
  KafkaSnapshotStore,
} from '@lvu/kafka';
import { createHttpServer } from '@lvu/server';
import { FEATURE_WINDOW_TYPE, KafkaWorker } from '@lvu/worker';
import { Partitioners } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaBroker } from './support/kafka-broker.js';
import { makeSceneVideo } from './support/media.js';
import { repoRoot } from './support/paths.js';

const LVU = resolve(repoRoot, 'packages/cli/bin/lvu.js');

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

/** Checkpoints shared by a group: a directory on this machine, or a compacted topic (a client of its own each). */
const sharedSnapshots = (kind: string, dir: string, topic: string) =>
  kind === 'dir' ? dir : new KafkaSnapshotStore(transport(), `${topic}.snapshots`);

afterAll(async () => {
  for (const t of transports) await t.close();
  await broker.kill();
});

const frame = (streamId: string, seq: number, side = 16): SampledFrame => ({
  streamId,
  seq,
  ptsMs: seq * 1000,
  wallMs: Date.now(),
  width: 640,
  height: 360,
  images: { [side]: new Uint8Array(side * side * 3).fill(seq & 255) },
});

/** 96 px frames whose scene changes every few frames (the DINO gate keeps some, drops others); differs per stream. */
const scene = (streamId: string, seq: number): SampledFrame => {
  const img = new Uint8Array(96 * 96 * 3);
  let h = 0;
  for (const ch of streamId) h = (h * 31 + ch.charCodeAt(0)) % 251;
  const v = (Math.floor(seq / 5) * 53 + h) % 256;
  for (let i = 0; i < img.length; i += 3) {
    img[i] = v;
    img[i + 1] = (v + (i % 97)) & 255;
    img[i + 2] = 255 - v;
  }
  return {
    streamId,
    seq,
    ptsMs: seq * 1000,
    wallMs: 1.7e12 + seq * 1000,
    width: 640,
    height: 480,
    images: { 96: img },
  };
};

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

  it('a broker killed and restarted mid-stream: the producer, a running consumer and a worker retry; nothing lost, no duplicate in a context', async () => {
    const t = transport();
    await t.createTopic('frames-b', 2);
    // a consumer and a worker that are already running when the broker dies
    const got: IncomingMessage[] = [];
    const c = await transport().consumer('g-b');
    await c.run(['frames-b'], {
      onBatch: async (msgs) => {
        got.push(...msgs);
        const last = msgs.at(-1);
        if (last) await c.commit(last.topic, last.partition, String(BigInt(last.offset) + 1n));
      },
    });
    const engine = await createEngine({ longvu: { dinoWindowFrames: 4 } });
    const worker = new KafkaWorker(engine, transport(), { topic: 'frames-b', group: 'w-b' });
    await worker.start();
    try {
      const p = await t.producer();
      for (let seq = 0; seq < 10; seq++)
        await p.send('frames-b', [{ key: 'cam', value: encodeFrame(frame('cam', seq, 96)) }]);
      for (let i = 0; i < 100 && (got.length < 10 || worker.stats.frames < 10); i++)
        await new Promise((r) => setTimeout(r, 100));
      expect(got.length).toBe(10);
      await broker.kill();
      const sending = (async () => {
        for (let seq = 10; seq < 20; seq++)
          await p.send('frames-b', [{ key: 'cam', value: encodeFrame(frame('cam', seq, 96)) }]);
      })();
      await new Promise((r) => setTimeout(r, 1500));
      await broker.start();
      await sending; // every send resolved: the broker has every frame
      const sampled = () => engine.listStreams()[0]?.counters.sampled ?? 0;
      for (let i = 0; i < 600 && (new Set(got.map((m) => m.offset)).size < 20 || sampled() < 20); i++)
        await new Promise((r) => setTimeout(r, 100));
      // at least once: a commit refused after the restart means that batch comes again, never a lost frame
      const seqs = got.map((m) => decodeFrame(m.value).seq);
      expect([...new Set(seqs)]).toEqual(Array.from({ length: 20 }, (_, i) => i));
      // the worker skips what comes again: each frame once in the context
      expect(sampled()).toBe(20);
      expect(worker.stats.frames).toBe(20);
      const kept = engine.frames('cam').map((f) => f.seq);
      expect(new Set(kept).size).toBe(kept.length);
    } finally {
      await c.close();
      await worker.close();
      await engine.close();
    }
  }, 180_000);
});

describe('lvu ingest --to kafka → lvu worker', () => {
  it("frames from a real file reach a worker's context; malformed, truncated, oversized and duplicate messages do not", async () => {
    const video = makeSceneVideo(40);
    const t = transport();
    await t.createTopic('frames-c', 4);
    const url = `kafka://${broker.brokers[0]}/frames-c`;
    execFileSync(
      'node',
      [
        resolve(repoRoot, 'packages/cli/bin/lvu.js'),
        'ingest',
        video,
        '--to',
        url,
        '--size',
        '96',
        '--stream-id',
        'cam-a',
      ],
      {
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
    // bad messages between good ones, and a re-published (duplicate) frame
    const p = await t.producer();
    const good = encodeFrame(frame('cam-b', 0, 96));
    await p.send('frames-c', [
      { key: 'cam-b', value: new TextEncoder().encode('not a frame') },
      { key: 'cam-b', value: good.subarray(0, good.length - 30) },
      { key: 'cam-b', value: encodeFrame({ ...frame('cam-b', 1, 96), images: { 96: new Uint8Array(5) } }) },
      { key: 'cam-c', value: good }, // key differs from the frame's stream
    ]);
    const big = new Uint8Array(2 * 1024 * 1024).fill(1);
    await p.send('frames-c', [{ key: 'cam-b', value: big }]);
    for (let seq = 0; seq < 20; seq++)
      await p.send('frames-c', [{ key: 'cam-b', value: encodeFrame(frame('cam-b', seq, 96)) }]);
    await p.send('frames-c', [{ key: 'cam-b', value: encodeFrame(frame('cam-b', 5, 96)) }]); // redelivered

    const engine = await createEngine({ longvu: { dinoWindowFrames: 4 } });
    const worker = new KafkaWorker(engine, transport(), {
      topic: 'frames-c',
      group: 'workers',
      maxMessageBytes: 1024 * 1024,
    });
    try {
      await worker.start();
      const end = Date.now() + 60_000;
      while (
        Date.now() < end &&
        (worker.stats.frames < 60 || worker.stats.deadLetters < 5 || worker.stats.duplicates < 1)
      ) {
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(worker.stats).toMatchObject({ frames: 60, deadLetters: 5, duplicates: 1, streams: 2 });
      const sampled = (id: string) => engine.status(id).counters.sampled;
      for (let i = 0; i < 100 && (sampled('cam-a') < 40 || sampled('cam-b') < 20); i++)
        await new Promise((r) => setTimeout(r, 100));
      expect(engine.status('cam-a').counters.sampled).toBe(40);
      expect(engine.status('cam-b').counters.sampled).toBe(20);
      const seqs = engine.frames('cam-b').map((f) => f.seq);
      expect(new Set(seqs).size).toBe(seqs.length);
      const r = await engine.query('cam-a', { question: 'When is the scene red?' });
      expect(r.evidence.topScored[0]!.ptsMs).toBeGreaterThanOrEqual(20_000);
      expect(r.evidence.topScored[0]!.ptsMs).toBeLessThan(30_000);
      const dead = await consumeAll('frames-c.dead-letter', 'dlq-reader', 5);
      expect(dead).toHaveLength(5);
      expect(dead.map((m) => m.headers['lvu-error'])).toEqual(Array(5).fill('MALFORMED_MESSAGE'));
      const reasons = dead.map((m) => m.headers['lvu-reason']).join(' | ');
      for (const why of [/not a msgpack/, /over the limit/, /images\.96/, /differs/])
        expect(reasons).toMatch(why);
      expect(dead[0]!.headers['lvu-source']).toMatch(/^frames-c\/\d\/\d+$/);
    } finally {
      await worker.close();
      await engine.close();
    }
  }, 180_000);
});

describe('lvu ingest --features → lvu worker', () => {
  it('an edge with the models publishes reduced windows as FeatureBatches; the worker builds the context one process builds', async () => {
    const video = makeSceneVideo(40);
    const t = transport();
    await t.createTopic('windows-f', 2);
    const out = execFileSync(
      'node',
      [
        resolve(repoRoot, 'packages/cli/bin/lvu.js'),
        'ingest',
        video,
        '--to',
        `kafka://${broker.brokers[0]}/windows-f`,
        '--features',
        '--stream-id',
        'edge-1',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    ).toString();
    expect(out).toMatch(/40 frames sampled .* \d+ windows with \d+ kept frames published as feature batches/);
    // the same file in one process: the reference context
    const local = await createEngine();
    local.addStream({ id: 'edge-1', source: video });
    await local.whenDone('edge-1');
    const want = local.frames('edge-1');
    expect(want.length).toBeGreaterThan(1);

    // bad windows between good ones: wrong geometry (other models), a window for a stream that takes frames, junk
    const p = await t.producer();
    const row = (hiValues: number) => ({
      streamId: 'edge-2',
      seq: 3,
      ptsMs: 3000,
      wallMs: 0,
      frameH: 360,
      frameW: 640,
      hi: new Float32Array(hiValues),
      lo: new Float32Array(16),
      thumb: new Uint8Array(0),
    });
    const win = {
      streamId: 'edge-2',
      window: 0,
      start: 0,
      frames: 4,
      lastSeq: 3,
      lastPtsMs: 3000,
      lastWallMs: 0,
    };
    await p.send('windows-f', [
      {
        key: 'edge-2',
        value: encodeWindow({ ...win, rows: [row(10)], scores: [1] }),
        headers: { 'content-type': FEATURE_WINDOW_TYPE },
      },
      {
        key: 'edge-2',
        value: new TextEncoder().encode('not arrow'),
        headers: { 'content-type': FEATURE_WINDOW_TYPE },
      },
      { key: 'edge-1', value: encodeFrame(frame('edge-1', 99, 96)) }, // a frame for a stream that takes windows
    ]);
    const engine = await createEngine();
    const worker = new KafkaWorker(engine, transport(), { topic: 'windows-f', group: 'feature-workers' });
    try {
      await worker.start();
      for (let i = 0; i < 300 && (worker.stats.deadLetters < 3 || engine.listStreams().length < 1); i++)
        await new Promise((r) => setTimeout(r, 100));
      for (let i = 0; i < 100 && engine.status('edge-1').counters.sampled < 40; i++)
        await new Promise((r) => setTimeout(r, 100));
      expect(worker.stats).toMatchObject({ frames: 0, deadLetters: 3, streams: 1 });
      expect(worker.stats.windows).toBeGreaterThan(0);
      const got = engine.frames('edge-1');
      expect(got.map((f) => f.seq)).toEqual(want.map((f) => f.seq));
      for (let i = 0; i < got.length; i++) {
        expect(Buffer.from(got[i]!.hi.buffer, got[i]!.hi.byteOffset, got[i]!.hi.byteLength)).toEqual(
          Buffer.from(want[i]!.hi.buffer, want[i]!.hi.byteOffset, want[i]!.hi.byteLength),
        );
      }
      expect(engine.status('edge-1').counters.sampled).toBe(40);
      const r = await engine.query('edge-1', { question: 'When is the scene red?' });
      const l = await local.query('edge-1', { question: 'When is the scene red?' });
      expect(r.evidence.topScored.map((e) => e.seq)).toEqual(l.evidence.topScored.map((e) => e.seq));
      const dead = await consumeAll('windows-f.dead-letter', 'dlq-f', 3);
      expect(dead.map((m) => m.headers['lvu-error']).sort()).toEqual([
        'MALFORMED_MESSAGE',
        'MALFORMED_MESSAGE',
        'SHAPE_MISMATCH',
      ]);
      expect(dead.map((m) => m.headers['lvu-reason']).join(' | ')).toMatch(/takes windows; got a frame/);
    } finally {
      await worker.close();
      await engine.close();
      await local.close();
    }
  }, 180_000);
});

describe('lvu worker crash recovery', () => {
  it('a worker SIGKILLed mid-stream and restarted (checkpoints in a compacted topic) ends with the context an uninterrupted worker builds, byte for byte', async () => {
    const t = transport();
    await t.createTopic('frames-r', 4);
    const p = await t.producer();
    const N = 120;
    for (let seq = 0; seq < N; seq += 10) {
      for (const s of ['s1', 's2']) {
        await p.send(
          'frames-r',
          Array.from({ length: 10 }, (_, k) => ({ key: s, value: encodeFrame(scene(s, seq + k)) })),
        );
      }
    }
    // the reference: one uninterrupted worker
    const engine = await createEngine();
    const ref = new KafkaWorker(engine, transport(), {
      topic: 'frames-r',
      group: 'reference',
      snapshots: mkdtempSync(join(tmpdir(), 'lvu-ref-')),
    });
    await ref.start();
    for (let i = 0; i < 300 && ref.stats.frames < 2 * N; i++) await new Promise((r) => setTimeout(r, 100));
    expect(ref.stats.frames).toBe(2 * N);
    await new Promise((r) => setTimeout(r, 500));
    const want = { s1: engine.snapshot('s1'), s2: engine.snapshot('s2') };
    expect(engine.frames('s1').length).toBeGreaterThan(3);
    await ref.close();
    await engine.close();

    // the crashing worker: a separate process, killed with SIGKILL after some frames, then restarted
    // checkpoints in a compacted topic (what workers on different machines share)
    const snapshots = `kafka://${broker.brokers[0]}/frames-r.snapshots`;
    const args = [
      resolve(repoRoot, 'packages/cli/bin/lvu.js'),
      'worker',
      '--from',
      `kafka://${broker.brokers[0]}/frames-r`,
    ];
    const start = async () => {
      const w = spawn('node', [...args, '--group', 'crashing', '--snapshots', snapshots, '--port', '0'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      w.stdout!.on('data', (d) => (out += d));
      w.stderr!.on('data', (d) => (out += d));
      for (let i = 0; i < 300 && !/serving (http:\/\/[^/]+)\//.test(out); i++)
        await new Promise((r) => setTimeout(r, 100));
      const url = /serving (http:\/\/[^/]+)\//.exec(out)?.[1];
      if (!url) throw new Error(`worker did not start: ${out}`);
      return { w, url };
    };
    const sampled = async (url: string) => {
      const r = (await (await fetch(`${url}/v1/streams`)).json()) as {
        streams: { counters: { sampled: number } }[];
      };
      return r.streams.reduce((a, s) => a + s.counters.sampled, 0);
    };
    let { w, url } = await start();
    try {
      for (let i = 0; i < 300 && (await sampled(url)) < 90; i++) await new Promise((r) => setTimeout(r, 50));
      // crash once both streams have a checkpoint in the topic (and its offsets were committed right after)
      const store = new KafkaSnapshotStore(transport(), 'frames-r.snapshots');
      const saved = async () => (await store.load('s1')) !== null && (await store.load('s2')) !== null;
      for (let i = 0; i < 100 && !(await saved()); i++) await new Promise((r) => setTimeout(r, 100));
      expect(await saved()).toBe(true);
      await new Promise((r) => setTimeout(r, 300));
      w.kill('SIGKILL');
      await new Promise((r) => w.once('exit', r));
      await store.close();
      ({ w, url } = await start());
      const same = async () => {
        for (const id of ['s1', 's2'] as const) {
          const r = await fetch(`${url}/v1/streams/${id}/snapshot`);
          if (!r.ok) return false;
          if (!Buffer.from(await r.arrayBuffer()).equals(Buffer.from(want[id]))) return false;
        }
        return true;
      };
      let equal = false;
      for (let i = 0; i < 200 && !equal; i++) {
        equal = await same();
        if (!equal) await new Promise((r) => setTimeout(r, 200));
      }
      expect(equal).toBe(true);
      // the restarted worker resumed from its checkpoints (what they cover was not taken again: few duplicates)
      // and its counters go on from theirs: every frame counted once (before, they restarted at the checkpoint)
      expect(await sampled(url)).toBe(2 * N);
      const r = (await (await fetch(`${url}/v1/streams`)).json()) as {
        streams: { kafka: { skipped: { duplicate: number } } }[];
      };
      expect(r.streams.reduce((a, s) => a + s.kafka.skipped.duplicate, 0)).toBeLessThan(N);
    } finally {
      w.kill('SIGKILL');
    }
  }, 240_000);
});

describe('questions to a worker that does not own the stream', () => {
  it.each([
    ['the shared snapshot directory', 'frames-q', 'dir'],
    ['the compacted snapshots topic', 'frames-o', 'topic'],
  ])(
    "are answered from the owner's latest checkpoint in %s",
    async (_, topic, kind) => {
      const t = transport();
      await t.createTopic(topic, 4);
      const dir = mkdtempSync(join(tmpdir(), 'lvu-shared-'));
      const members = await Promise.all(
        [0, 1].map(async () => {
          const engine = await createEngine({ longvu: { dinoWindowFrames: 4 } });
          const worker = new KafkaWorker(engine, transport(), {
            topic: topic,
            group: 'owners',
            snapshots: sharedSnapshots(kind, dir, topic),
            checkpointIntervalMs: 200,
          });
          const app = await createHttpServer(engine, worker.httpOptions());
          await app.listen({ host: '127.0.0.1', port: 0 });
          return {
            engine,
            worker,
            app,
            url: `http://127.0.0.1:${(app.server.address() as { port: number }).port}`,
          };
        }),
      );
      try {
        await Promise.all(members.map((m) => m.worker.start()));
        // publish once the group is stable, so every stream's frames go to its final owner
        const stable = () => {
          const sets = members.map((m) => m.worker.assignment);
          return sets.every((x) => x && x.size === 2) && new Set(sets.flatMap((x) => [...x!])).size === 4;
        };
        for (let i = 0; i < 300 && !stable(); i++) await new Promise((r) => setTimeout(r, 100));
        expect(stable()).toBe(true);
        const p = await t.producer();
        const ids = Array.from({ length: 8 }, (_, i) => `q${i}`);
        for (let seq = 0; seq < 20; seq++) {
          await p.send(
            topic,
            ids.map((id) => ({ key: id, value: encodeFrame(frame(id, seq, 96)) })),
          );
        }
        const owned = () => members.map((m) => m.engine.listStreams().map((s) => s.id));
        for (let i = 0; i < 300 && members.reduce((a, m) => a + m.worker.stats.frames, 0) < 160; i++)
          await new Promise((r) => setTimeout(r, 100));
        await new Promise((r) => setTimeout(r, 600)); // checkpoints written
        const [a, b] = owned();
        expect([...a!, ...b!].sort()).toEqual(ids); // every stream has exactly one owner
        // ask the member that does not own a stream about it (hashing may give one member every stream)
        const owner = a!.length > 0 ? 0 : 1;
        const other = 1 - owner;
        const foreign = (owner === 0 ? a : b)![0]!;
        const r = await fetch(`${members[other]!.url}/v1/streams/${foreign}/query`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ question: 'What is on screen?' }),
        });
        expect(r.status).toBe(200);
        const j = (await r.json()) as { servedFrom: string; streamId: string; frames: number };
        expect(j).toMatchObject({ servedFrom: 'snapshot', streamId: foreign });
        expect(j.frames).toBe(members[owner]!.engine.frames(foreign).length);
        // lvu query asks for a streamed answer: from the checkpoint it comes whole, as the `result` event
        const streamed = await promisify(execFile)(process.execPath, [
          LVU,
          'query',
          members[other]!.url,
          foreign,
          'What is on screen?',
          '--json',
        ]);
        expect(JSON.parse(streamed.stdout)).toMatchObject({ servedFrom: 'snapshot', streamId: foreign });
        const missing = await fetch(`${members[other]!.url}/v1/streams/nobody/query`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ question: 'hi' }),
        });
        expect(missing.status).toBe(404);
      } finally {
        for (const m of members) {
          await m.worker.close();
          await m.app.close();
          await m.engine.close();
        }
      }
    },
    180_000,
  );
});

describe('standing answers', () => {
  it('are asked by the owner of each stream and published to the answers topic, keyed by stream id', async () => {
    const t = transport();
    await t.createTopic('frames-s', 2);
    const p = await t.producer();
    for (let seq = 0; seq < 24; seq++)
      await p.send(
        'frames-s',
        ['s-a', 's-b'].map((id) => ({ key: id, value: encodeFrame(scene(id, seq)) })),
      );
    const engine = await createEngine({ longvu: { dinoWindowFrames: 4 } });
    const worker = new KafkaWorker(engine, transport(), {
      topic: 'frames-s',
      group: 'asking',
      standing: [{ question: 'What changed?', everySeconds: 0.5, onSceneChange: true }],
      answersTopic: 'answers-s',
    });
    await worker.start();
    const got: IncomingMessage[] = [];
    const c = await transport().consumer('answer-reader');
    await c.run(['answers-s'], { onBatch: async (msgs) => void got.push(...msgs) });
    const answered = () =>
      new Set(
        got
          .map((m) => ({ key: m.key, a: JSON.parse(new TextDecoder().decode(m.value)) }))
          .filter(({ a }) => a.result?.frames > 0)
          .map(({ key }) => key),
      );
    for (let i = 0; i < 300 && answered().size < 2; i++) await new Promise((r) => setTimeout(r, 100));
    await worker.close();
    await c.close();
    await engine.close();
    expect([...answered()].sort()).toEqual(['s-a', 's-b']);
    for (const m of got) {
      const a = JSON.parse(new TextDecoder().decode(m.value));
      expect(a.stream).toBe(m.key);
      expect(m.headers['lvu-trigger']).toBe(a.trigger);
      expect(['period', 'scene-change']).toContain(a.trigger);
      if (a.result) expect(a.result).toMatchObject({ streamId: m.key, question: 'What changed?' });
    }
    expect(worker.stats.answers).toBe(got.length);
    expect(worker.stats.answerErrors).toBe(0);
  }, 120_000);
});

describe('snapshots in a compacted topic', () => {
  it('chunked snapshots read back whole by another client; a writer dying mid-snapshot and compaction leave the last complete one', async () => {
    const blob = (n: number, salt: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + salt) & 255);
    const same = (a: Uint8Array | null, b: Uint8Array) => a !== null && Buffer.from(a).equals(Buffer.from(b));
    const writer = new KafkaSnapshotStore(transport(), 'snaps-a', { chunkBytes: 1000 });
    await writer.save('cam-1', blob(4500, 1)); // 5 chunks
    await writer.save('cam-2', blob(10, 2));
    await writer.save('cam-1', blob(3200, 3)); // the other slot, 4 chunks
    // another client (another machine): what it reads is kept on disk, not in memory
    const cacheDir = mkdtempSync(join(tmpdir(), 'lvu-snapshot-cache-test-'));
    const reader = new KafkaSnapshotStore(transport(), 'snaps-a', { cacheDir });
    expect(same(await reader.load('cam-1'), blob(3200, 3))).toBe(true);
    expect(same(await reader.load('cam-2'), blob(10, 2))).toBe(true);
    expect(await reader.load('cam-3')).toBeNull();
    expect(readdirSync(cacheDir).sort()).toEqual(['cam-1.arrow', 'cam-2.arrow']);

    // everything in the topic so far, in offset order per partition
    const t = transport();
    const p = await t.producer();
    const ends = await t.endOffsets('snaps-a');
    const all: IncomingMessage[] = [];
    const c = await t.consumer('snaps-a-copy');
    await c.run(['snaps-a'], { onBatch: async (msgs) => void all.push(...msgs) });
    const total = [...ends.values()].reduce((a, b) => a + b, 0n);
    for (let i = 0; i < 300 && BigInt(all.length) < total; i++) await new Promise((r) => setTimeout(r, 50));
    await c.close();
    expect(BigInt(all.length)).toBe(total);
    // a writer that dies after two chunks of its next snapshot (the slot the latest manifest does not use)
    const partition = all.find((m) => m.key === 'cam-1')!.partition;
    const half = [0, 1].map((i) => ({
      key: `cam-1#0#${i}`,
      value: blob(1000, 9),
      headers: { 'lvu-snapshot-version': 'dead-writer' },
      partition,
    }));
    await p.send('snaps-a', half);
    const late = new KafkaSnapshotStore(transport(), 'snaps-a');
    expect(same(await late.load('cam-1'), blob(3200, 3))).toBe(true);

    // what compaction leaves (the latest value of each key, in offset order) still holds the latest snapshots
    const latest = new Map<
      string,
      { key: string; value: Uint8Array; headers: Record<string, string>; partition: number }
    >();
    for (const m of [...all, ...half]) {
      latest.delete(m.key!); // a surviving record keeps its (latest) offset
      latest.set(m.key!, { key: m.key!, value: m.value, headers: m.headers ?? {}, partition: m.partition });
    }
    expect(latest.size).toBeLessThan(all.length + half.length); // superseded values dropped
    await t.createTopic('snaps-b', ends.size, { 'cleanup.policy': 'compact' });
    for (const m of latest.values()) await p.send('snaps-b', [m]);
    const compacted = new KafkaSnapshotStore(transport(), 'snaps-b');
    expect(same(await compacted.load('cam-1'), blob(3200, 3))).toBe(true);
    expect(same(await compacted.load('cam-2'), blob(10, 2))).toBe(true);
    for (const s of [writer, reader, late, compacted]) await s.close();
  }, 120_000);
});

describe('rebalance', () => {
  it.each([
    ['a shared directory', 'frames-m', 'dir'],
    ['a compacted topic', 'frames-n', 'topic'],
  ])(
    'a third worker joins mid-stream: moved streams are restored on their new owner from %s, none lost, contexts exact',
    async (_, topic, kind) => {
      const t = transport();
      await t.createTopic(topic, 6);
      // 8 stream ids covering all 6 partitions (kafkajs' murmur2 partitioner), so the newcomer must take streams over
      const partitionOf = Partitioners.DefaultPartitioner();
      const meta = Array.from({ length: 6 }, (_, i) => ({
        partitionId: i,
        leader: 0,
        partitionErrorCode: 0,
        replicas: [0],
        isr: [0],
      }));
      const part = (key: string) =>
        partitionOf({ topic: topic, partitionMetadata: meta, message: { key, value: null } });
      const ids: string[] = [];
      for (let i = 0; ids.length < 8; i++) {
        const covered = new Set(ids.map(part));
        if (covered.size + (8 - ids.length) > 6 || !covered.has(part(`m${i}`))) ids.push(`m${i}`);
      }
      expect(new Set(ids.map(part)).size).toBe(6);
      const N = 60;
      const p = await t.producer();
      const publish = async (from: number, to: number) => {
        for (let seq = from; seq < to; seq++)
          await p.send(
            topic,
            ids.map((id) => ({ key: id, value: encodeFrame(scene(id, seq)) })),
          );
      };
      const dir = mkdtempSync(join(tmpdir(), 'lvu-rebalance-'));
      // on other machines: each member reads the compacted snapshots topic with its own client
      const shared = () => sharedSnapshots(kind, dir, topic);
      const member = async (group: string, snapshots: string | KafkaSnapshotStore) => {
        const engine = await createEngine({ longvu: { dinoWindowFrames: 4 } });
        const worker = new KafkaWorker(engine, transport(), {
          topic: topic,
          group,
          snapshots,
          checkpointIntervalMs: 200,
        });
        await worker.start();
        return { engine, worker };
      };
      const members = [await member('fleet', shared()), await member('fleet', shared())];
      const ref = await member('reference', mkdtempSync(join(tmpdir(), 'lvu-rebalance-ref-')));
      try {
        await publish(0, N / 2);
        const taken = () => members.reduce((a, m) => a + m.worker.stats.frames, 0);
        for (let i = 0; i < 300 && taken() < (ids.length * N) / 3; i++)
          await new Promise((r) => setTimeout(r, 100));
        const ownersBefore = new Map(
          members.flatMap((m, k) => m.engine.listStreams().map((s) => [s.id, k] as const)),
        );
        members.push(await member('fleet', shared())); // joins while frames are flowing
        for (let seq = N / 2; seq < N; seq += 5) {
          await publish(seq, seq + 5);
          await new Promise((r) => setTimeout(r, 300));
        }
        // the reference took every frame; wait until every stream's owner has built the same context
        for (let i = 0; i < 300 && ref.worker.stats.frames < ids.length * N; i++)
          await new Promise((r) => setTimeout(r, 100));
        expect(ref.worker.stats.frames).toBe(ids.length * N);
        const want = new Map(ids.map((id) => [id, Buffer.from(ref.engine.snapshot(id))]));
        const owners = () =>
          ids.map((id) =>
            members.flatMap((m, k) => (m.engine.listStreams().some((s) => s.id === id) ? [k] : [])),
          );
        const exact = () =>
          ids.every((id, j) => {
            const o = owners()[j]!;
            return o.length === 1 && Buffer.from(members[o[0]!]!.engine.snapshot(id)).equals(want.get(id)!);
          });
        for (let i = 0; i < 150 && !exact(); i++) await new Promise((r) => setTimeout(r, 200));
        const report = ids.map((id, j) => {
          const o = owners()[j]!;
          const e = o.length === 1 ? members[o[0]!]!.engine : null;
          return {
            id,
            owners: o,
            lastKept: e?.frames(id).at(-1)?.seq,
            wantLastKept: ref.engine.frames(id).at(-1)?.seq,
            same: e ? Buffer.from(e.snapshot(id)).equals(want.get(id)!) : false,
          };
        });
        expect(report.filter((r) => r.owners.length !== 1 || !r.same)).toEqual([]);
        // the newcomer took streams over from the first two members
        const moved = ids.filter((id, j) => ownersBefore.has(id) && ownersBefore.get(id) !== owners()[j]![0]);
        expect(members[2]!.engine.listStreams().length).toBeGreaterThan(0);
        expect(moved.length).toBeGreaterThan(0);
      } finally {
        for (const m of [...members, ref]) {
          await m.worker.close();
          await m.engine.close();
        }
      }
    },
    240_000,
  );
});
