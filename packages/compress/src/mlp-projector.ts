import { type FloatArray, LvuError } from '@lvu/core';
import { gelu } from './erf.js';

/** Maps rows × inDim features to rows × outDim. LongVU's `mm_projector` has this shape. */
export type Projector = (x: FloatArray, rows: number) => FloatArray;

export interface MlpWeights {
  /** outDim × inDim, row-major (torch Linear weight). */
  w1: FloatArray;
  b1: FloatArray;
  /** outDim × outDim. */
  w2: FloatArray;
  b2: FloatArray;
  inDim: number;
  outDim: number;
}

/** `mm_projector`: Linear(inDim→outDim) → exact GELU → Linear(outDim→outDim), float64 arithmetic (§d). */
export function mlpProjector(wt: MlpWeights): Projector {
  const { w1, b1, w2, b2, inDim, outDim } = wt;
  const expect: [string, FloatArray, number][] = [
    ['w1', w1, outDim * inDim],
    ['b1', b1, outDim],
    ['w2', w2, outDim * outDim],
    ['b2', b2, outDim],
  ];
  for (const [name, a, n] of expect) {
    if (a.length !== n) {
      throw new LvuError('SHAPE_MISMATCH', `projector ${name} has ${a.length} values, expected ${n}`, {
        field: `projector.${name}`,
      });
    }
  }
  return (x, rows) => {
    if (x.length !== rows * inDim) {
      throw new LvuError(
        'SHAPE_MISMATCH',
        `projector input has ${x.length} values, expected ${rows * inDim}`,
        {
          field: 'projector.input',
        },
      );
    }
    const out = new Float64Array(rows * outDim);
    const h = new Float64Array(outDim);
    for (let r = 0; r < rows; r++) {
      for (let o = 0; o < outDim; o++) {
        let s = b1[o]!;
        for (let i = 0; i < inDim; i++) s += w1[o * inDim + i]! * x[r * inDim + i]!;
        h[o] = gelu(s);
      }
      for (let o = 0; o < outDim; o++) {
        let s = b2[o]!;
        for (let i = 0; i < outDim; i++) s += w2[o * outDim + i]! * h[i]!;
        out[r * outDim + o] = s;
      }
    }
    return out;
  };
}
