/**
 * The engine side of memory beyond one stream and process, on windows made here (so every score is known):
 * the budget of a question over several streams (property), alerts' hysteresis and its state across a restart,
 * keepEndedFor and purge, and a saved state that cannot be read.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FeatureRow, FeatureWindow } from '@lvu/arrow';
import { tokenGridLayout } from '@lvu/compress';
import { type LvuEvent, seededRandom } from '@lvu/core';
import { Engine, type StandingAnswer, StandingQuestions } from '@lvu/engine';
import { afterAll, describe, expect, it } from 'vitest';
import { pushable } from './support/pushable.js';

const dir = mkdtempSync(join(tmpdir(), 'lvu-memory-engine-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const DIM = 16; // the built-in encoder's width
const RED = 7; // BUILTIN_FEATURES[7], 'redness': what the word red points at

/** A kept frame whose every token is `v` (a unit vector along `feature`, scaled) plus noise from `r`. */
function row(
  stream: string,
  seq: number,
  wallMs: number,
  level: number,
  r: () => number,
  hw = [180, 320],
): FeatureRow {
  const grid = (n: number) => {
    const g = new Float32Array(n * DIM);
    for (let i = 0; i < g.length; i++) g[i] = (i % DIM === RED ? level : 0) + 0.01 * (r() - 0.5);
    return g;
  };
  return {
    streamId: stream,
    seq,
    ptsMs: seq * 1000,
    wallMs,
    frameH: hw[0]!,
    frameW: hw[1]!,
    hi: grid(144),
    lo: grid(64),
    thumb: new Uint8Array(32 * 32 * 3),
  };
}

function window(stream: string, w: number, rows: FeatureRow[], frames = 16): FeatureWindow {
  const last = rows.at(-1);
  return {
    streamId: stream,
    window: w,
    start: w * frames,
    frames,
    lastSeq: last?.seq ?? w * frames + frames - 1,
    lastPtsMs: last?.ptsMs ?? 0,
    lastWallMs: last?.wallMs ?? 0,
    rows,
    scores: rows.map(() => 0),
  };
}

/** Windows pushed by the test, one at a time. */
const channel = () => pushable<FeatureWindow>();

const settle = () => new Promise((r) => setTimeout(r, 50));

describe('questions over several streams', () => {
  it('property: totalTokens never exceeds the budget; evidence names only the streams asked, in wall-clock order', async () => {
    const r = seededRandom(7);
    for (let trial = 0; trial < 30; trial++) {
      const budget = 700 + Math.floor(r() * 7500);
      const engine = await Engine.create({
        longvu: { contextTokens: budget, maxFrames: 40 + Math.floor(r() * 400) },
        retention: { maxFrames: 400 },
      });
      try {
        const n = 2 + Math.floor(r() * 3);
        const ids = Array.from({ length: n }, (_, i) => `s${i}`);
        for (const [k, id] of ids.entries()) {
          const frames = 1 + Math.floor(r() * 150);
          const rows = Array.from({ length: frames }, (_, i) =>
            row(id, i, 1e12 + i * 1000 + k * 333 + Math.floor(r() * 500), r(), r),
          );
          engine.addStream({
            id,
            source: {
              windows: (async function* () {
                yield window(id, 0, rows, frames);
              })(),
            },
          });
          await engine.whenDone(id);
        }
        const asked = ids.slice(0, 2 + Math.floor(r() * (n - 1)));
        const res = await engine.queryStreams(asked, {
          question: 'Is anything red here?'.repeat(1 + Math.floor(r() * 20)),
        });
        expect(res.totalTokens).toBeLessThanOrEqual(budget);
        expect(res.budgetTokens).toBe(budget);
        expect(res.streams).toEqual(asked);
        const seen = [...res.evidence.highRes, ...res.evidence.topScored];
        expect(seen.every((f) => asked.includes(f.streamId))).toBe(true);
        const walls = res.evidence.highRes.map((f) => f.wallMs);
        expect(walls).toEqual([...walls].sort((a, b) => a - b));
      } finally {
        await engine.close();
      }
    }
  }, 120_000);

  it('answers streams of different frame sizes together, each frame at its own layout', async () => {
    const engine = await Engine.create();
    const r = seededRandom(1);
    try {
      for (const [id, hw] of [
        ['wide', [180, 320]],
        ['square', [240, 240]],
      ] as const) {
        const rows = [row(id, 0, 1e12, 1, r, [...hw]), row(id, 1, 1e12 + 1000, 1, r, [...hw])];
        engine.addStream({
          id,
          source: {
            windows: (async function* () {
              yield window(id, 0, rows);
            })(),
          },
        });
        await engine.whenDone(id);
      }
      const q = await engine.queryStreams(['wide', 'square'], { question: 'red?' });
      expect(q.frames).toBe(4);
      expect(Object.keys(q.evidence.byStream ?? {}).sort()).toEqual(['square', 'wide']);
      // high mode: every frame whole, each at its own size's layout (a 16:9 frame has fewer cells after unpad)
      const o = engine.longvu;
      const per = (hw: [number, number]) =>
        tokenGridLayout(o.highGridSide, hw, o.unpad, o.newlineToken).perFrame;
      expect(q.mode).toBe('high');
      expect(per([180, 320])).toBeLessThan(per([240, 240]));
      expect(q.visualTokens).toBe(2 * per([180, 320]) + 2 * per([240, 240]));
      expect(q.totalTokens).toBeLessThanOrEqual(q.budgetTokens);
    } finally {
      await engine.close();
    }
  });
});

