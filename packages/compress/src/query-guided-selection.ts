import { type FloatArray, LvuError } from '@lvu/core';
import type { TokenGridLayout } from './token-grid.js';
import { dot } from './vector-math.js';

/**
 * docs/longvu.md §b, N_h (L1386-1410): only when B > T'·lo_pf;
 * N_h = min(T', floor((B − T'·lo_pf) / (hi_pf − lo_pf))), used only if ≥ 1.
 * With hi_pf = lo_pf (possible only with unusual grids after unpad) the official code divides by zero; here no
 * frame is upgraded, since an upgrade would gain nothing.
 */
export function highresCount(
  maxVisualLen: number,
  nFrames: number,
  hiPerFrame: number,
  loPerFrame: number,
): { raw: number | null; count: number } {
  const visual = nFrames * loPerFrame;
  if (!(maxVisualLen > visual) || hiPerFrame === loPerFrame) return { raw: null, count: 0 };
  const raw = Math.floor((maxVisualLen - visual) / (hiPerFrame - loPerFrame));
  return { raw, count: raw >= 1 ? Math.min(raw, nFrames) : 0 };
}

/**
 * docs/longvu.md §b, query score (L1411-1418): sim = (V_low · Qᵀ).mean over text tokens — a raw dot product — then the
 * mean over the frame's tokens, newline tokens included. mean_q(v·q) = v·q̄, so each token needs one dot product
 * with the mean text embedding q̄.
 */
export function queryScores(
  lowGrids: readonly FloatArray[],
  layout: TokenGridLayout,
  newline: FloatArray | null,
  textPost: FloatArray,
  dim: number,
): Float64Array {
  const lq = textPost.length / dim;
  const qbar = new Float64Array(dim);
  for (let q = 0; q < lq; q++) for (let d = 0; d < dim; d++) qbar[d] = qbar[d]! + textPost[q * dim + d]!;
  if (lq > 0) for (let d = 0; d < dim; d++) qbar[d] = qbar[d]! / lq;
  const newlineScore = newline === null ? 0 : dot(newline, 0, qbar, 0, dim);
  const scores = new Float64Array(lowGrids.length);
  const offs = layout.offsets;
  for (let i = 0; i < lowGrids.length; i++) {
    const g = lowGrids[i]!;
    let s = 0;
    for (let t = 0; t < offs.length; t++) {
      const off = offs[t]!;
      s += off < 0 ? newlineScore : dot(g, off * dim, qbar, 0, dim);
    }
    const score = s / layout.perFrame;
    if (!Number.isFinite(score)) {
      throw new LvuError(
        'NON_FINITE_INPUT',
        `low-resolution tokens of frame position ${i} contain NaN or Infinity`,
        {
          field: `frames[${i}].lo`,
        },
      );
    }
    scores[i] = score;
  }
  return scores;
}

/** Indices of the k largest scores (ties towards the lower index, as the reference), returned in ascending order. */
export function topKAscending(scores: ArrayLike<number>, k: number): number[] {
  const idx = Array.from({ length: scores.length }, (_, i) => i);
  idx.sort((a, b) => scores[b]! - scores[a]! || a - b);
  return idx.slice(0, Math.max(0, k)).sort((a, b) => a - b);
}
