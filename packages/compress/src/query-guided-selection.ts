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
  /** The low-resolution layout of every frame, or of each (frames of several sizes). */
  layout: TokenGridLayout | readonly TokenGridLayout[],
  newline: FloatArray | null,
  textPost: FloatArray,
  dim: number,
  /**
   * Not LongVU: `cells` scores the image cells only. Frames of several sizes have different shares of newline
   * tokens, which would pull their means apart by shape alone; LongVU (`all`) counts them.
   */
  tokens: 'all' | 'cells' = 'all',
): Float64Array {
  const lq = textPost.length / dim;
  const qbar = new Float64Array(dim);
  for (let q = 0; q < lq; q++) for (let d = 0; d < dim; d++) qbar[d] = qbar[d]! + textPost[q * dim + d]!;
  if (lq > 0) for (let d = 0; d < dim; d++) qbar[d] = qbar[d]! / lq;
  const newlineScore = newline === null ? 0 : dot(newline, 0, qbar, 0, dim);
  const scores = new Float64Array(lowGrids.length);
  for (let i = 0; i < lowGrids.length; i++) {
    const g = lowGrids[i]!;
    const l = Array.isArray(layout)
      ? (layout as readonly TokenGridLayout[])[i]!
      : (layout as TokenGridLayout);
    const offs = l.offsets;
    let s = 0;
    let n = 0;
    for (let t = 0; t < offs.length; t++) {
      const off = offs[t]!;
      if (off < 0 && tokens === 'cells') continue;
      s += off < 0 ? newlineScore : dot(g, off * dim, qbar, 0, dim);
      n++;
    }
    const score = s / (tokens === 'cells' ? Math.max(1, n) : l.perFrame);
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

/**
 * Not LongVU: the high-resolution frames when frames differ in size (cameras of several resolutions in one
 * question), so upgrades cost differently. Frames are taken in priority order (`priority`: the forced recent ones,
 * then by score) while each one's upgrade (hi − lo tokens of its own layout) still fits in the room the low-
 * resolution context leaves (B − Σ lo); the first that does not fit ends it. With one size this is N_h: the same
 * count (floor(room / (hi − lo)), at most T') and the same frames.
 */
export function highresByCost(
  maxVisualLen: number,
  loPerFrame: ArrayLike<number>,
  hiPerFrame: ArrayLike<number>,
  priority: readonly number[],
): { raw: number | null; positions: number[] } {
  let room = maxVisualLen;
  for (let i = 0; i < loPerFrame.length; i++) room -= loPerFrame[i]!;
  if (!(room > 0)) return { raw: null, positions: [] };
  const positions: number[] = [];
  for (const p of priority) {
    const cost = hiPerFrame[p]! - loPerFrame[p]!;
    if (cost > room) break;
    if (cost <= 0) continue;
    room -= cost;
    positions.push(p);
  }
  return { raw: positions.length, positions: positions.sort((a, b) => a - b) };
}

/** Positions in the order they take high resolution: the last `recent` (newest first), then by score (ties: lower). */
export function highresPriority(sim: Float64Array, recent: number): number[] {
  const r = Math.min(Math.max(0, Math.floor(recent)), sim.length);
  const forced = Array.from({ length: r }, (_, i) => sim.length - 1 - i);
  const rest = Array.from({ length: sim.length - r }, (_, i) => i).sort((a, b) => sim[b]! - sim[a]! || a - b);
  return [...forced, ...rest];
}

/** N_h positions (ascending): the last `recent` positions first (newest first), then the best scores (docs/longvu.md §b). */
export function highresPositions(sim: Float64Array, count: number, recent: number): number[] {
  const r = Math.min(Math.max(0, Math.floor(recent)), count, sim.length);
  if (r === 0) return topKAscending(sim, count);
  const forced = Array.from({ length: r }, (_, i) => sim.length - 1 - i);
  const rest = sim.subarray(0, sim.length - r);
  return [...topKAscending(rest, count - r), ...forced.reverse()];
}
