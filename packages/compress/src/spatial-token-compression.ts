import { type FloatArray, LvuError } from '@lvu/core';
import type { TokenGridLayout } from './token-grid.js';

/**
 * docs/longvu.md §c, spatial token compression (L1456-1510).
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

/** STC's decisions inside one chunk: the survivors of each of its frames (the first keeps all) and their count. */
export interface StcChunk {
  survivors: Int32Array[];
  len: number;
  minMargin: number;
}

/**
 * STC within one chunk (`grids` = its frames, the first kept whole; `offset` = its first frame's position, for
 * messages). Depends only on these frames: a caller may keep the result while the chunk's frames stay the same
 * (the read path does, so a question does not recompute it). `norms(grid)` may return the grid's
 * `gridTokenNorms` (cached by the caller): the follower norms are then not recomputed, which halves the work and
 * changes no decision.
 *
 * Not LongVU, for frames of several videos in one context (`layout` per frame, `groups`): a frame is compared with
 * the chunk's first frame of its own video and layout, and kept whole when it is that first frame. With one video
 * of one size every frame's reference is the chunk's first frame: LongVU's STC.
 */
export function stcChunk(
  grids: readonly FloatArray[],
  layout: TokenGridLayout | readonly TokenGridLayout[],
  newline: FloatArray | null,
  dim: number,
  threshold: number,
  eps: number,
  norms?: (grid: FloatArray) => Float64Array | undefined,
  offset = 0,
  groups?: readonly (string | undefined)[],
): StcChunk {
  const layoutOf = (j: number): TokenGridLayout =>
    Array.isArray(layout) ? (layout as readonly TokenGridLayout[])[j]! : (layout as TokenGridLayout);
  // each frame's reference: the first frame of the chunk with its group and layout (itself: kept whole)
  const ref = Int32Array.from({ length: grids.length }, (_, j) => {
    for (let k = 0; k < j; k++) if (layoutOf(k) === layoutOf(j) && groups?.[k] === groups?.[j]) return k;
    return j;
  });
  const survivors: Int32Array[] = new Array(grids.length);
  const buf = new Int32Array(Math.max(0, ...grids.map((_, j) => layoutOf(j).perFrame)));
  let minMargin = Number.POSITIVE_INFINITY;
  const refNorms = new Map<number, Float64Array>();
  let len = 0;
  for (let j = 0; j < grids.length; j++) {
    if (ref[j] !== j) continue;
    const { perFrame: L, offsets: offs } = layoutOf(j);
    const g = grids[j]!;
    const n = new Float64Array(L);
    for (let t = 0; t < L; t++) {
      const off = offs[t]!;
      const src = off < 0 ? newline! : g;
      const base = off < 0 ? 0 : off * dim;
      let ss = 0;
      for (let d = 0; d < dim; d++) ss += src[base + d]! * src[base + d]!;
      const v = Math.sqrt(ss);
      if (!Number.isFinite(v)) {
        throw new LvuError(
          'NON_FINITE_INPUT',
          `tokens of frame position ${offset + j} contain NaN or Infinity`,
          {
            field: `frames[${offset + j}]`,
          },
        );
      }
      n[t] = Math.max(v, eps);
    }
    refNorms.set(j, n);
    survivors[j] = Int32Array.from({ length: L }, (_, t) => t);
    len += L;
  }
  for (let j = 0; j < grids.length; j++) {
    if (ref[j] === j) continue;
    const { perFrame: L, offsets: offs } = layoutOf(j);
    const first = grids[ref[j]!]!;
    const firstNorm = refNorms.get(ref[j]!)!;
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
        throw new LvuError(
          'NON_FINITE_INPUT',
          `tokens of frame position ${offset + j} contain NaN or Infinity`,
          {
            field: `frames[${offset + j}]`,
          },
        );
      }
      const m = Math.abs(cos - threshold);
      if (m < minMargin) minMargin = m;
      if (cos < threshold) buf[kept++] = t;
    }
    survivors[j] = buf.slice(0, kept);
    len += kept;
  }
  return { survivors, len, minMargin };
}

/**
 * The budget step of STC over its chunks (in order): if their sum exceeds B, every chunk drops its last
 * ceil((reduced − B)/n_chunks) tokens, then everything is cut to [:B] (a negative B removes |B| from the end).
 * Depends on B, so on the question's length; the chunks do not.
 */
export function stcTruncate(chunks: readonly StcChunk[], maxVisualLen: number): StcResult {
  const nChunks = chunks.length;
  const reducedLen = chunks.reduce((a, c) => a + c.len, 0);
  let forceRemove = 0;
  if (reducedLen > maxVisualLen) forceRemove = Math.ceil((reducedLen - maxVisualLen) / nChunks);
  // Per chunk keep the first (len − forceRemove) items, then the first `limit` items overall.
  let total = 0;
  for (const c of chunks) total += Math.max(0, c.len - forceRemove);
  let remaining = maxVisualLen >= 0 ? Math.min(maxVisualLen, total) : Math.max(0, total + maxVisualLen);
  const kept: Int32Array[] = [];
  let minMargin = Number.POSITIVE_INFINITY;
  for (const c of chunks) {
    if (c.minMargin < minMargin) minMargin = c.minMargin;
    let chunkLeft = Math.max(0, c.len - forceRemove);
    for (const sv of c.survivors) {
      const take = Math.min(sv.length, chunkLeft, remaining);
      kept.push(take === sv.length ? sv : sv.slice(0, take));
      chunkLeft -= take;
      remaining -= take;
    }
  }
  return { applied: true, nChunks, reducedLen, forceRemove, kept, minMargin };
}

/**
 * STC over every frame: chunks of `chunkFrames` from the first position (`stcChunk`), then the budget step
 * (`stcTruncate`). `chunk(start, end, compute)` may return an earlier result for the same frames instead of
 * computing it.
 */
export function spatialTokenCompression(
  grids: readonly FloatArray[],
  layout: TokenGridLayout | readonly TokenGridLayout[],
  newline: FloatArray | null,
  dim: number,
  maxVisualLen: number,
  threshold: number,
  chunkFrames: number,
  eps: number,
  norms?: (grid: FloatArray) => Float64Array | undefined,
  chunk: (start: number, end: number, compute: () => StcChunk) => StcChunk = (_s, _e, compute) => compute(),
  groups?: readonly (string | undefined)[],
): StcResult {
  const chunks: StcChunk[] = [];
  for (let s = 0; s < grids.length; s += chunkFrames) {
    const e = Math.min(s + chunkFrames, grids.length);
    const layouts = Array.isArray(layout) ? (layout as readonly TokenGridLayout[]).slice(s, e) : layout;
    chunks.push(
      chunk(s, e, () =>
        stcChunk(grids.slice(s, e), layouts, newline, dim, threshold, eps, norms, s, groups?.slice(s, e)),
      ),
    );
  }
  return stcTruncate(chunks, maxVisualLen);
}
