import { describe, expect, it } from 'vitest';
import { highresCount, queryScores, topKAscending } from './query-guided-selection.js';
import { tokenGridLayout } from './token-grid.js';

describe('highresCount (N_h)', () => {
  it('matches the worked examples of the golden cases', () => {
    expect(highresCount(2000, 20, 156, 72)).toEqual({ raw: 6, count: 6 }); // floor((2000 − 1440)/84)
    expect(highresCount(1612, 20, 84, 40)).toEqual({ raw: 18, count: 18 }); // floor((1612 − 800)/44)
    expect(highresCount(32, 2, 20, 6)).toEqual({ raw: 1, count: 1 });
  });

  it('is capped at T′, needs ≥ 1 and B > T′·lo_pf', () => {
    expect(highresCount(100_000, 5, 156, 72)).toEqual({ raw: 1186, count: 5 });
    expect(highresCount(8139, 113, 156, 72)).toEqual({ raw: 0, count: 0 });
    expect(highresCount(8136, 113, 156, 72)).toEqual({ raw: null, count: 0 });
    expect(highresCount(-5, 3, 156, 72)).toEqual({ raw: null, count: 0 });
  });
});

describe('queryScores', () => {
  it('is the raw dot product averaged over text tokens, then over the frame tokens incl. newlines', () => {
    const dim = 3;
    const layout = tokenGridLayout(2, [10, 10], 'official', true); // 2 rows × (2 + newline) = 6 tokens
    const grids = [
      Float64Array.from({ length: 12 }, (_, i) => i),
      Float64Array.from({ length: 12 }, (_, i) => -i / 2),
    ];
    const newline = Float64Array.from([1, -1, 2]);
    const text = Float64Array.from([1, 0, 2, 3, 1, -1]); // two text tokens
    const got = queryScores(grids, layout, newline, text, dim);
    for (let f = 0; f < 2; f++) {
      let s = 0;
      for (const off of layout.offsets) {
        const tok = off < 0 ? newline : grids[f]!.subarray(off * dim, off * dim + dim);
        let m = 0;
        for (let q = 0; q < 2; q++) for (let d = 0; d < dim; d++) m += tok[d]! * text[q * dim + d]!;
        s += m / 2;
      }
      expect(got[f]).toBeCloseTo(s / 6, 12);
    }
  });

  it('rejects NaN tokens', () => {
    const layout = tokenGridLayout(1, [1, 1], 'official', false);
    expect(() =>
      queryScores([Float32Array.from([Number.NaN])], layout, null, Float32Array.from([1]), 1),
    ).toThrow(expect.objectContaining({ code: 'NON_FINITE_INPUT', field: 'frames[0].lo' }));
  });
});

describe('topKAscending', () => {
  it('takes the k best, ties to the lower index, returns them in time order', () => {
    expect(topKAscending([0.1, 0.9, 0.5, 0.9, 0.2], 2)).toEqual([1, 3]);
    expect(topKAscending([0.5, 0.5, 0.5, 0.5], 2)).toEqual([0, 1]);
    expect(topKAscending([3, 1, 2], 3)).toEqual([0, 1, 2]);
    expect(topKAscending([3, 1, 2], 0)).toEqual([]);
  });
});
