/**
 * Durable memory and disk faults at the engine's level, on frames made here: a graceful stop covers the open
 * window, a crash never lets a seq name another frame, a failed checkpoint keeps the last good file and is
 * reported until it works again, a spill fault turns spill off for one stream only, and a second engine on the
 * same state directory is refused. (tests/reliability.test.ts does the same with the real `lvu serve`, kill -9
 * and full file systems.)
 */
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';

import { join } from 'node:path';
import { createEngine, defaultPlugins } from '@lvu/cli';
import { defineSchema, type FrameSource, type LvuEvent, type SampledFrame, z } from '@lvu/core';
import { ContextStore, type Engine, SEQ_LEASE } from '@lvu/engine';
import { afterAll, describe, expect, it } from 'vitest';
import { pushable } from './support/pushable.js';

const root = mkdtempSync(join(tmpdir(), 'lvu-durability-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Frames pushed by the test; each a distinct flat colour, so the DINO gate keeps most of them. */
function camera(streamId: string, sizes: readonly number[]) {
  const frames = pushable<SampledFrame>();
  let seq = 0;
  return Object.assign(frames, {
    /** `n` more frames, each a distinct flat colour. */
    add(n: number) {
      for (let i = 0; i < n; i++, seq++) {
        const images: Record<number, Uint8Array> = {};
        for (const s of sizes) {
          const img = new Uint8Array(s * s * 3);
          for (let p = 0; p < img.length; p += 3) {
            img[p] = (seq * 97) & 255;
            img[p + 1] = (seq * 53 + (p % 7) * 20) & 255;
            img[p + 2] = (seq * 31) & 255;
          }
          images[s] = img;
        }
        frames.push({ streamId, seq, ptsMs: seq * 1000, wallMs: Date.now(), width: 64, height: 48, images });
      }
    },
  });
}

async function until(pred: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The cameras of `test:NAME` sources (a registered source, so the engine numbers a continued stream as it would a camera's). */
const cameras = new Map<string, ReturnType<typeof camera>>();
function plugins() {
  const p = defaultPlugins();
  p.sources.register({
    name: 'test',
    description: 'frames pushed by the test',
    schemes: ['test'],
    options: defineSchema('test source', z.object({})),
    open(source, _o, ctx): FrameSource {
      const cam = camera(ctx.streamId, ctx.sizes);
      cameras.set(source.slice(5), cam);
      return Object.assign(cam, { description: source, stop: async () => cam.end() });
    },
  });
  return p;
}

const config = (stateDir: string, extra: Record<string, unknown> = {}) => ({
  plugins: plugins(),
  stateDir,
  checkpointSeconds: 3600, // saves only when the test asks (flushState) or at close
  longvu: { dinoWindowFrames: 8 },
  ...extra,
});

describe('durable memory (engine)', () => {
  it('a graceful stop saves the open window; the restart continues right after the last frame taken', async () => {
    const dir = join(root, 'graceful');
    const a = await createEngine(config(dir));
    const cam = camera('cam', a.vision.imageSizes);
    a.addStream({ id: 'cam', source: cam });
    cam.add(13); // one window of 8 closes; 5 frames wait in the open one
    await until(() => a.status('cam').counters.sampled === 13, '13 frames taken');
    const before = a.status('cam');
    expect(before.store.lastSeq).toBeLessThanOrEqual(7);
    await a.close();
    const b = await createEngine(config(dir));
    b.resume([]);
    const s = b.status('cam');
    // the open window went into the context before the save: frames 8–12 are there
    expect(s.store.lastSeq).toBeGreaterThan(7);
    expect(s.restored).toMatchObject({ afterSeq: 12, fromStateDir: true });
    await b.close();
  }, 60_000);

  it('after a crash, seqs go on past every seq reserved: none names another frame', async () => {
    const dir = join(root, 'crash');
    const a = await createEngine(config(dir));
    const cam = camera('cam', a.vision.imageSizes);
    a.addStream({ id: 'cam', source: cam });
    cam.add(8);
    await until(() => a.status('cam').store.lastSeq === 7, 'the first window');
    await a.flushState();
    cam.add(12); // seqs 8–19 are taken and one more window (8–15) is shown, never saved
    await until(() => a.status('cam').store.lastSeq >= 15, 'the second window');
    const shown = a.frames('cam').map((f) => f.seq);
    // what a SIGKILL leaves on disk: the files as they are now, the engine never closed
    const crashed = join(root, 'crash-copy');
    cpSync(dir, crashed, { recursive: true });
    rmSync(join(crashed, 'lock'));
    const b = await createEngine(config(crashed));
    b.addStream({ id: 'cam', source: 'test:after', continue: true });
    cameras.get('after')!.add(8);
    await until(() => b.frames('cam').some((f) => f.seq > 7), 'a window after the restart');
    // the saved context covers seqs 0–7; every frame taken after the restart is numbered past the reservation
    // (seqs 8–19 were handed out before the crash, 8–15 even shown): none of those numbers is used again
    const fresh = b.frames('cam').filter((f) => f.seq > 7);
    expect(fresh.length).toBeGreaterThan(0);
    for (const f of fresh) expect(f.seq).toBeGreaterThan(19);
    // the first frame reserved seqs up to SEQ_LEASE; the restart goes on after them
    expect(fresh[0]!.seq).toBe(SEQ_LEASE + 1);
    expect(shown.filter((s) => s > 7).length).toBeGreaterThan(0);
    await b.close();
    cam.end();
    await a.close();
  }, 60_000);

  it('a failed checkpoint keeps the last good file, is reported, and is retried until it works', async () => {
    const dir = join(root, 'failing');
    const events: LvuEvent[] = [];
    const a = await createEngine(config(dir));
    a.events.on((e) => events.push(e));
    const cam = camera('cam', a.vision.imageSizes);
    a.addStream({ id: 'cam', source: cam });
    cam.add(8);
    await until(() => a.status('cam').store.lastSeq === 7, 'the first window');
    await a.flushState();
    const file = join(dir, 'streams', 'cam.arrow');
    const good = ContextStore.restore(new Uint8Array(readFileSync(file))).stats.lastSeq;
    // a directory in the way of every temporary file: no write can succeed (root ignores permissions)
    const streams = join(dir, 'streams');
    const moved = join(dir, 'streams-moved');
    cpSync(streams, moved, { recursive: true });
    rmSync(streams, { recursive: true });
    writeFileSync(streams, 'not a directory');
    cam.add(8);
    await until(() => a.status('cam').store.lastSeq === 15, 'the second window');
    await a.flushState();
    const failed = events.filter((e) => e.type === 'checkpoint.failed');
    expect(failed.length).toBeGreaterThan(0);
    expect(failed[0]).toMatchObject({ streamId: 'cam', code: 'STORAGE_FAILED' });
    expect(a.warnings()).toEqual([expect.objectContaining({ streamId: 'cam', kind: 'checkpoint' })]);
    expect(a.checkpointFailures.get('cam')).toBeGreaterThan(0);
    // the file system comes back: the next checkpoint works and says so
    rmSync(streams);
    cpSync(moved, streams, { recursive: true });
    expect(ContextStore.restore(new Uint8Array(readFileSync(file))).stats.lastSeq).toBe(good);
    await a.flushState();
    expect(events.some((e) => e.type === 'checkpoint.recovered')).toBe(true);
    expect(a.warnings()).toEqual([]);
    expect(ContextStore.restore(new Uint8Array(readFileSync(file))).stats.lastSeq).toBe(15);
    expect(readdirSync(streams).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    cam.end();
    await a.close();
  }, 60_000);

  it('a checkpoint closes a live stream’s window older than checkpointSeconds; a recording keeps its windows whole', async () => {
    const dir = join(root, 'windows');
    const e = await createEngine(config(dir, { checkpointSeconds: 0.2 }));
    const live = camera('live', e.vision.imageSizes);
    const file = camera('file', e.vision.imageSizes);
    e.addStream({ id: 'live', source: live });
    e.addStream({
      id: 'file',
      source: (async function* () {
        // frames of a recording carry their place in it
        for await (const f of file) yield { ...f, positionMs: f.ptsMs };
      })(),
    });
    live.add(5);
    file.add(5);
    await until(() => e.status('live').store.lastSeq === 4, 'the live window closed by a checkpoint');
    await new Promise((r) => setTimeout(r, 1000));
    expect(e.status('file').counters.windows).toBe(0); // five frames wait for the other three of their window
    file.add(3);
    await until(() => e.status('file').counters.windows === 1, 'the recording’s whole window');
    expect(e.status('file').store.lastSeq).toBe(7);
    live.end();
    file.end();
    await e.close();
  }, 60_000);

  it('a second engine on the same state directory is refused before it opens anything', async () => {
    const dir = join(root, 'locked');
    const a = await createEngine(config(dir));
    await expect(createEngine(config(dir))).rejects.toMatchObject({
      code: 'INVALID_CONFIG',
      field: 'stateDir',
      message: expect.stringMatching(/in use by lvu process \d+/),
    });
    await a.close();
    expect(existsSync(join(dir, 'lock'))).toBe(false);
    // a lock left by a process that is gone is taken over
    writeFileSync(join(dir, 'lock'), `999999 ${hostname()}\n`);
    const b = await createEngine(config(dir));
    await b.close();
  }, 60_000);
});

describe('spill faults', () => {
  it('a spill that cannot be written turns spill off for that stream; it and the other streams go on', async () => {
    const spill = join(root, 'spill');
    const events: LvuEvent[] = [];
    const e: Engine = await createEngine({
      longvu: { dinoWindowFrames: 8 },
      spill: { dir: spill, segmentFrames: 2 },
    });
    e.events.on((x) => events.push(x));
    const bad = camera('bad', e.vision.imageSizes);
    const good = camera('good', e.vision.imageSizes);
    e.addStream({ id: 'bad', source: bad });
    e.addStream({ id: 'good', source: good });
    // a file where the stream's spill directory would be (re)created: every write fails
    rmSync(join(spill, 'bad'), { recursive: true, force: true });
    writeFileSync(join(spill, 'bad'), 'in the way');
    bad.add(16);
    good.add(16);
    await until(() => e.status('bad').store.lastSeq === 15 && e.status('good').store.lastSeq === 15, 'both');
    expect(events.find((x) => x.type === 'spill.failed')).toMatchObject({
      streamId: 'bad',
      code: 'STORAGE_FAILED',
    });
    expect(e.status('bad').state).toBe('running');
    expect(e.warnings()).toEqual([expect.objectContaining({ streamId: 'bad', kind: 'spill' })]);
    expect(readdirSync(join(spill, 'good')).filter((f) => f.endsWith('.arrow')).length).toBeGreaterThan(0);
    bad.add(8);
    await until(() => e.status('bad').store.lastSeq === 23, 'the bad stream goes on');
    bad.end();
    good.end();
    await e.close();
  }, 60_000);

  it('a stream started afresh does not read an earlier run’s spill as its own (moved aside)', async () => {
    const spill = join(root, 'spill-runs');
    for (const run of [1, 2]) {
      const e = await createEngine({
        longvu: { dinoWindowFrames: 8 },
        spill: { dir: spill, segmentFrames: 2 },
      });
      const cam = camera('cam', e.vision.imageSizes);
      e.addStream({ id: 'cam', source: cam });
      cam.add(8);
      cam.end();
      await e.whenDone('cam');
      const r = await e.search(['cam'], { q: 'red' });
      expect(r.scanned.spilled + r.scanned.retained, `run ${run}`).toBeLessThanOrEqual(2 * 8);
      await e.close();
    }
    expect(existsSync(join(spill, 'cam.previous'))).toBe(true);
  }, 60_000);
});
