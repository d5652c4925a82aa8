import type { FeatureRow } from '@lvu/arrow';
import type { SampledFrame } from '@lvu/core';
import type { Scored } from './score-frames.js';

/** A sampled frame without images (the operators' tests give their own vectors). */
export function testFrame(seq: number, o: Partial<SampledFrame> = {}): SampledFrame {
  return { streamId: 's', seq, ptsMs: seq * 1000, wallMs: 1e12 + seq, width: 4, height: 4, images: {}, ...o };
}

/** A scored frame whose DINO vector points along axis `axis` of 4 (equal axes: cosine 1, others 0). */
export function scored(seq: number, axis: number): Scored {
  const dino = new Float32Array(4);
  dino[axis] = 1;
  return { frame: testFrame(seq), dino };
}

/** The FeatureRow an encoder would give a kept frame (one-value grids carrying the seq). */
export function testRow(k: Scored): FeatureRow {
  return {
    streamId: 's',
    seq: k.frame.seq,
    ptsMs: k.frame.ptsMs,
    wallMs: k.frame.wallMs,
    frameH: 4,
    frameW: 4,
    hi: new Float32Array([k.frame.seq]),
    lo: new Float32Array([k.frame.seq]),
    thumb: new Uint8Array(0),
  };
}
