import { describe, expect, it } from 'vitest';
import {
  assertFiniteFrame,
  type ContextFrame,
  composeContext,
  materializeVisual,
} from './compose-context.js';
import { longVuOptions } from './longvu-options.js';

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

function randomFrames(
  r: () => number,
  n: number,
  hiSide: number,
  loSide: number,
  dim: number,
): ContextFrame[] {
  return Array.from({ length: n }, (_, i) => ({
    id: 100 + i,
    hi: Float32Array.from({ length: hiSide * hiSide * dim }, r),
    lo: Float32Array.from({ length: loSide * loSide * dim }, r),
  }));
}

/**
 * Ten 4×4/2×2 frames of width 2 (ids 0, 1000, …): frame 2's low tokens point along the question, frame 7's half
 * way, the others away from it.
 */
function mixInput() {
  const dim = 2;
  const frames: ContextFrame[] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => ({
    id: i * 1000,
    hi: new Float32Array(16 * dim).fill(i === 2 ? 1 : -1),
    lo: new Float32Array(4 * dim).fill(i === 2 ? 1 : i === 7 ? 0.5 : -1),
  }));
  return {
    frames,
    dim,
    newline: Float32Array.from([0, 0]),
    frameHW: [384, 384] as const,
    textPreLen: 10,
    textPost: Float32Array.from([1, 1, 1, 1]),
  };
}

