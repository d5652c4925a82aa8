// biome-ignore-all lint/suspicious/noExplicitAny: JSON bodies of the API under test
/**
 * Memory beyond one stream and one process, end to end through `lvu serve` (a real process, real FFmpeg decoding
 * of generated video): one question over two streams under one budget, contexts that survive SIGTERM and SIGKILL
 * restarts (engine.stateDir), search over retained and spilled frames, an alert that fires once for an event that
 * lasts several windows, and the recent-frames layout option.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ContextStore } from '@lvu/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, LVU, post, serve as serveIn, stop, until } from './support/lvu-serve.js';
import { makeSceneVideo, makeVideo } from './support/media.js';

let dir = '';
let scene = '';
let other = '';

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lvu-memory-'));
  scene = makeSceneVideo(60); // red from 20 s to 30 s
  other = makeVideo({
    seconds: 40,
    encoder: 'libx264',
    container: 'mp4',
    source: 'testsrc2=size=320x180:rate=25',
  });
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const serve = (name: string, yaml: string) => serveIn(dir, name, yaml);

describe('cross-stream questions through lvu serve', () => {
  it('one question over a 768×576 and a 1280×720 camera: each frame keeps its own layout, evidence from both', async () => {
    // a 4:3 camera red from 20 s to 30 s, a 16:9 one red from 5 s to 15 s; each has a moving white box
    const camera = (size: string, red: string) =>
      makeVideo({
        seconds: 40,
        encoder: 'libx264',
        container: 'mp4',
        source: `smptebars=size=${size}:rate=10`,
        filter:
          "drawbox=x='mod(t*97,600)':y=70:w=80:h=80:color=white:t=fill," +
          `drawbox=enable='between(t,${red})':x=0:y=0:w=iw:h=ih:color=red:t=fill`,
      });
    const s = await serve(
      'sizes',
      `server: {port: 0}\nstreams:\n  - {id: lobby, source: ${camera('768x576', '20,29.99')}}\n` +
        `  - {id: dock, source: ${camera('1280x720', '5,14.99')}}\n`,
    );
    try {
      for (const id of ['lobby', 'dock'])
        await until(
          () => get(`${s.url}/v1/streams/${id}`),
          (x) => x.state === 'ended',
        );
      const r = await post(`${s.url}/v1/query`, {
        streams: ['lobby', 'dock'],
        question: 'When is the scene red?',
      });
      const j = (await r.json()) as any;
      expect(r.status, JSON.stringify(j)).toBe(200);
      expect(j.totalTokens).toBeLessThanOrEqual(8192);
      const lobby = await get(`${s.url}/v1/streams/lobby/context`);
      const dock = await get(`${s.url}/v1/streams/dock/context`);
      expect([lobby.retained[0].frameW, lobby.retained[0].frameH]).toEqual([768, 576]);
      expect([dock.retained[0].frameW, dock.retained[0].frameH]).toEqual([1280, 720]);
      expect(j.frames).toBe(lobby.retained.length + dock.retained.length);
      // each camera's best-scoring frames are its red ones, whatever its shape: evidence from both
      const red = (c: any, from: number, to: number) =>
        new Set(c.retained.filter((f: any) => f.ptsMs >= from && f.ptsMs < to).map((f: any) => f.seq));
      const window = { lobby: [lobby, 20_000, 30_000], dock: [dock, 5_000, 15_000] } as const;
      for (const [id, [c, from, to]] of Object.entries(window)) {
        const best = j.evidence.byStream[id];
        expect(best.length).toBeGreaterThan(0);
        for (const f of best)
          expect(red(c, from, to).has(f.seq), `${id} ${f.seq} at ${f.ptsMs} ms`).toBe(true);
      }
      // scored on their image cells, a red 4:3 frame and a red 16:9 frame score alike: the overall best are red
      for (const f of j.evidence.topScored) {
        const [c, from, to] = window[f.streamId as 'lobby' | 'dock'];
        expect(red(c, from, to).has(f.seq), `${f.streamId} ${f.seq}`).toBe(true);
      }
    } finally {
      await stop(s);
    }
  }, 180_000);

  it('one answer over two streams under one budget, frames interleaved by wall clock and labelled', async () => {
    const s = await serve(
      'cross',
      `server: {port: 0}\nengine: {longvu: {contextTokens: 4096}}\nstreams:\n  - {id: a, source: ${scene}}\n  - {id: b, source: ${other}}\n`,
    );
    try {
      for (const id of ['a', 'b'])
        await until(
          () => get(`${s.url}/v1/streams/${id}`),
          (x) => x.state === 'ended',
        );
      const a = await get(`${s.url}/v1/streams/a`);
      const b = await get(`${s.url}/v1/streams/b`);
      const r = await post(`${s.url}/v1/query`, { streams: ['a', 'b'], question: 'When is the scene red?' });
      expect(r.status).toBe(200);
      const j = (await r.json()) as any;
      expect(j).toMatchObject({ streamId: 'a,b', streams: ['a', 'b'], budgetTokens: 4096 });
      expect(j.totalTokens).toBeLessThanOrEqual(4096);
      expect(j.frames).toBe(a.store.retainedFrames + b.store.retainedFrames);
      // the red frames are in stream a, and evidence says so
      expect(j.evidence.topScored[0]).toMatchObject({ streamId: 'a' });
      expect(j.evidence.topScored[0].ptsMs).toBeGreaterThanOrEqual(20_000);
      expect(j.evidence.topScored[0].ptsMs).toBeLessThan(30_000);
      // mix mode over the union: one N_h for both streams, and a's red frames, the best scores, all get a slot
      expect(j.mode).toBe('mix');
      expect(j.evidence.highRes.length).toBeLessThan(j.frames);
      const red = (await get(`${s.url}/v1/streams/a/context`)).retained
        .filter((f: any) => f.ptsMs >= 20_000 && f.ptsMs < 30_000)
        .map((f: any) => `a/${f.seq}`);
      expect(red.length).toBeGreaterThan(0);
      const hiKeys = j.evidence.highRes.map((f: any) => `${f.streamId}/${f.seq}`);
      for (const k of red) expect(hiKeys).toContain(k);
      // range on the wall clock (the streams' media clocks do not line up)
      expect(j.range.fromMs).toBeGreaterThan(1e12);
      // the same through the command line, and its errors
      const { stdout } = await promisify(execFile)('node', [
        LVU,
        'query',
        s.url,
        '--streams',
        'a,b',
        'When is the scene red?',
      ]);
      expect(stdout).toMatch(/best-scoring frames: a 00:2\d/);
      expect(stdout).toMatch(/tokens: \d+ of 4096/);
      for (const [body, status, field] of [
        [{ streams: ['a', 'nope'], question: 'x' }, 404, 'id'],
        [{ streams: [], question: 'x' }, 400, 'streams'],
        [{ streams: 'a', question: 'x' }, 400, 'streams'],
        [{ streams: ['a', 'a'], question: 'x' }, 400, 'streams'],
        [{ streams: ['a', 'b'], question: '' }, 400, 'question'],
      ] as const) {
        const e = await post(`${s.url}/v1/query`, body);
        expect([e.status, ((await e.json()) as any).field], JSON.stringify(body)).toEqual([status, field]);
      }
      // streamed like a single-stream answer
      const sse = await post(
        `${s.url}/v1/query`,
        { streams: ['b', 'a'], question: 'When is the scene red?' },
        { accept: 'text/event-stream' },
      );
      expect(await sse.text()).toMatch(/event: result\ndata: .*"streams":\["b","a"\]/);
    } finally {
      await stop(s);
    }
  }, 120_000);
});

describe('durable memory: lvu serve restarted with the same stateDir', () => {
  const yaml = (state: string) =>
    `server: {port: 0}\nengine: {stateDir: ${state}, checkpointSeconds: 0.5, checkpointOpenWindows: false}\n` +
    `streams:\n  - {id: cam, source: ${scene}, realtime: true, fps: 4}\n`;

  it('SIGTERM: the same frames before any new one arrives, then seq and media time go on', async () => {
    const state = join(dir, 'state-term');
    const first = await serve('term', yaml(state));
    let before: any;
    try {
      before = await until(
        () => get(`${first.url}/v1/streams/cam`),
        (x) => x.counters.windows >= 2,
      );
    } finally {
      expect(await stop(first)).toBe(0);
    }
    const saved = ContextStore.restore(readFileSync(join(state, 'streams/cam.arrow')));
    const seqs = saved.frames().map((f) => f.seq);
    expect(seqs.length).toBeGreaterThan(0);
    expect(saved.stats.lastSeq).toBeGreaterThanOrEqual(before.store.lastSeq);

    const second = await serve('term', yaml(state));
    try {
      // at once, before the source has given a window: the saved frames
      const ctx = await get(`${second.url}/v1/streams/cam/context`);
      expect(ctx.retained.map((f: any) => f.seq)).toEqual(seqs);
      expect(ctx.status.restored).toMatchObject({ fromStateDir: true });
      expect(ctx.status.counters.sampled).toBeGreaterThanOrEqual(before.counters.sampled);
      const r = await post(`${second.url}/v1/streams/cam/query`, { question: 'When is the scene red?' });
      expect(r.status).toBe(200);
      // then the stream continues: new seqs after the old ones, media time after the old time
      const oldMaxSeq = Math.max(...seqs);
      const oldMaxPts = Math.max(...saved.frames().map((f) => f.ptsMs));
      const later = await until(
        () => get(`${second.url}/v1/streams/cam/context`),
        (c) => c.retained.some((f: any) => f.seq > oldMaxSeq),
      );
      const fresh = later.retained.filter((f: any) => f.seq > oldMaxSeq);
      expect(fresh.every((f: any) => f.ptsMs > oldMaxPts)).toBe(true);
      expect(later.status.restored.afterSeq).toBeGreaterThanOrEqual(oldMaxSeq);
      // the old frames are still there (nothing evicted at this size)
      expect(later.retained.filter((f: any) => f.seq <= oldMaxSeq).map((f: any) => f.seq)).toEqual(seqs);
    } finally {
      expect(await stop(second)).toBe(0);
    }
  }, 120_000);

  it('SIGKILL: what was checkpointed comes back whole; at most one interval is lost', async () => {
    const state = join(dir, 'state-kill');
    const first = await serve('kill', yaml(state));
    let atKill: any;
    try {
      // just after a window closed (every 4 s at fps 4), wait three checkpoint intervals, then kill -9
      const w = (
        await until(
          () => get(`${first.url}/v1/streams/cam`),
          (x) => x.counters.windows >= 2,
        )
      ).counters.windows;
      await until(
        () => get(`${first.url}/v1/streams/cam`),
        (x) => x.counters.windows > w,
      );
      await new Promise((r) => setTimeout(r, 1500));
      atKill = await get(`${first.url}/v1/streams/cam`);
    } finally {
      await stop(first, 'SIGKILL');
    }
    expect(readdirSync(join(state, 'streams')).filter((f) => f.endsWith('.arrow'))).toEqual(['cam.arrow']);
    const second = await serve('kill', yaml(state));
    try {
      const s = await get(`${second.url}/v1/streams/cam`);
      // the windows that closed more than one interval before the kill are all there
      expect(s.store.lastSeq).toBe(atKill.store.lastSeq);
      expect(s.store.retainedFrames).toBe(atKill.store.retainedFrames);
      expect(s.state).toBe('running');
    } finally {
      expect(await stop(second)).toBe(0);
    }
  }, 120_000);
});

describe('search over history through lvu serve', () => {
  it('ranks retained and spilled frames, merges time ranges, returns thumbnails; across streams too', async () => {
    const spill = join(dir, 'spill');
    const s = await serve(
      'search',
      `server: {port: 0}\nengine: {spill: {dir: ${spill}, segmentFrames: 4}, retention: {maxFrames: 4}}\n` +
        `streams:\n  - {id: cam, source: ${scene}}\n  - {id: other, source: ${other}}\n`,
    );
    try {
      for (const id of ['cam', 'other'])
        await until(
          () => get(`${s.url}/v1/streams/${id}`),
          (x) => x.state === 'ended',
        );
      const cam = await get(`${s.url}/v1/streams/cam`);
      expect(cam.store.evictedTotal).toBeGreaterThan(0); // most kept frames live only on disk now
      expect(readdirSync(join(spill, 'cam')).some((f) => f.endsWith('.means'))).toBe(true);
      const r = await get(`${s.url}/v1/streams/cam/search?q=${encodeURIComponent('a red scene')}&limit=3`);
      expect(r.clock).toBe('media');
      expect(r.scanned.spilled).toBeGreaterThan(0);
      expect(r.scanned.retained + r.scanned.spilled).toBe(cam.counters.kept);
      const best = r.ranges[0];
      expect(best.fromMs).toBeGreaterThanOrEqual(20_000);
      expect(best.toMs).toBeLessThan(30_000);
      expect(best.frames).toBeGreaterThan(1);
      // the thumbnail of the best frame is red (32×32 RGB; the 16:9 frame is letterboxed into the square)
      const px = Buffer.from(best.best.thumb, 'base64');
      expect(px.length).toBe(r.thumbSide * r.thumbSide * 3);
      let red = 0;
      for (let i = 0; i < px.length; i += 3) if (px[i]! > 200 && px[i + 1]! < 60 && px[i + 2]! < 60) red++;
      expect(red).toBeGreaterThan(0.5 * r.thumbSide * r.thumbSide);
      // a time range leaves the red scene out
      const early = await get(`${s.url}/v1/streams/cam/search?q=red&untilMs=15000`);
      expect(early.ranges.every((x: any) => x.toMs <= 15_000)).toBe(true);
      // across streams: the red range is still first, and named by its stream
      const both = await get(`${s.url}/v1/search?streams=other,cam&q=red`);
      expect(both).toMatchObject({ clock: 'wall', streams: ['other', 'cam'] });
      expect(both.ranges[0].streamId).toBe('cam');
      for (const [path, field] of [
        ['/v1/streams/cam/search?q=', 'q'],
        ['/v1/streams/cam/search?q=red&limit=0', 'limit'],
        ['/v1/streams/cam/search?q=red&sinceMs=soon', 'sinceMs'],
        ['/v1/search?q=red', 'streams'],
      ] as const) {
        const e = await fetch(`${s.url}${path}`);
        expect([e.status, ((await e.json()) as any).field], path).toEqual([400, field]);
      }
      expect((await fetch(`${s.url}/v1/streams/nope/search?q=red`)).status).toBe(404);
    } finally {
      await stop(s);
    }
  }, 120_000);
});

describe('alerts that stay silent', () => {
  it('fires once, with its evidence, for an event that lasts several windows', async () => {
    // red from 20 s to 52 s: three 16-frame windows see it
    const event = makeVideo({
      seconds: 80,
      encoder: 'libx264',
      container: 'mp4',
      source: 'smptebars=size=320x180:rate=25',
      filter:
        "drawbox=x='mod(t*37,280)':y=70:w=40:h=40:color=white:t=fill," +
        "drawbox=enable='between(t,20,51.99)':x=0:y=0:w=iw:h=ih:color=red:t=fill",
    });
    const state = join(dir, 'state-alert');
    const s = await serve(
      'alert',
      `server: {port: 0}\nengine: {stateDir: ${state}}\nstreams:\n  - {id: cam, source: ${event}}\n` +
        'standing:\n  - {stream: cam, question: "Is the scene red?", when: {scoreAbove: 0.04}}\n',
    );
    try {
      await until(
        () => get(`${s.url}/v1/streams/cam`),
        (x) => x.state === 'ended',
      );
      // the windows that saw red: more than one, and every one scores above the threshold
      const hits = await get(`${s.url}/v1/streams/cam/search?q=${encodeURIComponent('Is the scene red?')}`);
      expect(hits.ranges[0].toMs - hits.ranges[0].fromMs).toBeGreaterThan(16_000);
      const { answers } = await until(
        () => get(`${s.url}/v1/answers/recent`),
        (x) => x.answers.length > 0,
        10_000,
      );
      await new Promise((r) => setTimeout(r, 500));
      const all = (await get(`${s.url}/v1/answers/recent`)).answers;
      expect(all).toHaveLength(1);
      expect(answers[0]).toMatchObject({ stream: 'cam', trigger: 'alert', error: null });
      expect(answers[0].alert.score).toBeGreaterThan(0.04);
      expect(answers[0].alert.ptsMs).toBeGreaterThanOrEqual(20_000);
      expect(answers[0].alert.ptsMs).toBeLessThan(52_000);
      expect(answers[0].result.evidence.topScored[0].ptsMs).toBeGreaterThanOrEqual(20_000);
      // the alert's state is saved with the contexts
      expect(existsSync(join(state, 'standing.json'))).toBe(true);
    } finally {
      await stop(s);
    }
  }, 120_000);
});

describe('longvu.recentHighResSeconds through lvu serve', () => {
  it('keeps the newest frames at high resolution whatever their score; off by default', async () => {
    const s = await serve(
      'recent',
      `server: {port: 0}\nengine: {longvu: {contextTokens: 1600}}\nstreams:\n  - {id: cam, source: ${scene}}\n`,
    );
    const t = await serve(
      'recent-on',
      `server: {port: 0}\nengine: {longvu: {contextTokens: 1600, recentHighResSeconds: 10}}\nstreams:\n  - {id: cam, source: ${scene}}\n`,
    );
    try {
      const q = { question: 'When is the scene red?' };
      const answers: any[] = [];
      for (const x of [s, t]) {
        await until(
          () => get(`${x.url}/v1/streams/cam`),
          (v) => v.state === 'ended',
        );
        answers.push(await (await post(`${x.url}/v1/streams/cam/query`, q)).json());
      }
      const [off, on] = answers;
      expect(off.mode).toBe('mix');
      const last = (await get(`${t.url}/v1/streams/cam/context`)).retained.at(-1);
      const seqs = (a: any) => a.evidence.highRes.map((f: any) => f.seq);
      // off: the best scores (the red scene) only; on: the newest frame too, in the same number of slots
      expect(seqs(off)).not.toContain(last.seq);
      expect(off.evidence.highRes.some((f: any) => f.ptsMs >= 20_000 && f.ptsMs < 30_000)).toBe(true);
      expect(seqs(on)).toContain(last.seq);
      expect(seqs(on).length).toBe(seqs(off).length);
      expect(on.totalTokens).toBe(off.totalTokens);
    } finally {
      await stop(s);
      await stop(t);
    }
  }, 120_000);
});
