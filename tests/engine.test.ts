import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { createEngine } from '@lvu/cli';
import type { LvuError, LvuEvent } from '@lvu/core';
import type { Engine, QueryResult } from '@lvu/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSceneVideo } from './support/media.js';
import { repoRoot } from './support/paths.js';

/** 60 s of static colour bars with a small moving box, and a red scene from 20 s to 30 s. */
let video = '';
const TINY = resolve(repoRoot, 'tests/fixtures/models/tiny');
/** A result without what depends on the clock: timings and arrival wall times. */
const stable = (r: QueryResult) => {
  const { timingsMs: _t, evidence, ...rest } = r;
  const noWall = (f: { wallMs: number }) => ({ ...f, wallMs: 0 });
  return { ...rest, highRes: evidence.highRes.map(noWall), topScored: evidence.topScored.map(noWall) };
};

beforeAll(() => {
  video = makeSceneVideo(60);
}, 120_000);

async function replay(config: Parameters<typeof Engine.create>[0] = {}, id = 'cam') {
  const engine = await createEngine(config);
  engine.addStream({ id, source: video });
  await engine.whenDone(id);
  return engine;
}

describe('engine on the embedded default (built-in encoder, no model)', () => {
  let engine: Engine;
  const events: LvuEvent[] = [];
  beforeAll(async () => {
    engine = await createEngine();
    engine.events.on((e) => events.push(e));
    engine.addStream({ id: 'cam', source: video });
    await engine.whenDone('cam');
  }, 120_000);
  afterAll(() => engine.close());

  it('replays the file through the DINO gate into the context and answers with evidence in the red scene', async () => {
    const s = engine.status('cam');
    expect(s.state).toBe('ended');
    expect(s.counters.sampled).toBe(60);
    expect(s.counters.kept).toBeGreaterThan(3);
    expect(s.counters.kept).toBeLessThan(60);
    expect(events.filter((e) => e.type === 'window.closed')).toHaveLength(4);
    expect(events.filter((e) => e.type === 'frame.kept')).toHaveLength(s.counters.kept);
    const r = await engine.query('cam', { question: 'When is the scene red?' });
    expect(r.answer).toBeNull();
    expect(r.backend).toBe('none');
    expect(r.totalTokens).toBeLessThanOrEqual(8192);
    expect(r.totalTokens).toBe(r.visualTokens + r.textTokens);
    const best = r.evidence.topScored[0]!;
    expect(best.ptsMs).toBeGreaterThanOrEqual(20_000);
    expect(best.ptsMs).toBeLessThan(30_000);
    // a time range restricts the frames the question sees
    const early = await engine.query('cam', { question: 'When is the scene red?', untilMs: 15_000 });
    expect(early.evidence.topScored.every((f) => f.ptsMs <= 15_000)).toBe(true);
    expect(early.frames).toBeLessThan(r.frames);
    const ctx = engine.context('cam');
    expect(ctx.timeline.filter((t) => t.kind === 'kept')).toHaveLength(s.counters.kept);
    expect(ctx.retained[0]!.thumb.length).toBe(ctx.thumbSide * ctx.thumbSide * 3);
  });

  it('refuses bad questions and unknown or duplicate streams with codes, losing nothing retained', async () => {
    const before = engine.frames('cam').map((f) => f.seq);
    const code = async (p: Promise<unknown> | (() => unknown)) => {
      try {
        await (typeof p === 'function' ? p() : p);
      } catch (err) {
        return (err as LvuError).code;
      }
      return 'no error';
    };
    expect(await code(engine.query('cam', { question: '' }))).toBe('INVALID_ARGUMENT');
    expect(await code(engine.query('cam', { question: 'x'.repeat(1 << 20) }))).toBe('INVALID_ARGUMENT');
    expect(await code(engine.query('cam', { question: '\u0000\u0001binary' }))).toBe('INVALID_ARGUMENT');
    expect(await code(engine.query('nope', { question: 'hi' }))).toBe('STREAM_NOT_FOUND');
    expect(await code(engine.query('cam', { question: 'hi', sinceMs: 3_600_000 }))).toBe('NOT_FOUND');
    expect(await code(() => engine.addStream({ id: 'cam', source: video }))).toBe('STREAM_EXISTS');
    expect(await code(() => engine.addStream({ id: '../etc', source: video }))).toBe('INVALID_ARGUMENT');
    expect(engine.frames('cam').map((f) => f.seq)).toEqual(before);
    expect(engine.status('cam').state).toBe('ended');
  });

  it('a failing stream fails alone', async () => {
    engine.addStream({ id: 'missing', source: '/nonexistent/video.mp4' });
    engine.addStream({ id: 'cam2', source: video, retention: { maxFrames: 5, policy: 'uniform' } });
    await Promise.all([engine.whenDone('missing'), engine.whenDone('cam2')]);
    expect(engine.status('missing')).toMatchObject({ state: 'failed', error: { code: 'NOT_FOUND' } });
    expect(engine.status('cam2').state).toBe('ended');
    expect(engine.status('cam2').store.retainedFrames).toBe(5);
    expect(engine.status('cam2').store.evictedTotal).toBe(engine.status('cam2').counters.kept - 5);
    expect(events.some((e) => e.type === 'stream.failed' && e.streamId === 'missing')).toBe(true);
    // removed: kept queryable (keepEndedFor) until purged
    await engine.removeStream('missing');
    expect(engine.status('missing').state).toBe('failed');
    await engine.removeStream('missing', { purge: true });
    expect(engine.listStreams().map((s) => s.id)).toEqual(['cam', 'cam2']);
  });
});