describe('composeContext', () => {
  it('property: the visual tokens never exceed B (when B ≥ 0) and the sequence never exceeds the context', () => {
    const r = rng(99);
    for (let trial = 0; trial < 300; trial++) {
      const hiSide = 2 + Math.floor((r() + 0.5) * 5);
      const loSide = 1 + Math.floor((r() + 0.5) * (hiSide - 1));
      const dim = 2 + Math.floor((r() + 0.5) * 6);
      const n = Math.floor((r() + 0.5) * 70);
      const o = longVuOptions({
        contextTokens: 20 + Math.floor((r() + 0.5) * 3000),
        highGridSide: hiSide,
        lowGridSide: loSide,
        stcThreshold: 0.3 + (r() + 0.5) * 0.6,
        stcChunkFrames: 1 + Math.floor((r() + 0.5) * 10),
        unpad: (['official', 'geometric', 'none'] as const)[trial % 3]!,
        newlineToken: trial % 4 !== 0,
      });
      const lq = 1 + Math.floor((r() + 0.5) * 60);
      const input = {
        frames: randomFrames(r, n, hiSide, loSide, dim),
        dim,
        newline: Float32Array.from({ length: dim }, r),
        frameHW: [
          [384, 384],
          [720, 1280],
          [1280, 720],
          [480, 640],
        ][trial % 4] as [number, number],
        textPreLen: Math.floor((r() + 0.5) * 40),
        textPost: Float32Array.from({ length: lq * dim }, r),
      };
      const c = composeContext(input, o);
      if (c.maxVisualLen >= 0) expect(c.finalVisualLen).toBeLessThanOrEqual(c.maxVisualLen);
      expect(c.finalSeqLen).toBeLessThanOrEqual(o.contextTokens);
      expect(c.layout.reduce((s, e) => s + e.n, 0)).toBe(c.finalVisualLen);
      // layout is in time order and only names frames that were given
      expect(c.layout.map((e) => e.pos)).toEqual([...c.layout.map((e) => e.pos)].sort((a, b) => a - b));
      const v = materializeVisual(c, dim, input.newline);
      expect(v.length).toBe(c.finalVisualLen * dim);
    }
  });

  it('mix mode upgrades the N_h frames that score best against the question', () => {
    const o = longVuOptions({ contextTokens: 400, highGridSide: 4, lowGridSide: 2 });
    const input = mixInput();
    // A = 400 − 13 − 16 = 371: mnf = 23 > 10 frames → high mode. Lower the context to reach mix:
    expect(composeContext(input, o).mode.mode).toBe('high');
    const m = composeContext(input, longVuOptions({ contextTokens: 120, highGridSide: 4, lowGridSide: 2 }));
    // A = 120 − 13 − 16 = 91: mnf = 5, mnf_low = 22 → mix. B = 120 − 16 − 12 = 92; lo 6/frame, hi 20/frame:
    // N_h = floor((92 − 60) / 14) = 2 → frames 2 and 7.
    expect(m.mode.mode).toBe('mix');
    expect(m.qgs).toMatchObject({ highresNum: 2, highresPositions: [2, 7], highresFrames: [2000, 7000] });
    expect(m.frameRes.join('')).toBe('LLHLLLLHLL');
    expect(m.finalVisualLen).toBe(8 * 6 + 2 * 20);
  });

  it('recentHigh gives the last frames the N_h slots first, the rest to the best scores, at the same cost', () => {
    const o = longVuOptions({ contextTokens: 120, highGridSide: 4, lowGridSide: 2 });
    const input = mixInput();
    const plain = composeContext(input, o);
    const one = composeContext({ ...input, recentHigh: 1 }, o);
    // N_h = 2: the newest frame (9) and the best-scoring one (2)
    expect(one.qgs).toMatchObject({ highresNum: 2, highresPositions: [2, 9] });
    expect(one.finalVisualLen).toBe(plain.finalVisualLen);
    // more recent frames than slots: the newest N_h
    expect(composeContext({ ...input, recentHigh: 5 }, o).qgs?.highresPositions).toEqual([8, 9]);
    expect(composeContext({ ...input, recentHigh: 0 }, o).qgs?.highresPositions).toEqual([2, 7]);
  });

  it('names the offending field on bad input', () => {
    const o = longVuOptions();
    const base = {
      frames: [],
      dim: 4,
      newline: new Float32Array(4),
      frameHW: [384, 384] as [number, number],
      textPreLen: 3,
      textPost: new Float32Array(8),
    };
    expect(() => composeContext({ ...base, frames: [{ id: 0, hi: new Float32Array(5) }] }, o)).toThrow(
      expect.objectContaining({ code: 'SHAPE_MISMATCH', field: 'frames[0].hi' }),
    );
    expect(() => composeContext({ ...base, textPost: new Float32Array(7) }, o)).toThrow(
      expect.objectContaining({ code: 'SHAPE_MISMATCH', field: 'textPost' }),
    );
    expect(() => composeContext({ ...base, newline: null }, o)).toThrow(
      expect.objectContaining({ field: 'newline' }),
    );
    expect(() => composeContext({ ...base, textPost: Float32Array.from([Number.NaN, 0, 0, 0]) }, o)).toThrow(
      expect.objectContaining({ code: 'NON_FINITE_INPUT', field: 'textPost' }),
    );
    expect(() => composeContext({ ...base, frameHW: [0, 10] }, o)).toThrow(
      expect.objectContaining({ field: 'frameHW' }),
    );
    expect(() => composeContext({ ...base, dim: 0 }, o)).toThrow(expect.objectContaining({ field: 'dim' }));
  });

  it('an empty context gives an empty layout; NaN in a passed-through frame is caught when materialised', () => {
    const o = longVuOptions();
    const base = {
      dim: 1,
      newline: new Float32Array(1),
      frameHW: [384, 384] as [number, number],
      textPreLen: 3,
      textPost: new Float32Array(2),
    };
    const empty = composeContext({ ...base, frames: [] }, o);
    expect(empty).toMatchObject({ finalVisualLen: 0, layout: [], stc: null, qgs: null });
    const bad = new Float32Array(144);
    bad[17] = Number.NaN;
    const c = composeContext({ ...base, frames: [{ id: 0, hi: bad }] }, o);
    expect(() => materializeVisual(c, 1, base.newline)).toThrow(
      expect.objectContaining({ code: 'NON_FINITE_INPUT' }),
    );
  });
});

describe('assertFiniteFrame', () => {
  it('accepts finite grids and names the grid holding NaN or Infinity', () => {
    expect(() =>
      assertFiniteFrame({ id: 3, hi: new Float32Array(4), lo: new Float32Array(2) }),
    ).not.toThrow();
    expect(() =>
      assertFiniteFrame({ id: 3, hi: new Float32Array(4), lo: Float32Array.of(0, Number.NaN) }),
    ).toThrow(expect.objectContaining({ code: 'NON_FINITE_INPUT', field: 'frame 3.lo' }));
    expect(() =>
      assertFiniteFrame({ id: 4, hi: Float32Array.of(Number.NEGATIVE_INFINITY) }, 'cam1#4'),
    ).toThrow(expect.objectContaining({ field: 'cam1#4.hi' }));
  });
});
