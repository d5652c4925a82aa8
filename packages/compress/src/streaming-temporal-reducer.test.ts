import { describe, expect, it } from 'vitest';
import { StreamingTemporalReducer } from './streaming-temporal-reducer.js';
import { temporalReduce } from './temporal-reduce.js';

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1103515245 + 12345) >>> 0;
    return s / 2 ** 32;
  };
}

/** Scenes of near-identical frames with noise, so that some frames are dropped and some kept. */
function randomStream(r: () => number, T: number, dim: number): Float32Array[] {
  const out: Float32Array[] = [];
  let base = Float32Array.from({ length: dim }, () => r() - 0.5);
  for (let t = 0; t < T; t++) {
    if (r() < 0.15) base = Float32Array.from({ length: dim }, () => r() - 0.5);
    const noise = r() * 0.8;
    out.push(base.map((v) => v + (r() - 0.5) * noise));
  }
  return out;
}

describe('StreamingTemporalReducer', () => {
  it('property: pushing frames one at a time keeps exactly the frames the offline function keeps', () => {
    const r = rng(2024);
    for (let trial = 0; trial < 200; trial++) {
      const T = Math.floor(r() * 90);
      const windowFrames = [1, 2, 3, 8, 16, 16, 16][Math.floor(r() * 7)]!;
      const threshold = 0.5 + r() * 0.45;
      const frames = randomStream(r, T, 1 + Math.floor(r() * 40));
      const red = new StreamingTemporalReducer<number>(windowFrames, threshold);
      const kept: number[] = [];
      const items: number[] = [];
      const collect = (w: ReturnType<typeof red.flush>) => {
        for (const k of w?.kept ?? []) {
          kept.push(k.index);
          items.push(k.item);
        }
      };
      frames.forEach((f, i) => {
        collect(red.push(f, i * 10));
      });
      collect(red.flush());
      const offline = temporalReduce(frames, windowFrames, threshold).kept;
      expect(kept).toEqual(offline);
      expect(items).toEqual(offline.map((i) => i * 10));
      expect(red.pushed).toBe(T);
      expect(red.pending).toBe(0);
    }
  });

  it('emits windows aligned to the stream start, each with its scores', () => {
    const red = new StreamingTemporalReducer(4, 0.83);
    const x = Float32Array.from([1, 1]);
    const closed = [];
    for (let i = 0; i < 10; i++) {
      const w = red.push(x, i);
      if (w) closed.push(w);
    }
    expect(closed.map((w) => [w.window, w.start, w.frames])).toEqual([
      [0, 0, 4],
      [1, 4, 4],
    ]);
    expect(closed[0]!.kept.map((k) => k.index)).toEqual([2]);
    const tail = red.flush()!;
    expect([tail.window, tail.start, tail.frames, tail.kept.map((k) => k.index)]).toEqual([2, 8, 2, [9]]);
    expect(red.flush()).toBeNull();
  });

  it('rejects a NaN frame before it enters the window, leaving the window intact', () => {
    const red = new StreamingTemporalReducer(2, 0.83);
    red.push(Float32Array.from([1, 0]), 'a');
    expect(() => red.push(Float32Array.from([Number.NaN, 0]), 'bad')).toThrow(
      expect.objectContaining({ code: 'NON_FINITE_INPUT' }),
    );
    expect(() => red.push(Float32Array.from([1, 0, 0]), 'bad')).toThrow(
      expect.objectContaining({ code: 'SHAPE_MISMATCH' }),
    );
    const w = red.push(Float32Array.from([0, 1]), 'b')!;
    expect(w.kept.map((k) => k.item)).toEqual(['a', 'b']);
  });
});
