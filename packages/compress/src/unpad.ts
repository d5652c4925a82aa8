/**
 * docs/longvu.md §b, `unpad_image`: which rows [r0, r1) and columns [c0, c1) of a cur×cur token grid are kept.
 *
 * `frameHW` is the real frame size (height, width). The official callers pass `video[0].shape[:2]` = (H, W) and
 * `unpad_image` reads that pair as (width, height); `official` reproduces it (16:9 landscape keeps the centre
 * columns), `geometric` reads it the right way round (16:9 keeps the centre rows), `none` keeps everything.
 * An empty slice falls back to the full grid, like the official try/except.
 */
export type UnpadMode = 'official' | 'geometric' | 'none';
export type GridBounds = readonly [r0: number, r1: number, c0: number, c1: number];

export function unpadBounds(
  curH: number,
  curW: number,
  frameHW: readonly [number, number],
  mode: UnpadMode,
): GridBounds {
  if (mode === 'none') return [0, curH, 0, curW];
  // The pair `unpad_image` receives as original_size and reads as (width, height).
  const [origW, origH] = mode === 'official' ? frameHW : [frameHW[1], frameHW[0]];
  const origRatio = origW / origH;
  const curRatio = curW / curH;
  let b: [number, number, number, number];
  if (origRatio > curRatio) {
    const scale = curW / origW;
    const newH = Math.trunc(origH * scale);
    const pad = Math.floor((curH - newH) / 2);
    b = [pad, curH - pad, 0, curW];
  } else {
    const scale = curH / origH;
    const newW = Math.trunc(origW * scale);
    const pad = Math.floor((curW - newW) / 2);
    b = [0, curH, pad, curW - pad];
  }
  if (b[1] - b[0] <= 0 || b[3] - b[2] <= 0) return [0, curH, 0, curW];
  return b;
}

/**
 * The size handed to `unpad_image` for the low-resolution grid: each entry divided by (highSide / lowSide) and
 * truncated (`int(s / 1.5)` for 12→8). It keeps the caller's (H, W) order.
 */
export function lowResImageSize(
  frameHW: readonly [number, number],
  highSide: number,
  lowSide: number,
): [number, number] {
  const ratio = highSide / lowSide;
  return [Math.trunc(frameHW[0] / ratio), Math.trunc(frameHW[1] / ratio)];
}

/**
 * docs/longvu.md §b/§d, `unmask_attention_mask`: which of the (side × side) tokens of each SVA input map the connector's
 * cross-attention may see, 1 = visible. Padding rows (or columns, with the official (H, W)-as-(w, h) reading) are 0;
 * the same bounds as {@link unpadBounds}. (A window left with no visible key attends to all of its keys; that rule
 * lives in the SVA graph, as in LongVU.)
 */
export function svaKeyMask(side: number, frameHW: readonly [number, number], mode: UnpadMode): Float32Array {
  const [r0, r1, c0, c1] = unpadBounds(side, side, frameHW, mode);
  const mask = new Float32Array(side * side);
  for (let r = r0; r < r1; r++) mask.fill(1, r * side + c0, r * side + c1);
  return mask;
}
