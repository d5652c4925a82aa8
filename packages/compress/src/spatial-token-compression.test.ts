import { describe, expect, it } from 'vitest';
import { spatialTokenCompression } from './spatial-token-compression.js';
import { tokenGridLayout } from './token-grid.js';

const dim = 2;
const layout = tokenGridLayout(2, [10, 10], 'official', true); // 6 tokens: 4 cells + 2 newlines
const newline = Float64Array.from([0, 1]);

function frame(cells: number[][]): Float64Array {
  return Float64Array.from(cells.flat());
}

/** A frame whose four cells point in four directions. */
const a = frame([
  [1, 0],
  [0, 1],
  [1, 1],
  [1, -1],
]);

describe('spatialTokenCompression', () => {
  it('keeps the first frame whole and prunes follower tokens with cos ≥ θ (newlines always pruned)', () => {
    const b = frame([
      [2, 0], // cos 1 → pruned
      [1, 0], // cos 0 → kept
      [1, 1.2], // cos ≈ 0.996 → pruned
      [-1, 1], // cos −1 → kept
    ]);
    const r = spatialTokenCompression([a, b], layout, newline, dim, 1000, 0.7, 8, 1e-8);
    expect(r).toMatchObject({ nChunks: 1, reducedLen: 6 + 2, forceRemove: 0 });
    expect(Array.from(r.kept[0]!)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(Array.from(r.kept[1]!)).toEqual([1, 4]); // token 1 = cell 1, token 4 = cell 3 (after a newline)
  });

  it('chunks of K frames: every chunk head is whole, a chunk of 1 frame too', () => {
    const frames = [a, a, a, a, a];
    const r = spatialTokenCompression(frames, layout, newline, dim, 1000, 0.7, 2, 1e-8);
    expect(r.nChunks).toBe(3);
    expect(r.kept.map((k) => k.length)).toEqual([6, 0, 6, 0, 6]);
  });

  it('cuts each chunk tail by ceil(excess / n_chunks), then the whole sequence to B', () => {
    const b = a.map((v) => -v); // every cell opposite: all 4 cells kept, newlines pruned
    const r = spatialTokenCompression([a, b, a, b], layout, newline, dim, 15, 0.7, 2, 1e-8);
    // two chunks of 6 + 4 = 10 → reduced 20 > 15: force_remove = ceil(5/2) = 3 → 7 + 7 = 14 ≤ 15
    expect(r).toMatchObject({ nChunks: 2, reducedLen: 20, forceRemove: 3 });
    expect(r.kept.map((k) => k.length)).toEqual([6, 1, 6, 1]);
    const cut = spatialTokenCompression([a, b, a, b], layout, newline, dim, 9, 0.7, 2, 1e-8);
    // force_remove = ceil(11/2) = 6 → 4 + 4 = 8 ≤ 9: the first 4 tokens of each chunk head
    expect(cut.kept.map((k) => Array.from(k))).toEqual([[0, 1, 2, 3], [], [0, 1, 2, 3], []]);
  });

  it('a negative budget removes |B| tokens from the end (Python slice semantics)', () => {
    const b = a.map((v) => -v);
    // chunk lengths 10 and 6 (last chunk: one frame). B = −2: force = ceil(18/2) = 9 → 1 + 0, then [:−2] → 0
    const r = spatialTokenCompression([a, b, a], layout, newline, dim, -2, 0.7, 2, 1e-8);
    expect(r).toMatchObject({ reducedLen: 16, forceRemove: 9 });
    expect(r.kept.reduce((s, k) => s + k.length, 0)).toBe(0);
  });

  it('a zero token has cosine 0 (eps clamp), so it survives', () => {
    const z = new Float64Array(8);
    const r = spatialTokenCompression([z, z], layout, Float64Array.from([0, 0]), dim, 100, 0.7, 8, 1e-8);
    expect(r.kept[1]!.length).toBe(6);
  });

  it('rejects NaN', () => {
    const bad = frame([
      [1, 0],
      [0, 1],
      [1, 1],
      [1, Number.NaN],
    ]);
    expect(() => spatialTokenCompression([bad, bad], layout, newline, dim, 100, 0.7, 8, 1e-8)).toThrow(
      expect.objectContaining({ code: 'NON_FINITE_INPUT' }),
    );
  });
});

describe('STC with cached norms', () => {
  it('gives bit-identical decisions and margins to the uncached path', async () => {
    const { gridTokenNorms } = await import('./spatial-token-compression.js');
    const { tokenGridLayout } = await import('./token-grid.js');
    let s = 3;
    const rnd = () => {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      return s / 2 ** 32 - 0.5;
    };
    const dim = 37;
    const layout = tokenGridLayout(6, [720, 1280], 'official', true);
    const base = Float32Array.from({ length: 36 * dim }, rnd);
    const grids = Array.from({ length: 21 }, () =>
      base.map((v) => v + 0.35 * rnd() * (1 + Math.sign(rnd()))),
    );
    const newline = Float32Array.from({ length: dim }, rnd);
    const cache = new Map<unknown, Float64Array>(grids.map((g) => [g, gridTokenNorms(g, dim)]));
    const a = spatialTokenCompression(grids, layout, newline, dim, 10_000, 0.7, 8, 1e-8);
    const b = spatialTokenCompression(grids, layout, newline, dim, 300, 0.7, 8, 1e-8, (g) => cache.get(g));
    expect(b.minMargin).toBe(a.minMargin);
    expect(b.kept.map((k) => [...k])).toEqual(a.kept.map((k) => [...k]));
    const partial = a.kept.filter((k, i) => i % 8 !== 0 && k.length > 0 && k.length < layout.perFrame);
    expect(partial.length, a.kept.map((k) => k.length).join(',')).toBeGreaterThan(0);
  });
});
