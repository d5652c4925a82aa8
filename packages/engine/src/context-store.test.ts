import type { FeatureRow } from '@lvu/arrow';
import { EventBus, type LvuEvent } from '@lvu/core';
import { describe, expect, it } from 'vitest';
import { ContextStore } from './context-store.js';

const row = (seq: number, ptsMs = seq * 1000, values = 4): FeatureRow => ({
  streamId: 's',
  seq,
  ptsMs,
  wallMs: 1.7e12 + ptsMs,
  frameH: 360,
  frameW: 640,
  hi: new Float32Array(values).fill(seq),
  lo: new Float32Array(values / 2).fill(seq),
  thumb: new Uint8Array(0),
});

describe('ContextStore', () => {
  it('recent keeps the newest maxFrames frames', () => {
    const s = new ContextStore('s', { policy: 'recent', maxFrames: 10 });
    for (let i = 0; i < 100; i++) s.add(row(i));
    expect(s.frames().map((f) => f.seq)).toEqual(Array.from({ length: 10 }, (_, i) => 90 + i));
    expect(s.stats).toMatchObject({ retainedFrames: 10, keptTotal: 100, evictedTotal: 90 });
  });

  it('uniform keeps the whole history evenly covered, like LongVU’s cap over all kept frames', () => {
    const s = new ContextStore('s', { policy: 'uniform', maxFrames: 50 });
    for (let i = 0; i < 1000; i++) s.add(row(i));
    const seqs = s.frames().map((f) => f.seq);
    expect(seqs).toHaveLength(50);
    expect(seqs[0]).toBe(0);
    expect(seqs.at(-1)).toBe(999);
    const gaps = seqs.slice(1).map((v, i) => v - seqs[i]!);
    // evenly spread: no gap more than twice the mean (1000/49 ≈ 20)
    expect(Math.max(...gaps)).toBeLessThanOrEqual(2 * (999 / 49));
  });

  it('pyramid keeps recent minutes dense and still represents every period of the last hours', () => {
    const s = new ContextStore('s', { policy: 'pyramid', maxFrames: 120, denseMs: 60_000 });
    const hours = 3;
    for (let i = 0; i < hours * 3600; i++) s.add(row(i));
    const f = s.frames();
    expect(f).toHaveLength(120);
    const newest = f.at(-1)!.ptsMs;
    const lastMinute = f.filter((x) => newest - x.ptsMs < 60_000).length;
    const anHourAgo = f.filter((x) => newest - x.ptsMs >= 3_600_000 && newest - x.ptsMs < 3_660_000).length;
    // the last minute is far denser than a minute an hour ago...
    expect(lastMinute).toBeGreaterThan(10);
    expect(lastMinute).toBeGreaterThan(5 * Math.max(1, anHourAgo));
    // ...yet every 15-minute period of the three hours keeps frames
    for (let start = 0; start < hours * 3600_000; start += 900_000) {
      expect(
        f.some((x) => x.ptsMs >= start && x.ptsMs < start + 900_000),
        `period at ${start / 60_000} min`,
      ).toBe(true);
    }
    expect(f[0]!.seq).toBe(0);
  });

  it('stays under maxBytes, reports each eviction as an event and in the timeline', () => {
    const events = new EventBus();
    const seen: LvuEvent[] = [];
    events.on((e) => seen.push(e));
    const s = new ContextStore('s', { maxFrames: 1000, maxBytes: 10 * (16 * 4 + 8 * 4) }, events);
    for (let i = 0; i < 30; i++) s.add(row(i, i * 1000, 16));
    expect(s.stats.retainedFrames).toBe(10);
    expect(s.stats.retainedBytes).toBeLessThanOrEqual(10 * 96);
    const evicted = seen.filter((e) => e.type === 'context.evicted');
    expect(evicted).toHaveLength(20);
    expect(s.timeline().filter((t) => t.kind === 'evicted')).toHaveLength(20);
    expect(s.timeline().filter((t) => t.kind === 'kept')).toHaveLength(30);
  });

  it('is idempotent by seq (at-least-once inputs) and answers time ranges', () => {
    const s = new ContextStore('s', { maxFrames: 100 });
    for (const i of [0, 1, 2, 2, 1, 3, 4]) s.add(row(i));
    expect(s.frames().map((f) => f.seq)).toEqual([0, 1, 2, 3, 4]);
    expect(s.stats.duplicatesIgnored).toBe(2);
    expect(s.frames({ sinceMs: 1000, untilMs: 3000 }).map((f) => f.seq)).toEqual([1, 2, 3]);
    expect(s.frames({ sinceMs: 10_000 })).toEqual([]);
    expect(() => s.add({ ...row(9), streamId: 'other' })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });

  it('rejects invalid retention options, naming the field', () => {
    expect(() => new ContextStore('s', { maxFrames: 1 })).toThrow(
      expect.objectContaining({ code: 'INVALID_CONFIG' }),
    );
  });
});

describe('ContextStore snapshots', () => {
  it('restore gives back every value: frames, ordinals, counters, timeline, options', () => {
    const s = new ContextStore('s', { policy: 'uniform', maxFrames: 7 });
    for (let i = 0; i < 40; i++) s.add({ ...row(i), thumb: Uint8Array.of(i, i + 1) });
    s.add(row(3)); // a duplicate, counted
    const bytes = s.snapshot();
    const r = ContextStore.restore(bytes);
    expect(r.stats).toEqual(s.stats);
    expect(r.options).toEqual(s.options);
    expect(r.timeline()).toEqual(s.timeline());
    const plain = (x: ContextStore) =>
      x.frames().map((f) => ({ ...f, hi: [...f.hi], lo: [...f.lo], thumb: [...f.thumb] }));
    expect(plain(r)).toEqual(plain(s));
    // and it goes on exactly like the original
    for (const x of [r, s]) for (let i = 40; i < 60; i++) x.add(row(i));
    expect(plain(r)).toEqual(plain(s));
    expect(ContextStore.restore(new ContextStore('e').snapshot()).stats.retainedFrames).toBe(0);
    expect(() => ContextStore.restore(new Uint8Array(16))).toThrow(
      expect.objectContaining({ code: 'MALFORMED_MESSAGE' }),
    );
  });
});
