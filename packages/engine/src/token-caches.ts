import { gridTokenNorms, type LongVuOptions, lowResImageSize, tokenGridLayout } from '@lvu/compress';
import type { FloatArray } from '@lvu/core';

/**
 * Per-frame values a question needs again and again, computed once per grid (when the frame is stored, or on first
 * use for frames read back from disk) and kept as long as the grid is: the token norms STC divides by, and the
 * mean low-resolution token that scores a frame against a question outside mix mode.
 */
const norms = new WeakMap<FloatArray, Float64Array>();
const means = new WeakMap<FloatArray, { key: string; mean: Float64Array }>();

export function cachedNorms(grid: FloatArray, dim: number): Float64Array {
  let n = norms.get(grid);
  if (!n) {
    n = gridTokenNorms(grid, dim);
    norms.set(grid, n);
  }
  return n;
}

/**
 * The mean of a frame's low-resolution tokens as LongVU lays them out (unpadded cells plus newline tokens):
 * `mean_t(v_t · q̄) = mean_t(v_t) · q̄`, so a frame's query score is one dot product.
 */
export function cachedLowMean(
  lo: FloatArray,
  frameHW: readonly [number, number],
  dim: number,
  newline: FloatArray | null,
  o: LongVuOptions,
  /** The image cells only (frames of several sizes), not the newline tokens. */
  cellsOnly = false,
): Float64Array {
  const key = `${frameHW[0]}x${frameHW[1]}:${o.unpad}:${o.newlineToken}:${o.highGridSide}:${o.lowGridSide}:${cellsOnly}`;
  const hit = means.get(lo);
  if (hit?.key === key) return hit.mean;
  const layout = tokenGridLayout(
    o.lowGridSide,
    lowResImageSize(frameHW, o.highGridSide, o.lowGridSide),
    o.unpad,
    o.newlineToken,
  );
  const mean = new Float64Array(dim);
  let cells = 0;
  for (const off of layout.offsets) {
    if (off >= 0) cells++;
    const src = off < 0 ? (cellsOnly ? null : newline) : lo;
    if (!src) continue;
    const base = off < 0 ? 0 : off * dim;
    for (let d = 0; d < dim; d++) mean[d] = mean[d]! + src[base + d]!;
  }
  const n = (cellsOnly ? cells : layout.offsets.length) || 1;
  for (let d = 0; d < dim; d++) mean[d] = mean[d]! / n;
  means.set(lo, { key, mean });
  return mean;
}
