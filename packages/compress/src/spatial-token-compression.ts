import { type FloatArray, LvuError } from '@lvu/core';
import type { TokenGridLayout } from './token-grid.js';

/**
 * LONGVU.md §c, spatial token compression (L1456-1510).
 * Consecutive chunks of K frames; the chunk's first frame is kept whole; in frames 2..K token t survives iff
 * cos(first[t], frame[t]) < θ (strict; norms clamped at eps like F.cosine_similarity), computed on the projected
 * tokens with newline tokens included. Chunk output = first frame, then survivors frame by frame. If the sum still
 * exceeds B: every chunk drops its last ceil((reduced − B)/n_chunks) tokens, then everything is cut to [:B]
 * (Python slice: a negative B removes |B| tokens from the end).
 */
export interface StcResult {
  applied: true;
  nChunks: number;
  reducedLen: number;
  forceRemove: number;
  /** Kept token indices per frame position, ascending (possibly empty). */
  kept: Int32Array[];
  /** Smallest |cos − θ| of any decision (how robust the result is to rounding). */
  minMargin: number;
}

/**
 * The L2 norm of every cell of a grid (cells × dim), summed exactly as the STC loop sums a follower token's norm
 * (two interleaved accumulators), so precomputed norms give bit-identical decisions.
 */
export function gridTokenNorms(grid: FloatArray, dim: number): Float64Array {
  const cells = grid.length / dim;
  const out = new Float64Array(cells);
  for (let c = 0; c < cells; c++) out[c] = pairNorm(grid, c * dim, dim);
  return out;
}

function pairNorm(src: FloatArray, base: number, dim: number): number {
  let bb0 = 0;
  let bb1 = 0;
  let d = 0;
  for (; d + 1 < dim; d += 2) {
    const x0 = src[base + d]!;
    const x1 = src[base + d + 1]!;
    bb0 += x0 * x0;
    bb1 += x1 * x1;
  }
  if (d < dim) {
    const x0 = src[base + d]!;
    bb0 += x0 * x0;
  }
  return Math.sqrt(bb0 + bb1);
}

/**
 * `norms(grid)` may return the grid's `gridTokenNorms` (cached by the caller, e.g. computed when the frame was
 * stored): the follower norms are then not recomputed, which halves the work and changes no decision.
 */
export function spatialTokenCompression(
  grids: readonly FloatArray[],
  layout: TokenGridLayout,
  newline: FloatArray | null,
  dim: number,
  maxVisualLen: number,
  threshold: number,
  chunkFrames: number,
  eps: number,
  norms?: (grid: FloatArray) => Float64Array | undefined,
): StcResult {
  const T = grids.length;
  const L = layout.perFrame;
  const offs = layout.offsets;
  const firstNorm = new Float64Array(L);
  const survivors: Int32Array[] = new Array(T);
  const chunkLen: number[] = [];
  const buf = new Int32Array(L);
  let minMargin = Number.POSITIVE_INFINITY;
  const tokenNorm = (g: FloatArray, t: number): number => {
    const off = offs[t]!;
    const src = off < 0 ? newline! : g;
    const base = off < 0 ? 0 : off * dim;
    let ss = 0;
    for (let d = 0; d < dim; d++) ss += src[base + d]! * src[base + d]!;
    return Math.sqrt(ss);
  };
  for (let s = 0; s < T; s += chunkFrames) {
    const e = Math.min(s + chunkFrames, T);
    const first = grids[s]!;
    for (let t = 0; t < L; t++) {
      const n = tokenNorm(first, t);
      if (!Number.isFinite(n)) {
        throw new LvuError('NON_FINITE_INPUT', `tokens of frame position ${s} contain NaN or Infinity`, {
          field: `frames[${s}]`,
        });
      }
      firstNorm[t] = Math.max(n, eps);
    }
    survivors[s] = Int32Array.from({ length: L }, (_, t) => t);
    let len = L;
    for (let j = s + 1; j < e; j++) {
      const g = grids[j]!;
      const cached = norms?.(g);
      let kept = 0;
      for (let t = 0; t < L; t++) {
        const off = offs[t]!;
        const a = off < 0 ? newline! : first;
        const b = off < 0 ? newline! : g;
        const base = off < 0 ? 0 : off * dim;
        let ab0 = 0;
        let ab1 = 0;
        let nb: number;
        if (cached && off >= 0) {
          let d = 0;
          for (; d + 1 < dim; d += 2) {
            ab0 += a[base + d]! * b[base + d]!;
            ab1 += a[base + d + 1]! * b[base + d + 1]!;
          }
          if (d < dim) ab0 += a[base + d]! * b[base + d]!;
          nb = cached[off]!;
        } else {
          let bb0 = 0;
          let bb1 = 0;
          let d = 0;
          for (; d + 1 < dim; d += 2) {
            const x0 = b[base + d]!;
            const x1 = b[base + d + 1]!;
            ab0 += a[base + d]! * x0;
            ab1 += a[base + d + 1]! * x1;
            bb0 += x0 * x0;
            bb1 += x1 * x1;
          }
          if (d < dim) {
            const x0 = b[base + d]!;
            ab0 += a[base + d]! * x0;
            bb0 += x0 * x0;
          }
          nb = Math.sqrt(bb0 + bb1);
        }
        const cos = (ab0 + ab1) / (firstNorm[t]! * Math.max(nb, eps));
        if (!Number.isFinite(cos)) {
          throw new LvuError('NON_FINITE_INPUT', `tokens of frame position ${j} contain NaN or Infinity`, {
            field: `frames[${j}]`,
          });
        }
        const m = Math.abs(cos - threshold);
        if (m < minMargin) minMargin = m;
        if (cos < threshold) buf[kept++] = t;
      }
      survivors[j] = buf.slice(0, kept);
      len += kept;
    }
    chunkLen.push(len);
  }
  const nChunks = chunkLen.length;
  const reducedLen = chunkLen.reduce((a, b) => a + b, 0);
  let forceRemove = 0;
  if (reducedLen > maxVisualLen) forceRemove = Math.ceil((reducedLen - maxVisualLen) / nChunks);
  // Per chunk keep the first (len − forceRemove) items, then the first `limit` items overall.
  let total = 0;
  for (const c of chunkLen) total += Math.max(0, c - forceRemove);
  let remaining = maxVisualLen >= 0 ? Math.min(maxVisualLen, total) : Math.max(0, total + maxVisualLen);
  const kept: Int32Array[] = new Array(T);
  for (let s = 0, c = 0; s < T; s += chunkFrames, c++) {
    let chunkLeft = Math.max(0, chunkLen[c]! - forceRemove);
    for (let j = s; j < Math.min(s + chunkFrames, T); j++) {
      const sv = survivors[j]!;
      const take = Math.min(sv.length, chunkLeft, remaining);
      kept[j] = take === sv.length ? sv : sv.slice(0, take);
      chunkLeft -= take;
      remaining -= take;
    }
  }
  return { applied: true, nChunks, reducedLen, forceRemove, kept, minMargin };
}
