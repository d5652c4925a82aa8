import { describe, expect, it } from 'vitest';
import { PtsSampler } from './pts-sampler.js';

const run = (fps: number, pts: number[]) => {
  const s = new PtsSampler({ fps });
  return pts.map((p) => s.offer(p)).filter((x): x is number => x !== null);
};

describe('PtsSampler', () => {
  it('samples 1 fps from a 25 fps stream: one frame per second, on the grid of the first frame', () => {
    const pts = Array.from({ length: 250 }, (_, i) => i * 40);
    expect(run(1, pts)).toEqual([0, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000]);
    expect(run(0.5, pts)).toEqual([0, 2000, 4000, 6000, 8000]);
    expect(run(2, pts)).toHaveLength(20);
  });

  it('variable frame rate does not shift the grid', () => {
    // frames every 33, 40 or 100 ms, irregularly
    const pts: number[] = [];
    let t = 0;
    for (let i = 0; i < 400; i++) pts.push((t += [33, 40, 100][i % 3]!));
    const out = run(1, pts);
    for (let i = 1; i < out.length; i++) {
      expect(out[i]! - out[i - 1]!).toBeGreaterThanOrEqual(900);
      expect(out[i]! - out[i - 1]!).toBeLessThan(1100);
    }
  });

  it('a forward gap restarts the grid without a burst; a backward reset stays monotonic', () => {
    const s = new PtsSampler({ fps: 1 });
    const pts = [0, 500, 1000, 1500, 60_000, 60_500, 61_000, 200, 700, 1200, 1700, 2200];
    const out = pts.map((p) => s.offer(p)).filter((x) => x !== null) as number[];
    expect(out.slice(0, 4)).toEqual([0, 1000, 60_000, 61_000]);
    for (let i = 1; i < out.length; i++) expect(out[i]!).toBeGreaterThan(out[i - 1]!);
    expect(s.resets).toBe(2);
  });

  it('rejects a bad rate', () => {
    expect(() => new PtsSampler({ fps: 0 })).toThrow(RangeError);
  });
});
