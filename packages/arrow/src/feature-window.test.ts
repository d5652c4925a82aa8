import { describe, expect, it } from 'vitest';
import { buildFeatureBatch, featureSchema, toIpc } from './feature-batch.js';
import { decodeWindow, encodeWindow, type FeatureWindow } from './feature-window.js';

const row = (seq: number, streamId = 'cam') => ({
  streamId,
  seq,
  ptsMs: seq * 1000,
  wallMs: 1.7e12 + seq,
  frameH: 360,
  frameW: 640,
  hi: Float32Array.from({ length: 12 }, (_, i) => seq + i / 10),
  lo: Float32Array.from({ length: 4 }, (_, i) => -seq - i),
  thumb: new Uint8Array([seq, 1, 2]),
});
const win = (rows = [row(4), row(6)], scores = [0.5, 0.25]): FeatureWindow => ({
  streamId: 'cam',
  window: 1,
  start: 4,
  frames: 4,
  lastSeq: 7,
  lastPtsMs: 7000,
  lastWallMs: 1.7e12 + 7,
  rows,
  scores,
});

describe('feature windows (Arrow IPC)', () => {
  it('round-trip every field; grids are views into the message bytes', () => {
    const bytes = encodeWindow(win());
    const w = decodeWindow(bytes);
    expect({
      ...w,
      rows: w.rows.map((r) => ({ ...r, hi: [...r.hi], lo: [...r.lo], thumb: [...r.thumb] })),
    }).toEqual({
      ...win(),
      rows: win().rows.map((r) => ({ ...r, hi: [...r.hi], lo: [...r.lo], thumb: [...r.thumb] })),
    });
    expect(w.rows[1]!.hi.buffer).toBe(w.rows[0]!.hi.buffer);
    const empty = decodeWindow(encodeWindow(win([], [])));
    expect(empty).toMatchObject({ rows: [], scores: [], lastSeq: 7 });
  });

  it('float16 grids: about half the bytes, values within half a unit in the last place', () => {
    const big = [row(4), row(6)].map((r) => ({
      ...r,
      hi: Float32Array.from({ length: 4096 }, (_, i) => Math.sin(i) * 3),
      lo: r.lo,
    }));
    const w32 = encodeWindow(win(big));
    const w16 = encodeWindow(win(big), 'float16');
    expect(w16.byteLength).toBeLessThan(w32.byteLength * 0.6);
    const got = decodeWindow(w16);
    expect(got.rows.map((r) => r.seq)).toEqual([4, 6]);
    for (let i = 0; i < 4096; i++) {
      const want = big[1]!.hi[i]!;
      expect(Math.abs(got.rows[1]!.hi[i]! - want)).toBeLessThanOrEqual(Math.abs(want) * 2 ** -11 + 2 ** -25);
    }
    expect(got.rows[1]!.hi).toBeInstanceOf(Float32Array);
  });

  it('reject what is not a window, with the field', () => {
    const plain = featureSchema({ hiValues: 12, loValues: 4 });
    const notWindow = toIpc([buildFeatureBatch([row(1)], plain)], plain);
    expect(() => decodeWindow(notWindow)).toThrow(/format is lvu-feature.* not lvu-window/);
    expect(() => decodeWindow(new Uint8Array([1, 2, 3]))).toThrow(/format is missing/);
    expect(() => decodeWindow(encodeWindow(win(undefined, [1])))).toThrow(
      /scores must be one number per kept frame/,
    );
    expect(() => decodeWindow(encodeWindow(win([row(4), row(6, 'other')])))).toThrow(/row of stream other/);
    expect(() => decodeWindow(encodeWindow(win([row(4), row(9)])))).toThrow(/after the window's last/);
    expect(() => decodeWindow(encodeWindow({ ...win(), lastSeq: Number.NaN }))).toThrow(
      /lastSeq must be a number/,
    );
  });
});