describe('engine determinism and models', () => {
  it('the same file and config give the same context, layout and evidence, value for value', async () => {
    const a = await replay();
    const b = await replay();
    try {
      const fa = a.frames('cam');
      const fb = b.frames('cam');
      expect(fb.map((f) => [f.seq, f.ptsMs])).toEqual(fa.map((f) => [f.seq, f.ptsMs]));
      fa.forEach((f, i) => {
        expect(Buffer.from(fb[i]!.hi.buffer, fb[i]!.hi.byteOffset, fb[i]!.hi.byteLength)).toEqual(
          Buffer.from(f.hi.buffer, f.hi.byteOffset, f.hi.byteLength),
        );
      });
      const q = { question: 'Is anything bright or dark?' };
      expect(stable(await b.query('cam', q))).toEqual(stable(await a.query('cam', q)));
    } finally {
      await a.close();
      await b.close();
    }
  }, 120_000);

  it('with the tiny ONNX models: SVA + projector features, generation within the budget, deterministic', async () => {
    const run = async () => {
      const e = await replay({ models: TINY, generation: { seed: 3 }, query: { maxNewTokens: 8 } });
      try {
        expect(e.vision.builtin).toBe(false);
        expect(e.backend.name).toBe('onnx');
        const pieces: string[] = [];
        const r = await e.query('cam', { question: 'What happens?', onText: (t) => pieces.push(t) });
        return { r, pieces, frames: e.frames('cam').length, hi: e.frames('cam')[0]!.hi.length };
      } finally {
        await e.close();
      }
    };
    const a = await run();
    expect(a.frames).toBeGreaterThan(0);
    expect(a.hi).toBe(16 * 64); // 4×4 grid at the tiny LLM's width
    expect(typeof a.r.answer).toBe('string');
    expect(a.pieces.join('')).toBe(a.r.answer);
    expect(a.r.totalTokens).toBeLessThanOrEqual(a.r.budgetTokens);
    const b = await run();
    expect(stable(b.r)).toEqual(stable(a.r));
  }, 120_000);
});

describe('lvu replay', () => {
  it('--json prints the contract: answer, evidence with timestamps, token counts within the budget, timings', () => {
    const out = execFileSync(
      'node',
      [
        resolve(repoRoot, 'packages/cli/bin/lvu.js'),
        'replay',
        video,
        '--query',
        'when is it red?',
        '--json',
        '--budget',
        '2048',
      ],
      { encoding: 'utf8' },
    );
    const r = JSON.parse(out);
    expect(r).toMatchObject({ answer: null, backend: 'none', budgetTokens: 2048, replay: { sampled: 60 } });
    expect(r.totalTokens).toBeLessThanOrEqual(2048);
    expect(r.visualTokens + r.textTokens).toBe(r.totalTokens);
    expect(r.evidence.topScored[0]).toEqual({
      streamId: 'replay',
      seq: expect.any(Number),
      ptsMs: expect.any(Number),
      wallMs: expect.any(Number),
      score: expect.any(Number),
    });
    expect(Object.keys(r.timingsMs).sort()).toEqual(['compose', 'generate', 'replay', 'text', 'total']);
    expect(r.contextDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(r.note).toMatch(/built-in/);
  }, 120_000);

  it('a missing file is a clear error with a code', () => {
    let err = '';
    try {
      execFileSync('node', [resolve(repoRoot, 'packages/cli/bin/lvu.js'), 'replay', '/nope.mp4', '--json'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (e) {
      err = (e as { stderr: string }).stderr;
    }
    expect(JSON.parse(err.trim().split('\n').at(-1)!)).toMatchObject({ error: 'NOT_FOUND' });
  }, 60_000);
});

describe('engine spill to disk', () => {
  it('a question about a past range sees every kept frame of it, after retention thinned memory', async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'lvu-engine-spill-'));
    const e = await createEngine({
      retention: { maxFrames: 4, policy: 'recent' },
      spill: { dir, segmentFrames: 8 },
    });
    try {
      e.addStream({ id: 'cam', source: video });
      await e.whenDone('cam');
      const kept = e.status('cam').counters.kept;
      expect(e.frames('cam')).toHaveLength(4); // memory: the most recent 4 kept frames only
      const r = await e.query('cam', {
        question: 'When is the scene red?',
        sinceMs: 15_000,
        untilMs: 35_000,
      });
      const inRange = (ms: number) => ms >= 15_000 && ms <= 35_000;
      const inMemory = e.frames('cam').filter((f) => inRange(f.ptsMs)).length;
      expect(r.frames).toBeGreaterThan(inMemory);
      expect(r.frames).toBeLessThanOrEqual(kept);
      expect(r.evidence.topScored.every((f) => inRange(f.ptsMs))).toBe(true);
      expect(r.evidence.topScored[0]!.ptsMs).toBeGreaterThanOrEqual(20_000);
      expect(r.evidence.topScored[0]!.ptsMs).toBeLessThan(30_000);
    } finally {
      await e.close();
    }
  }, 120_000);
});
