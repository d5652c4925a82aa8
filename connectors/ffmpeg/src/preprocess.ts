/**
 * Geometry of LongVU's preprocessing (`mm_datautils.process_images`: `expand2square` pads the frame to a square
 * filled with the processor's mean colour, then resizes it) and of the alternatives.
 *
 * `pad` (default): scale the frame to fit a size×size square keeping its aspect, centred with the mean colour
 * around it (the same picture as padding first then resizing, without scaling the padding);
 * `stretch`: resize to size×size ignoring the aspect; `crop`: centre square crop, then resize.
 */
export type ResizeMode = 'pad' | 'stretch' | 'crop';

export interface ResizePlan {
  /** Source rectangle to read. */
  crop: { x: number; y: number; width: number; height: number };
  /** Size the source rectangle is scaled to. */
  width: number;
  height: number;
  /** Where that image lands in the size×size output (non-zero only for `pad`). */
  offsetX: number;
  offsetY: number;
}

export function resizePlan(srcW: number, srcH: number, size: number, mode: ResizeMode): ResizePlan {
  const full = { x: 0, y: 0, width: srcW, height: srcH };
  if (mode === 'stretch') return { crop: full, width: size, height: size, offsetX: 0, offsetY: 0 };
  if (mode === 'crop') {
    const side = Math.min(srcW, srcH);
    // even offsets keep chroma-subsampled planes aligned
    const x = Math.floor((srcW - side) / 4) * 2;
    const y = Math.floor((srcH - side) / 4) * 2;
    return { crop: { x, y, width: side, height: side }, width: size, height: size, offsetX: 0, offsetY: 0 };
  }
  const scale = size / Math.max(srcW, srcH);
  const width = Math.max(1, Math.min(size, Math.round(srcW * scale)));
  const height = Math.max(1, Math.min(size, Math.round(srcH * scale)));
  // expand2square puts the image at ((max − w) // 2, (max − h) // 2)
  return {
    crop: full,
    width,
    height,
    offsetX: Math.floor((size - width) / 2),
    offsetY: Math.floor((size - height) / 2),
  };
}

/** Copies a packed RGB24 image (w×h) into a size×size RGB24 canvas filled with `fill`, at (ox, oy). */
export function padInto(
  rgb: Uint8Array,
  w: number,
  h: number,
  size: number,
  ox: number,
  oy: number,
  fill: readonly [number, number, number],
): Uint8Array {
  const out = new Uint8Array(size * size * 3);
  if (ox > 0 || oy > 0 || w < size || h < size) {
    for (let i = 0; i < out.length; i += 3) {
      out[i] = fill[0];
      out[i + 1] = fill[1];
      out[i + 2] = fill[2];
    }
  }
  for (let y = 0; y < h; y++) out.set(rgb.subarray(y * w * 3, (y + 1) * w * 3), ((oy + y) * size + ox) * 3);
  return out;
}

/** Clockwise quarter turns that bring a decoded picture upright. */
export type Rotation = 0 | 90 | 180 | 270;

/**
 * The clockwise rotation a display matrix (libavutil/display.h: nine int32, 16.16 fixed point, as a container's
 * `rotate` tag or the MP4 tkhd matrix stores it) asks for, to the nearest quarter turn, the way the FFmpeg CLI's
 * autorotate turns it (checked on a file tagged `rotate=90`: the CLI turns it a quarter counter-clockwise). Flips (a negative determinant) are not applied.
 */
export function displayRotation(matrix: Int32Array | null | undefined): Rotation {
  if (!matrix || matrix.length < 9) return 0;
  const [a, b, , c, d] = [matrix[0]!, matrix[1]!, matrix[2], matrix[3]!, matrix[4]!];
  const s0 = Math.hypot(a, c);
  const s1 = Math.hypot(b, d);
  if (s0 === 0 || s1 === 0) return 0;
  // −av_display_rotation_get(m), which the CLI's autorotate turns into transpose/flip filters
  const deg = (Math.atan2(b / s1, a / s0) * 180) / Math.PI;
  return ((((Math.round(deg / 90) * 90) % 360) + 360) % 360) as Rotation;
}

/** Rotates a packed RGB24 image (w×h) clockwise by `deg`; 90 and 270 give an h×w image. */
export function rotateRgb(rgb: Uint8Array, w: number, h: number, deg: Rotation): Uint8Array {
  if (deg === 0) return rgb;
  const out = new Uint8Array(rgb.length);
  const ow = deg === 180 ? w : h;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      // where source pixel (x, y) lands
      const [nx, ny] = deg === 90 ? [h - 1 - y, x] : deg === 180 ? [w - 1 - x, h - 1 - y] : [y, w - 1 - x];
      const si = (y * w + x) * 3;
      const di = (ny * ow + nx) * 3;
      out[di] = rgb[si]!;
      out[di + 1] = rgb[si + 1]!;
      out[di + 2] = rgb[si + 2]!;
    }
  }
  return out;
}

/** The processors' mean colours (0..255): SigLIP uses 0.5, DINOv2 the ImageNet mean. */
export const MEAN_COLOURS = {
  siglip: [127, 127, 127],
  dinov2: [124, 116, 104],
} as const satisfies Record<string, readonly [number, number, number]>;
