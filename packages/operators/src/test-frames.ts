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
