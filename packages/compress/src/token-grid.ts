import type { FloatArray } from '@lvu/core';
import { type GridBounds, type UnpadMode, unpadBounds } from './unpad.js';

/**
 * docs/longvu.md §b, steps 8: a frame's token sequence = its unpadded grid, row-major, each row followed by the
 * image-newline token: h·(w+1) tokens (156 for a square 12×12 frame, 72 for 8×8, 84/40 for 16:9 with the
 * official unpad). `offsets[t]` is the grid cell of token t, or −1 for a newline token.
 */
export interface TokenGridLayout {
  side: number;
  /** The size handed to unpad for this grid (the frame's (H, W), or its low-resolution reduction). */
  imageSize: readonly [number, number];
  bounds: GridBounds;
  h: number;
  w: number;
  newline: boolean;
  perFrame: number;
  offsets: Int32Array;
}

export function tokenGridLayout(
  side: number,
  imageSize: readonly [number, number],
  unpad: UnpadMode,
  newline: boolean,
): TokenGridLayout {
  const bounds = unpadBounds(side, side, imageSize, unpad);
  const h = bounds[1] - bounds[0];
  const w = bounds[3] - bounds[2];
  const rowLen = w + (newline ? 1 : 0);
  const offsets = new Int32Array(h * rowLen);
  let t = 0;
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) offsets[t++] = (bounds[0] + r) * side + bounds[2] + c;
    if (newline) offsets[t++] = -1;
  }
  return {
    side,
    imageSize: [imageSize[0], imageSize[1]],
    bounds,
    h,
    w,
    newline,
    perFrame: h * rowLen,
    offsets,
  };
}

/**
 * Copies tokens of one frame (all, or the listed token indices) into `out` starting at row `row`; returns the
 * number of rows written. `grid` is the projected side×side×dim grid, `newline` the dim-vector.
 */
export function copyFrameTokens(
  grid: FloatArray,
  layout: TokenGridLayout,
  newline: FloatArray | null,
  dim: number,
  tokens: Int32Array | null,
  out: FloatArray,
  row: number,
): number {
  const offs = layout.offsets;
  if (tokens === null) {
    // All tokens: copy each run of consecutive grid cells (a row) with one set(), then its newline.
    let t = 0;
    let dst = row * dim;
    while (t < offs.length) {
      const off = offs[t]!;
      if (off < 0) {
        out.set(newline!, dst);
        dst += dim;
        t++;
        continue;
      }
      let end = t + 1;
      while (end < offs.length && offs[end] === off + (end - t)) end++;
      out.set(grid.subarray(off * dim, (off + end - t) * dim), dst);
      dst += (end - t) * dim;
      t = end;
    }
    return offs.length;
  }
  for (let k = 0; k < tokens.length; k++) {
    const off = offs[tokens[k]!]!;
    const dst = (row + k) * dim;
    if (off < 0) out.set(newline!, dst);
    else out.set(grid.subarray(off * dim, off * dim + dim), dst);
  }
  return tokens.length;
}
