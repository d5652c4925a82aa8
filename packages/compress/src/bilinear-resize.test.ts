import { describe, expect, it } from 'vitest';
import { bilinearResize, bilinearTaps } from './bilinear-resize.js';

describe('bilinearTaps', () => {
  it('12→8: taps (0,1),(1,2),(3,4)… with weights 0.25/0.75 alternating (docs/longvu.md §b)', () => {
    const t = bilinearTaps(8, 12);
    expect(Array.from(t.i0)).toEqual([0, 1, 3, 4, 6, 7, 9, 10]);
    expect(Array.from(t.i1)).toEqual([1, 2, 4, 5, 7, 8, 10, 11]);
    expect(Array.from(t.lambda)).toEqual([0.25, 0.75, 0.25, 0.75, 0.25, 0.75, 0.25, 0.75]);
  });

  it('clamps below 0 and at the last row when upsampling', () => {
    const t = bilinearTaps(4, 2); // src = 0.5(d+0.5) − 0.5 = −0.25, 0.25, 0.75, 1.25
    expect(Array.from(t.i0)).toEqual([0, 0, 0, 1]);
    expect(Array.from(t.i1)).toEqual([1, 1, 1, 1]);
    expect(Array.from(t.lambda)).toEqual([0, 0.25, 0.75, 0.25]);
  });
});

describe('bilinearResize', () => {
  it('4×4 → 2×2 of arange(16) averages each 2×2 block', () => {
    const g = Float64Array.from({ length: 16 }, (_, i) => i);
    expect(Array.from(bilinearResize(g, 4, 4, 1, 2, 2))).toEqual([2.5, 4.5, 10.5, 12.5]);
  });

  it('keeps channels independent and the input float type', () => {
    const g = Float32Array.from({ length: 4 * 4 * 2 }, (_, i) => (i % 2 === 0 ? i / 2 : -i));
    const out = bilinearResize(g, 4, 4, 2, 2, 2);
    expect(out).toBeInstanceOf(Float32Array);
    expect(Array.from(out.filter((_, i) => i % 2 === 0))).toEqual([2.5, 4.5, 10.5, 12.5]);
  });

  it('same size is the identity', () => {
    const g = Float64Array.from({ length: 12 * 12 * 3 }, (_, i) => Math.sin(i));
    expect(Array.from(bilinearResize(g, 12, 12, 3, 12, 12))).toEqual(Array.from(g));
  });
});
