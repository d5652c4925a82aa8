import type { FloatArray } from '@lvu/core';
import { allocLike } from './vector-math.js';

/**
 * docs/longvu.md §b: `F.interpolate(mode="bilinear", align_corners=False)` without antialias.
 * Source coordinate of output d: src = (in/out)·(d + 0.5) − 0.5, clamped at 0; taps floor(src) and the next
 * (clamped at the edge), weight of the second tap = src − floor(src). For 12→8: taps (0,1),(1,2),(3,4)… with
 * weights 0.25/0.75 alternating.
 */
export interface BilinearTaps {
  i0: Int32Array;
  i1: Int32Array;
  lambda: Float64Array;
}

export function bilinearTaps(outSize: number, inSize: number): BilinearTaps {
  const scale = inSize / outSize;
  const i0 = new Int32Array(outSize);
  const i1 = new Int32Array(outSize);
  const lambda = new Float64Array(outSize);
  for (let d = 0; d < outSize; d++) {
    let src = scale * (d + 0.5) - 0.5;
    if (src < 0) src = 0;
    const a = Math.trunc(src);
    i0[d] = a;
    i1[d] = a < inSize - 1 ? a + 1 : a;
    lambda[d] = src - a;
  }
  return { i0, i1, lambda };
}

/**
 * Resizes one channel-last grid (inH × inW × channels) to outH × outW × channels. Arithmetic in float64, stored in
 * `out` (default: the input's float type).
 */
export function bilinearResize<T extends FloatArray>(
  src: T,
  inH: number,
  inW: number,
  channels: number,
  outH: number,
  outW: number,
  out: FloatArray = allocLike(src, outH * outW * channels),
): T {
  const ty = bilinearTaps(outH, inH);
  const tx = bilinearTaps(outW, inW);
  const row = new Float64Array(inW * channels);
  for (let y = 0; y < outH; y++) {
    const r0 = ty.i0[y]! * inW * channels;
    const r1 = ty.i1[y]! * inW * channels;
    const ly = ty.lambda[y]!;
    const my = 1 - ly;
    for (let k = 0; k < inW * channels; k++) row[k] = src[r0 + k]! * my + src[r1 + k]! * ly;
    for (let x = 0; x < outW; x++) {
      const c0 = tx.i0[x]! * channels;
      const c1 = tx.i1[x]! * channels;
      const lx = tx.lambda[x]!;
      const mx = 1 - lx;
      const o = (y * outW + x) * channels;
      for (let c = 0; c < channels; c++) out[o + c] = row[c0 + c]! * mx + row[c1 + c]! * lx;
    }
  }
  return out as T;
}
