import { describe, expect, it } from 'vitest';
import { fromHalf, toHalf } from './half.js';

describe('float16', () => {
  it('every half value survives float16 → float32 → float16 (NaN stays NaN)', () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const f = fromHalf(all);
    const back = toHalf(f);
    for (let h = 0; h < 65536; h++) {
      if (Number.isNaN(f[h])) expect(Number.isNaN(fromHalf(back.subarray(h, h + 1))[0])).toBe(true);
      else expect(back[h]).toBe(h);
    }
  });

  it('rounds to the nearest half, ties to even; overflow to infinity; tiny to zero', () => {
    const x = Float32Array.from([
      1 + 2 ** -11,
      1 + 3 * 2 ** -11,
      1 + 2 ** -11 + 2 ** -20,
      65520,
      65519,
      1e-9,
      -2.5,
      2 ** -24,
    ]);
    expect([...fromHalf(toHalf(x))]).toEqual([
      1,
      1 + 2 ** -9,
      1 + 2 ** -10,
      Infinity,
      65504,
      0,
      -2.5,
      2 ** -24,
    ]);
    // the error of random features is within half a unit in the last place (2^-11 relative)
    const r = Float32Array.from({ length: 10_000 }, (_, i) => Math.sin(i * 12.9898) * 43);
    const y = fromHalf(toHalf(r));
    for (let i = 0; i < r.length; i++)
      expect(Math.abs(y[i]! - r[i]!)).toBeLessThanOrEqual(Math.abs(r[i]!) * 2 ** -11 + 2 ** -25);
  });
});
