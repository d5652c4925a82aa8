import { describe, expect, it } from 'vitest';
import { erf, gelu } from './erf.js';

describe('erf', () => {
  it('matches known values to 1e-15', () => {
    const known: [number, number][] = [
      [0, 0],
      [0.1, 0.1124629160182849],
      [0.5, 0.5204998778130465],
      [1, 0.8427007929497149],
      [2, 0.9953222650189527],
      [2.5, 0.999593047982555],
      [3, 0.9999779095030014],
      [4, 0.9999999845827421],
      [5.9, 0.9999999999999999],
    ];
    for (const [x, v] of known) {
      expect(Math.abs(erf(x) - v)).toBeLessThan(2e-15);
      expect(Math.abs(erf(-x) + v)).toBeLessThan(2e-15);
    }
    expect(erf(10)).toBe(1);
    expect(Number.isNaN(erf(Number.NaN))).toBe(true);
  });

  it('is continuous where the two methods meet', () => {
    expect(Math.abs(erf(2.4999999999) - erf(2.5))).toBeLessThan(1e-10);
  });

  it('gelu(x) = x·Φ(x)', () => {
    expect(gelu(0)).toBe(0);
    expect(gelu(1)).toBeCloseTo(0.8413447460685429, 15);
    expect(gelu(-1)).toBeCloseTo(-0.15865525393145707, 15);
  });
});
