import { LvuError } from '@lvu/core';
import { describe, expect, it } from 'vitest';
import { longVuOptions } from './longvu-options.js';
import { selectFrames, temporalReduce, uniformCap, windowScores } from './temporal-reduce.js';

/** Brute force of §a: mean over j of cos(x_i, x_j), self included, then sim[n//2] = 0. */
function bruteScores(frames: Float64Array[]): number[] {
  const n = frames.length;
  const norm = (a: Float64Array) => Math.sqrt(a.reduce((s, v) => s + v * v, 0));
  return frames.map((a, i) => {
    if (i === n >> 1) return 0;
    let s = 0;
    for (const b of frames) s += a.reduce((acc, v, k) => acc + v * b[k]!, 0) / (norm(a) * norm(b));
    return s / n;
  });
}

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

describe('windowScores', () => {
  it('equals the mean pairwise cosine with the frame itself included', () => {
    const r = rng(7);
    for (const n of [1, 2, 3, 7, 16]) {
      const frames = Array.from({ length: n }, () => Float64Array.from({ length: 5000 }, r));
      const got = Array.from(windowScores(frames));
      bruteScores(frames).forEach((v, i) => {
        expect(got[i]).toBeCloseTo(v, 12);
      });
    }
  });

  it('hand-checkable: x, x, -x gives (1+1-1)/3 for the outer frames', () => {
    const x = Float64Array.from([1, 2, 3]);
    const y = Float64Array.from([-1, -2, -3]);
    const s = windowScores([x, x, y]);
    expect(s[0]).toBeCloseTo(1 / 3, 15);
    expect(s[1]).toBe(0); // middle frame forced
    expect(s[2]).toBeCloseTo(-1 / 3, 15);
  });

  it('an all-zero frame makes the whole window NaN (no epsilon), as the official code', () => {
    const s = windowScores([Float64Array.from([1, 0]), new Float64Array(2), Float64Array.from([0, 1])]);
    expect(Number.isNaN(s[0])).toBe(true);
    expect(s[1]).toBe(0);
    expect(Number.isNaN(s[2])).toBe(true);
  });

  it('rejects NaN/Infinity and mismatched lengths with a coded error naming the frame', () => {
    const bad = Float32Array.from([1, Number.NaN]);
    expect(() => windowScores([Float32Array.from([1, 2]), bad])).toThrow(
      expect.objectContaining({ code: 'NON_FINITE_INPUT', field: 'dino[1]' }),
    );
    const inf = Float32Array.from([1, Number.POSITIVE_INFINITY]);
    expect(() => windowScores([inf])).toThrow(LvuError);
    expect(() => windowScores([Float32Array.from([1, 2]), Float32Array.from([1])])).toThrow(
      expect.objectContaining({ code: 'SHAPE_MISMATCH', field: 'dino[1]' }),
    );
  });
});

describe('temporalReduce', () => {
  it('keeps only the middle frame of windows of identical frames, including a partial last window', () => {
    const x = Float32Array.from([3, 1, 2]);
    const frames = Array.from({ length: 40 }, () => x);
    expect(temporalReduce(frames, 16, 0.83).kept).toEqual([8, 24, 36]);
  });

  it('applies the threshold strictly (score == threshold is dropped)', () => {
    // window of 2: frame 1 forced; frame 0 kept iff (1 + cos)/2 < thr. cos = 0 gives exactly 0.5.
    const frames = [Float64Array.from([1, 0]), Float64Array.from([0, 1])];
    expect(temporalReduce(frames, 16, 0.5).kept).toEqual([1]);
    expect(temporalReduce(frames, 16, 0.5000001).kept).toEqual([0, 1]);
  });

  it('a window of one frame keeps it; no frames gives nothing', () => {
    expect(temporalReduce([Float32Array.from([1])], 16, 0.83).kept).toEqual([0]);
    expect(temporalReduce([], 16, 0.83)).toEqual({ kept: [], windowScores: [] });
  });
});

describe('uniformCap', () => {
  it('keeps int((n/cap)*i)', () => {
    expect(uniformCap(450, 400).slice(0, 10)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 9, 10]);
    expect(uniformCap(10, 4)).toEqual([0, 2, 5, 7]);
    expect(uniformCap(4, 4)).toEqual([0, 1, 2, 3]);
  });
});

describe('selectFrames', () => {
  const frames = (n: number) => Array.from({ length: n }, () => Float32Array.from([1, 2]));

  it('skips reduction when T < max(1, A // 64) (the budget gate)', () => {
    const o = longVuOptions();
    // A = 8192 − 40 − 16 = 8136 → 127 frames
    expect(selectFrames(frames(126), 40, o)).toMatchObject({ budgetFrames: 127, dinoApplied: false });
    expect(selectFrames(frames(127), 40, o)).toMatchObject({ budgetFrames: 127, dinoApplied: true });
    // a 6000-token prompt lowers the gate to 34 frames
    expect(selectFrames(frames(10), 6000, o).budgetFrames).toBe(34);
    // text longer than the context: the gate clamps to 1 frame
    expect(selectFrames(frames(3), 9000, o)).toMatchObject({ budgetFrames: 1, dinoApplied: true });
  });

  it('uses the high-res token count in the gate when highres is off', () => {
    const o = longVuOptions({ highres: false });
    expect(selectFrames(frames(1), 40, o).tokensPerFrameForBudget).toBe(144);
  });

  it('caps to maxFrames only in the windowed branch', () => {
    const r = rng(3);
    const distinct = Array.from({ length: 40 }, () => Float64Array.from({ length: 64 }, r));
    const o = longVuOptions({ contextTokens: 64, maxFrames: 10 });
    const s = selectFrames(distinct, 10, o);
    expect(s.keptAfterDino).toHaveLength(40);
    expect(s.capApplied).toBe(true);
    expect(s.selected).toEqual(uniformCap(40, 10).map((p) => p));
    // T < window: one window, never capped
    const few = selectFrames(distinct.slice(0, 12), 10, longVuOptions({ contextTokens: 64, maxFrames: 5 }));
    expect(few.capApplied).toBe(false);
    expect(few.selected).toHaveLength(12);
  });
});
