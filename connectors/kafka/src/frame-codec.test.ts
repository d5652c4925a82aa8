import type { SampledFrame } from '@lvu/core';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { decodeFrame, encodeFrame } from './frame-codec.js';

const frame = (seq: number): SampledFrame => ({
  streamId: 'cam-1',
  seq,
  ptsMs: seq * 1000.25,
  wallMs: 1.7e12 + seq,
  width: 1280,
  height: 720,
  images: { 8: Uint8Array.from({ length: 8 * 8 * 3 }, (_, i) => (i + seq) & 255) },
});

describe('SampledFrame codec (msgpackr, moreTypes)', () => {
  it('round-trips a frame with its images as Uint8Arrays', () => {
    const f = frame(7);
    const back = decodeFrame(encodeFrame(f));
    expect(back.images[8]).toBeInstanceOf(Uint8Array);
    expect({ ...back, images: { 8: [...back.images[8]!] } }).toEqual({
      ...f,
      images: { 8: [...f.images[8]!] },
    });
  });

  it('malformed, truncated and wrong-shaped messages are MALFORMED_MESSAGE with the reason', () => {
    const good = encodeFrame(frame(1));
    const other = new Packr({ moreTypes: true, useRecords: false });
    const cases: [Uint8Array, string][] = [
      [good.subarray(0, good.length - 20), ''],
      [new TextEncoder().encode('not msgpack at all \u0000\u0001'), ''],
      [other.pack({ ...frame(1), seq: -1 }), 'seq'],
      [other.pack({ ...frame(1), streamId: '' }), 'streamId'],
      [other.pack({ ...frame(1), ptsMs: 'soon' }), 'ptsMs'],
      [other.pack({ ...frame(1), images: { 8: new Uint8Array(10) } }), 'images.8'],
      [other.pack(42), '(root)'],
    ];
    for (const [bytes, field] of cases) {
      let err: { code?: string; field?: string } = {};
      try {
        decodeFrame(bytes);
      } catch (e) {
        err = e as typeof err;
      }
      expect(err.code, field).toBe('MALFORMED_MESSAGE');
      if (field) expect(err.field).toBe(field);
    }
  });
});
