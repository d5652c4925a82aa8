import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SampledFrame, SnapshotStore } from '@lvu/core';
import { DirSnapshotStore, Engine } from '@lvu/engine';
import { afterEach, describe, expect, it } from 'vitest';
import { KafkaWorker } from './kafka-worker.js';
import { MemoryTransport } from './memory-transport.js';
import { frameMessage } from './wire-format.js';

/** Frames the built-in encoder sees as a new scene every 4 frames (grey levels far apart). */
function frame(streamId: string, seq: number, size: number): SampledFrame {
  const level = (Math.floor(seq / 4) * 67) % 256;
  return {
    streamId,
    seq,
    ptsMs: seq * 1000,
    wallMs: 1e12 + seq * 1000,
    width: 64,
    height: 48,
    images: { [size]: new Uint8Array(size * size * 3).fill(level) },
  };
}

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A snapshot store that counts what it is asked to save. */
class CountingStore implements SnapshotStore {
  readonly inner: DirSnapshotStore;
  saves = 0;
  constructor(dir: string) {
    this.inner = new DirSnapshotStore(dir);
  }
  get location() {
    return this.inner.location;
  }
  async save(id: string, s: Uint8Array) {
    this.saves++;
    await this.inner.save(id, s);
  }
  load(id: string) {
    return this.inner.load(id);
  }
  async close() {}
}

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const c of open.splice(0).reverse()) await c.close();
});

async function start(transport: MemoryTransport, store: SnapshotStore | null) {
  const engine = await Engine.create();
  const worker = new KafkaWorker(engine, transport, {
    topic: 'frames',
    group: 'g',
    partitions: 1,
    checkpointIntervalMs: 3_600_000, // checkpoints are taken by the test
    ...(store ? { snapshots: store } : {}),
  });
  await worker.start();
  open.push(engine, worker);
  return { engine, worker, size: engine.vision.imageSizes[0]! };
}

describe('KafkaWorker offset bookkeeping (in-memory transport)', () => {
  it('commits a partition only past the frames a saved checkpoint covers, and saves only streams that advanced', async () => {
    const t = new MemoryTransport();
    const store = new CountingStore(mkdtempSync(join(tmpdir(), 'lvu-worker-')));
    const { engine, worker, size } = await start(t, store);
    const p = await t.producer();
    const epoch = 1_700_000_000_000;
    for (let seq = 0; seq < 40; seq++) await p.send('frames', [frameMessage(frame('a', seq, size), epoch)]);
    await until(() => engine.listStreams()[0]?.counters.sampled === 40, '40 frames sampled');
    await until(() => engine.listStreams()[0]?.counters.windows === 2, 'two windows closed');
    await worker.checkpoint();
    // windows of 16: frames 0–31 are in the store, 32–39 in the open window: the commit stops at the first of those
    expect(t.committed.get('g/frames/0')).toBe(32n);
    expect(store.saves).toBe(1);
    await worker.checkpoint();
    expect(store.saves).toBe(1); // nothing new: no snapshot built, none saved
    expect(t.committed.get('g/frames/0')).toBe(32n);
    for (let seq = 40; seq < 48; seq++) await p.send('frames', [frameMessage(frame('a', seq, size), epoch)]);
    await until(() => engine.status('a').counters.windows === 3, 'a third window');
    await worker.checkpoint();
    expect(store.saves).toBe(2);
    expect(t.committed.get('g/frames/0')).toBe(48n);
  });

  it('a restarted worker restores the checkpoint, skips what it covers, and ends with the same context', async () => {
    const t = new MemoryTransport();
    const dir = mkdtempSync(join(tmpdir(), 'lvu-worker-'));
    const first = await start(t, new CountingStore(dir));
    const p = await t.producer();
    const epoch = 1_700_000_000_000;
    for (let seq = 0; seq < 40; seq++)
      await p.send('frames', [frameMessage(frame('a', seq, first.size), epoch)]);
    await until(() => first.engine.listStreams()[0]?.counters.windows === 2, 'two windows');
    await first.worker.checkpoint();
    const before = first.engine.frames('a').map((f) => f.seq);
    await first.worker.close();
    await first.engine.close();
    open.splice(0);
    // frames 32–39 are redelivered (past the commit) and rebuild the open window; nothing is taken twice
    for (let seq = 40; seq < 48; seq++)
      await p.send('frames', [frameMessage(frame('a', seq, first.size), epoch)]);
    const second = await start(t, new CountingStore(dir));
    // its counters go on from the checkpoint's (two windows, 32 frames): every frame is counted once
    await until(() => second.engine.listStreams()[0]?.counters.windows === 3, 'the redelivered window');
    expect(second.engine.status('a').counters.sampled).toBe(48);
    expect(
      second.engine
        .frames('a')
        .map((f) => f.seq)
        .slice(0, before.length),
    ).toEqual(before);
    expect(second.worker.counters.of('a')?.skipped.duplicate).toBe(0);
    expect(Math.max(...second.engine.frames('a').map((f) => f.seq))).toBeGreaterThanOrEqual(32);
  });

  it('without a snapshot store, commits each batch as it is handed over; malformed messages are dead-lettered, the partition goes on', async () => {
    const t = new MemoryTransport(8);
    const { engine, worker, size } = await start(t, null);
    const p = await t.producer();
    await p.send('frames', [{ key: 'a', value: new Uint8Array([1, 2, 3]), headers: { 'lvu-epoch': '5' } }]);
    for (let seq = 0; seq < 8; seq++) await p.send('frames', [frameMessage(frame('a', seq, size), 5)]);
    await until(() => t.committed.get('g/frames/0') === 9n, 'the commit past all 9 messages');
    expect(worker.stats).toMatchObject({ messages: 9, frames: 8, deadLetters: 1 });
    const dead = t.topics.get('frames.dead-letter')!.flat();
    expect(dead).toHaveLength(1);
    expect(dead[0]!.headers).toMatchObject({ 'lvu-error': 'MALFORMED_MESSAGE', 'lvu-source': 'frames/0/0' });
    await until(() => engine.status('a').counters.sampled === 8, 'the frames after it');
  });
});