describe('alerts (when: scoreAbove)', () => {
  it('fire once per event: hysteresis over quiet windows, and the fired state survives a restart', async () => {
    const stateFile = join(dir, 'standing.json');
    const r = seededRandom(3);
    const run = async (levels: (number | null)[]) => {
      const engine = await Engine.create();
      const ch = channel();
      engine.addStream({ id: 'cam', source: { windows: ch } });
      const standing = new StandingQuestions(engine, { stateFile });
      const got: StandingAnswer[] = [];
      standing.answers$.subscribe((a) => got.push(a));
      const score = await engine.frameScorer('Is it red?');
      const hi = score.row(row('cam', 0, 0, 1, r));
      const lo = score.row(row('cam', 0, 0, 0, r));
      expect(hi).toBeGreaterThan(lo);
      standing.add({ stream: 'cam', question: 'Is it red?', when: { scoreAbove: (hi + lo) / 2 } });
      let seq = 0;
      for (const [w, level] of levels.entries()) {
        // a window with one kept frame at `level`, or none (null: nothing new)
        const rows = level === null ? [] : [row('cam', (seq += 16), 1e12 + seq * 1000, level, r)];
        ch.push(window('cam', w, rows));
        await settle();
      }
      for (let i = 0; i < 5; i++) await settle(); // the last alert's answer
      ch.end();
      standing.close();
      await engine.close();
      return got;
    };
    // fires at window 1; 2 is still red; 3 quiet; 4 red again before two quiet windows: no new alert;
    // 5, 6 quiet (one of them without kept frames) re-arm; 7 fires again
    const got = await run([0, 1, 1, 0, 1, 0, null, 1]);
    expect(got.map((a) => a.trigger)).toEqual(['alert', 'alert']);
    expect(got.map((a) => a.alert!.window)).toEqual([1, 7]);
    expect(got[0]!.result?.evidence.topScored.length).toBeGreaterThan(0);
    // the last window fired: after a restart the event under way does not fire again, its end re-arms it
    const after = await run([1, 0, 0, 1]);
    expect(after.map((a) => a.alert!.window)).toEqual([3]);
  }, 60_000);
});

describe('keepEndedFor, purge and unreadable state', () => {
  it('a removed stream stays queryable until keepEndedFor, then is forgotten with its saved state', async () => {
    const stateDir = join(dir, 'keep');
    const events: LvuEvent[] = [];
    const engine = await Engine.create({ stateDir, checkpointSeconds: 0.1, keepEndedFor: '600ms' });
    engine.events.on((e) => events.push(e));
    const r = seededRandom(5);
    try {
      const rows = [row('old', 0, 1e12, 1, r), row('old', 1, 1e12 + 1000, 0, r)];
      engine.addStream({
        id: 'old',
        source: {
          windows: (async function* () {
            yield window('old', 0, rows);
          })(),
        },
      });
      await engine.whenDone('old');
      await engine.flushState();
      expect(existsSync(join(stateDir, 'streams/old.arrow'))).toBe(true);
      await engine.removeStream('old');
      expect(engine.status('old')).toMatchObject({ state: 'ended', endedAtMs: expect.any(Number) });
      expect((await engine.query('old', { question: 'red?' })).frames).toBe(2);
      for (let i = 0; i < 40 && engine.listStreams().length; i++)
        await new Promise((res) => setTimeout(res, 100));
      expect(engine.listStreams()).toEqual([]);
      await engine.flushState();
      expect(existsSync(join(stateDir, 'streams/old.arrow'))).toBe(false);
      expect(events.some((e) => e.type === 'stream.removed' && e.streamId === 'old')).toBe(true);
    } finally {
      await engine.close();
    }
  });

  it('purge forgets at once, spill included; an unreadable saved state is set aside and reported', async () => {
    const stateDir = join(dir, 'purge');
    const spill = join(dir, 'purge-spill');
    const r = seededRandom(6);
    const first = await Engine.create({ stateDir, spill: { dir: spill, segmentFrames: 1 } });
    for (const id of ['a', 'b']) {
      const rows = [row(id, 0, 1e12, 1, r), row(id, 1, 1e12 + 1000, 0, r)];
      first.addStream({
        id,
        source: {
          windows: (async function* () {
            yield window(id, 0, rows);
          })(),
        },
      });
      await first.whenDone(id);
    }
    await first.removeStream('a', { purge: true });
    await first.flushState();
    expect(existsSync(join(spill, 'a'))).toBe(false);
    // a's snapshot and seq reservation are gone, b's are kept
    expect(readdirSync(join(stateDir, 'streams')).sort()).toEqual(['b.arrow', 'b.seq']);
    await first.close();
    // a file that is not a snapshot where one should be
    mkdirSync(join(stateDir, 'streams'), { recursive: true });
    writeFileSync(join(stateDir, 'streams/c.arrow'), 'not arrow at all');
    const second = await Engine.create({ stateDir });
    const events: LvuEvent[] = [];
    second.events.on((e) => events.push(e));
    try {
      const r2 = second.resume([]);
      expect(r2.held).toEqual(['b']);
      expect(second.status('b')).toMatchObject({ state: 'ended', restored: { fromStateDir: true } });
      expect(second.frames('b').map((f) => f.seq)).toEqual([0, 1]);
      expect(events).toContainEqual(expect.objectContaining({ type: 'state.unreadable', streamId: 'c' }));
      expect(readdirSync(join(stateDir, 'streams')).some((f) => f.startsWith('c.arrow.unreadable-'))).toBe(
        true,
      );
    } finally {
      await second.close();
    }
  });
});
