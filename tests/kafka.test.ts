import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import type { SampledFrame } from '@lvu/core';
import { Engine, KafkaWorker } from '@lvu/engine';
import { decodeFrame, encodeFrame, type IncomingMessage, KafkajsTransport } from '@lvu/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaBroker } from './support/kafka-broker.js';
import { makeSceneVideo } from './support/media.js';
import { repoRoot } from './support/paths.js';

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

const frame = (streamId: string, seq: number, side = 16): SampledFrame => ({
  streamId,
  seq,
  ptsMs: seq * 1000,
  wallMs: Date.now(),
  width: 640,
  height: 360,
  images: { [side]: new Uint8Array(side * side * 3).fill(seq & 255) },
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

    const engine = await Engine.create({ longvu: { dinoWindowFrames: 4 } });
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

describe('lvu worker crash recovery', () => {
  it('a worker SIGKILLed mid-stream and restarted ends with the context an uninterrupted worker builds, byte for byte', async () => {
    const { spawn } = await import('node:child_process');
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const t = transport();
    await t.createTopic('frames-r', 4);
    const p = await t.producer();
    // two streams of 96 px frames whose scene changes every few frames (the gate keeps some, drops others)
    const scene = (streamId: string, seq: number): SampledFrame => {
      const img = new Uint8Array(96 * 96 * 3);
      const v = (Math.floor(seq / 5) * 53 + (streamId === 's1' ? 0 : 101)) % 256;
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
    const engine = await Engine.create();
    const ref = new KafkaWorker(engine, transport(), {
      topic: 'frames-r',
      group: 'reference',
      snapshotDir: mkdtempSync(join(tmpdir(), 'lvu-ref-')),
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
    const dir = mkdtempSync(join(tmpdir(), 'lvu-crash-'));
    const args = [
      resolve(repoRoot, 'packages/cli/bin/lvu.js'),
      'worker',
      '--from',
      `kafka://${broker.brokers[0]}/frames-r`,
    ];
    const start = async () => {
      const w = spawn('node', [...args, '--group', 'crashing', '--snapshots', dir, '--port', '0'], {
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
      await new Promise((r) => setTimeout(r, 1200)); // at least one checkpoint and commit
      w.kill('SIGKILL');
      await new Promise((r) => w.once('exit', r));
      // checkpoints were written and offsets committed before the crash
      const { readdirSync } = await import('node:fs');
      expect(
        readdirSync(dir)
          .filter((f) => f.endsWith('.arrow'))
          .sort(),
      ).toEqual(['s1.arrow', 's2.arrow']);
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
      // the restarted worker resumed from its checkpoints: it did not take every frame again
      const after = await sampled(url);
      expect(after).toBeGreaterThan(0);
      expect(after).toBeLessThan(2 * N - 40);
    } finally {
      w.kill('SIGKILL');
    }
  }, 240_000);
});

describe('questions to a worker that does not own the stream', () => {
  it("are answered from the owner's latest checkpoint in the shared snapshot directory", async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { createHttpServer } = await import('@lvu/engine');
    const t = transport();
    await t.createTopic('frames-q', 4);
    const dir = mkdtempSync(join(tmpdir(), 'lvu-shared-'));
    const members = await Promise.all(
      [0, 1].map(async () => {
        const engine = await Engine.create({ longvu: { dinoWindowFrames: 4 } });
        const worker = new KafkaWorker(engine, transport(), {
          topic: 'frames-q',
          group: 'owners',
          snapshotDir: dir,
          checkpointIntervalMs: 200,
        });
        const app = await createHttpServer(engine, {
          fallbackQuery: (id, input) => worker.queryFromSnapshot(id, input),
        });
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
          'frames-q',
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
  }, 180_000);
});
