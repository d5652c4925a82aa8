import { describe, expect, it } from 'vitest';
import { decodeDetections } from './object-detector.js';

describe('decodeDetections', () => {
  it('drops low scores, suppresses overlapping boxes of one class only, and gives boxes in 0..1, best first', () => {
    const raw = Float32Array.from([
      // x1, y1, x2, y2 (pixels of a 100 px image), score, class
      10,
      10,
      30,
      50,
      0.8,
      0, // a person
      11,
      11,
      31,
      51,
      0.7,
      0, // the same person again: suppressed (IoU > 0.4)
      11,
      11,
      31,
      51,
      0.6,
      2, // a car in the same place: another class, kept
      60,
      10,
      80,
      50,
      0.9,
      0, // another person
      0,
      0,
      100,
      100,
      0.1,
      0, // under the score threshold
      -5,
      90,
      20,
      120,
      0.5,
      5, // a box over the edge: clipped to the image
    ]);
    const out = decodeDetections(raw, 100, { minScore: 0.3, iou: 0.4 });
    const rows = Array.from({ length: out.length / 6 }, (_, i) => Array.from(out.subarray(i * 6, i * 6 + 6)));
    expect(rows.map((r) => [r[0], Number(r[1]!.toFixed(2))])).toEqual([
      [0, 0.9],
      [0, 0.8],
      [2, 0.6],
      [5, 0.5],
    ]);
    expect(rows[1]!.slice(2).map((v) => Number(v.toFixed(3)))).toEqual([0.1, 0.1, 0.2, 0.4]);
    expect(rows[3]!.slice(2).map((v) => Number(v.toFixed(3)))).toEqual([0, 0.9, 0.2, 0.1]);
    expect(decodeDetections(new Float32Array(0), 100, { minScore: 0.3, iou: 0.4 })).toHaveLength(0);
  });
});
