import { describe, expect, it } from 'vitest';
import {
  assertFiniteFrame,
  type ContextFrame,
  composeContext,
  materializeVisual,
} from './compose-context.js';
import { longVuOptions } from './longvu-options.js';
import { tokenGridLayout } from './token-grid.js';
import { lowResImageSize } from './unpad.js';

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

describe('composeContext over frames of several sizes (cameras of any resolution in one question)', () => {
  const SIZES: [number, number][] = [
    [576, 768],
    [720, 1280],
    [1080, 1920],
    [480, 640],
    [1280, 720],
    [384, 384],
    [240, 1600],
  ];

  it('property: every frame keeps its own layout, the budget holds, the visual matrix is whole', () => {
    const r = rng(7);
    for (let trial = 0; trial < 300; trial++) {
      const hiSide = 2 + Math.floor((r() + 0.5) * 6);
      const loSide = 1 + Math.floor((r() + 0.5) * (hiSide - 1));
      const dim = 2 + Math.floor((r() + 0.5) * 5);
      const n = 1 + Math.floor((r() + 0.5) * 60);
      const o = longVuOptions({
        contextTokens: 40 + Math.floor((r() + 0.5) * 3000),
        highGridSide: hiSide,
        lowGridSide: loSide,
        stcThreshold: 0.3 + (r() + 0.5) * 0.6,
        stcChunkFrames: 1 + Math.floor((r() + 0.5) * 8),
        unpad: (['official', 'geometric', 'none'] as const)[trial % 3]!,
        newlineToken: trial % 4 !== 0,
      });
      const cams = 1 + Math.floor((r() + 0.5) * 4);
      const camSize = Array.from({ length: cams }, () => SIZES[Math.floor((r() + 0.5) * SIZES.length)]!);
      const frames = randomFrames(r, n, hiSide, loSide, dim).map((f) => {
        const cam = Math.floor((r() + 0.5) * cams);
        return { ...f, hw: camSize[cam]!, group: `cam${cam}` };
      });
      const lq = 1 + Math.floor((r() + 0.5) * 40);
      const input = {
        frames,
        dim,
        newline: Float32Array.from({ length: dim }, r),
        frameHW: frames[0]!.hw,
        textPreLen: Math.floor((r() + 0.5) * 30),
        textPost: Float32Array.from({ length: lq * dim }, r),
      };
      const c = composeContext(input, o);
      if (c.maxVisualLen >= 0) expect(c.finalVisualLen).toBeLessThanOrEqual(c.maxVisualLen);
      expect(c.finalSeqLen).toBeLessThanOrEqual(o.contextTokens);
      expect(c.layout.reduce((s, e) => s + e.n, 0)).toBe(c.finalVisualLen);
      for (const e of c.layout) {
        // the layout of this frame's own size, at the resolution it was given
        const own = composeContext({ ...input, frames: [frames[e.pos]!], frameHW: frames[e.pos]!.hw }, o);
        const g = e.res === 'H' ? own.hi : (own.lo ?? tokenLayoutLow(frames[e.pos]!.hw, o));
        expect([e.h, e.w], `trial ${trial} frame ${e.pos}`).toEqual([g.h, g.w]);
        expect(e.n).toBeLessThanOrEqual(g.perFrame);
        expect(c.sources[c.layout.indexOf(e)]!.layout.perFrame).toBe(g.perFrame);
      }
      expect(materializeVisual(c, dim, input.newline).length).toBe(c.finalVisualLen * dim);
    }
  });

  it('frames of one size given their size are composed exactly as LongVU composes them', () => {
    const r = rng(11);
    for (let trial = 0; trial < 60; trial++) {
      const o = longVuOptions({
        contextTokens: 100 + Math.floor((r() + 0.5) * 2000),
        highGridSide: 4,
        lowGridSide: 2,
        stcChunkFrames: 1 + (trial % 5),
      });
      const hw = SIZES[trial % SIZES.length]!;
      const base = {
        frames: randomFrames(r, 5 + (trial % 40), 4, 2, 3),
        dim: 3,
        newline: Float32Array.from({ length: 3 }, r),
        frameHW: hw,
        textPreLen: 12,
        textPost: Float32Array.from({ length: 9 }, r),
      };
      const plain = composeContext(base, o);
      const sized = composeContext({ ...base, frames: base.frames.map((f) => ({ ...f, hw })) }, o);
      expect(sized.layout).toEqual(plain.layout);
      expect(sized.qgs).toEqual(plain.qgs);
      expect(sized.stc).toEqual(plain.stc);
    }
  });

  it('an upgrade costs its own frame: a wide camera and a 4:3 one share N_h by their costs', () => {
    // B = 59; the low-resolution context takes 10 × 4 = 40, leaving 19: a wide frame's upgrade costs 8 − 4, a
    // square one's 16 − 4
    const o = longVuOptions({ contextTokens: 86, highGridSide: 4, lowGridSide: 2, newlineToken: false });
    const dim = 2;
    // frames 0–4 wide (1280×720: unpad removes rows of the high grid), 5–9 square (384×384: all 16 cells)
    const frames: ContextFrame[] = Array.from({ length: 10 }, (_, i) => ({
      id: i,
      hi: new Float32Array(16 * dim).fill(-1),
      lo: new Float32Array(4 * dim).fill(i === 1 || i === 8 ? 1 : -1),
      hw: i < 5 ? ([720, 1280] as const) : ([384, 384] as const),
      group: i < 5 ? 'wide' : 'square',
    }));
    const c = composeContext(
      {
        frames,
        dim,
        newline: null,
        frameHW: [720, 1280],
        textPreLen: 10,
        textPost: Float32Array.from([1, 1]),
      },
      o,
    );
    expect(c.mode.mode).toBe('mix');
    // the two frames that point along the question go high, one of each camera, each at its own layout (4 + 12
    // of the 19); the next in line (frame 0, 4 more) no longer fits
    expect(c.maxVisualLen).toBe(59);
    expect(c.qgs?.highresPositions).toEqual([1, 8]);
    const wide = c.layout.find((e) => e.pos === 1)!;
    const square = c.layout.find((e) => e.pos === 8)!;
    expect([wide.res, square.res]).toEqual(['H', 'H']);
    expect(wide.h * wide.w).toBeLessThan(square.h * square.w);
    expect(square.n).toBe(16);
    expect(c.finalVisualLen).toBeLessThanOrEqual(c.maxVisualLen);
  });

  it('STC compares a frame only with frames of its own camera', () => {
    const o = longVuOptions({
      contextTokens: 30,
      highGridSide: 2,
      lowGridSide: 1,
      highres: false,
      stcChunkFrames: 4,
      newlineToken: false,
      unpad: 'none',
    });
    const dim = 2;
    const a = Float32Array.from([1, 0, 1, 0, 1, 0, 1, 0]);
    const b = Float32Array.from([0, 1, 0, 1, 0, 1, 0, 1]);
    // interleaved cameras whose frames repeat: each camera's second frame is dropped by STC, never kept because
    // the other camera's frame in between differs
    const frames: ContextFrame[] = [a, b, a, b].map((hi, i) => ({ id: i, hi, group: hi === a ? 'A' : 'B' }));
    const input = {
      frames,
      dim,
      newline: null,
      frameHW: [10, 10] as const,
      textPreLen: 2,
      textPost: a.subarray(0, 2),
    };
    // 16 tokens for a budget of 11: STC applies; each camera's repeat goes, both first frames stay whole (compared
    // across cameras, frame 3 would differ from frame 0 and stay, and the budget step would cut)
    const c = composeContext(input, longVuOptions({ ...o, contextTokens: 30 }));
    expect(c.maxVisualLen).toBe(11);
    expect(c.stc).toMatchObject({ reducedLen: 8, forceRemove: 0 });
    expect(c.layout.map((e) => [e.pos, e.n])).toEqual([
      [0, 4],
      [1, 4],
    ]);
  });
});

function tokenLayoutLow(hw: readonly [number, number], o: ReturnType<typeof longVuOptions>) {
  return tokenGridLayout(
    o.lowGridSide,
    lowResImageSize(hw, o.highGridSide, o.lowGridSide),
    o.unpad,
    o.newlineToken,
  );
}
