import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { reduceWindows } from './reduce-windows.js';
import { scored, testFrame } from './test-frames.js';

const scheduler = () => new TestScheduler((a, b) => expect(a).toEqual(b));

/** What a test looks at of a window: kept seqs and the last frame. */
const shape = (w: {
  window: number;
  frames: number;
  kept: { item: { frame: { seq: number } } }[];
  lastSeq: number;
}) => ({
  window: w.window,
  frames: w.frames,
  kept: w.kept.map((k) => k.item.frame.seq),
  lastSeq: w.lastSeq,
});

describe('reduceWindows', () => {
  it('closes a window every windowFrames frames and keeps the frames unlike their window', () => {
    scheduler().run(({ cold, expectObservable }) => {
      // window 0: frames 0-3 along axes 0,0,0,1 → frame 3 differs; window 1: 4-7 all along axis 2
      const items = { a: scored(0, 0), b: scored(1, 0), c: scored(2, 0), d: scored(3, 1) };
      const more = { e: scored(4, 2), f: scored(5, 2), g: scored(6, 2), h: scored(7, 2) };
      const out = cold('abcdefgh|', { ...items, ...more }).pipe(reduceWindows(4, 0.83));
      const windows: unknown[] = [];
      out.subscribe((w) => windows.push(shape(w)));
      expectObservable(out).toBe('---x---y|', {
        x: expect.objectContaining({ window: 0, frames: 4, lastSeq: 3 }),
        y: expect.objectContaining({ window: 1, frames: 4, lastSeq: 7 }),
      });
    });
  });

  it('keeps what LongVU keeps: frames whose mean cosine to their window is below the threshold', () => {
    const windows: ReturnType<typeof shape>[] = [];
    scheduler().run(({ cold }) => {
      // window 0: seven frames alike (mean cosine 7/8 > 0.83, dropped) and one that differs (1/8, kept), plus
      // the window's middle frame;
      // window 1: four and four (mean 4/8 each: all kept)
      const w0 = Object.fromEntries([...'abcdefgh'].map((c, i) => [c, scored(i, i === 5 ? 1 : 0)]));
      const w1 = Object.fromEntries([...'ijklmnop'].map((c, i) => [c, scored(8 + i, i < 4 ? 2 : 3)]));
      cold('abcdefghijklmnop|', { ...w0, ...w1 })
        .pipe(reduceWindows(8, 0.83))
        .subscribe((w) => windows.push(shape(w)));
    });
    expect(windows[0]!.kept).toEqual([4, 5]); // and the middle frame, which LongVU always keeps
    expect(windows[1]!.kept).toEqual([8, 9, 10, 11, 12, 13, 14, 15]);
  });

  it('closes the open window at a session-end marker and on completion, with the last real frame', () => {
    const windows: ReturnType<typeof shape>[] = [];
    scheduler().run(({ cold }) => {
      const end = { frame: testFrame(99, { sessionEnd: true }), dino: new Float32Array(0) };
      cold('abm-cd|', { a: scored(0, 0), b: scored(1, 1), m: end, c: scored(2, 0), d: scored(3, 3) })
        .pipe(reduceWindows(4, 0.83))
        .subscribe((w) => windows.push(shape(w)));
    });
    expect(windows.map((w) => [w.window, w.frames, w.lastSeq])).toEqual([
      [0, 2, 1],
      [1, 2, 3],
    ]);
  });

  it('errors the stream on a NaN vector', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const bad = { frame: testFrame(0), dino: new Float32Array([Number.NaN, 0, 0, 0]) };
      expectObservable(cold('a|', { a: bad }).pipe(reduceWindows(4, 0.83))).toBe(
        '#',
        undefined,
        expect.objectContaining({ code: expect.any(String) }),
      );
    });
  });
});
