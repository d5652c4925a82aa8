import { composeContext, longVuOptions } from '@lvu/compress';
import { seededRandom } from '@lvu/core';
import { describe, expect, it } from 'vitest';
import { StcCache } from './stc-cache.js';

const dim = 16;

/** Frames whose grids repeat in runs (so STC drops tokens) with noise, like a mostly static camera. */
function frames(n: number, seed: number, from = 0) {
  const rnd = seededRandom(seed);
  const base = Float32Array.from({ length: 144 * dim }, () => rnd() - 0.5);
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    const hi = base.map((v, j) => v + (j % 7 === i % 7 ? rnd() : 0.05 * rnd()));
    return { seq: i, frameH: 480, frameW: 640, hi, lo: hi.slice(0, 64 * dim) };
  });
}

const compose = (
  fs: ReturnType<typeof frames>,
  o: ReturnType<typeof longVuOptions>,
  cache?: StcCache,
  lq = 10,
) =>
  composeContext(
    {
      frames: fs.map((f) => ({ id: f.seq, hi: f.hi, lo: f.lo })),
      dim,
      newline: new Float32Array(dim).fill(0.1),
      frameHW: [480, 640],
      textPreLen: 20,
      textPost: new Float32Array(lq * dim).fill(0.01),
      ...(cache ? { stcChunk: cache.provider(fs) } : {}),
    },
    o,
  );

describe('StcCache', () => {
  // 60 frames of 12×12 cannot fit 2,000 tokens: STC on the high-resolution grids (high_overflow)
  const o = longVuOptions({ contextTokens: 2000, highres: true });

  it('gives the decisions LongVU makes without it, for any question length, and reuses chunks', () => {
    const fs = frames(60, 1);
    const cache = new StcCache();
    for (const lq of [3, 10, 40]) {
      const plain = compose(fs, o, undefined, lq);
      const cached = compose(fs, o, cache, lq);
      expect(plain.stc).not.toBeNull();
      expect(cached.layout).toEqual(plain.layout);
      expect(cached.stc).toEqual(plain.stc);
      expect(cached.finalVisualLen).toBe(plain.finalVisualLen);
    }
    expect(cache.misses).toBe(8); // 60 frames in chunks of 8: computed once
    expect(cache.hits).toBe(16); // and reused by the next two questions
  });

  it('prepares the chunks as frames arrive; after more frames only the chunks that changed are computed', async () => {
    const cache = new StcCache();
    let fs = frames(60, 2);
    const norms = () => undefined;
    await cache.prepare(() => fs, o, dim, new Float32Array(dim).fill(0.1), norms);
    expect(cache.size).toBe(8);
    const q1 = compose(fs, o, cache);
    expect(cache.hits).toBe(8);
    expect(q1.layout).toEqual(compose(fs, o).layout);
    // four more frames: the last chunk (56–59 then 56–63) changes, the first seven do not
    fs = [...fs, ...frames(4, 2, 60)];
    await cache.prepare(() => fs, o, dim, new Float32Array(dim).fill(0.1), norms);
    expect(cache.size).toBe(9);
    const before = cache.misses;
    expect(compose(fs, o, cache).layout).toEqual(compose(fs, o).layout);
    expect(cache.misses).toBe(before);
  });

  it('prepares nothing when a question would not run STC (few frames: query-guided high resolution)', async () => {
    const cache = new StcCache();
    await cache.prepare(
      () => frames(4, 3),
      longVuOptions({}),
      dim,
      null,
      () => undefined,
    );
    expect(cache.size).toBe(0);
  });

  it('keeps at most its capacity, dropping the least recently used chunks', () => {
    const cache = new StcCache(3);
    compose(frames(60, 4), o, cache);
    expect(cache.size).toBe(3);
  });
});
