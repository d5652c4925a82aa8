import type { SampledFrame } from '@lvu/core';
import jpeg from 'jpeg-js';

/**
 * Box-filter resample of a square RGB24 image to `to`×`to` (the one image downscale of the project: thumbnails,
 * the small JPEGs of image-input backends). Smaller than the image averages boxes; larger repeats pixels.
 */
export function downscaleRgb(rgb: Uint8Array, side: number, to: number): Uint8Array {
  if (to === side) return rgb;
  const out = new Uint8Array(to * to * 3);
  const step = side / to;
  for (let y = 0; y < to; y++) {
    const y0 = Math.floor(y * step);
    const y1 = Math.max(y0 + 1, Math.floor((y + 1) * step));
    for (let x = 0; x < to; x++) {
      const x0 = Math.floor(x * step);
      const x1 = Math.max(x0 + 1, Math.floor((x + 1) * step));
      const n = (y1 - y0) * (x1 - x0);
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let yy = y0; yy < y1; yy++) for (let xx = x0; xx < x1; xx++) s += rgb[(yy * side + xx) * 3 + c]!;
        out[(y * to + x) * 3 + c] = Math.round(s / n);
      }
    }
  }
  return out;
}

/** A square RGB24 image as JPEG bytes. */
export function rgbToJpeg(rgb: Uint8Array, side: number, quality = 85): Uint8Array {
  const rgba = new Uint8Array(side * side * 4);
  for (let i = 0; i < side * side; i++) {
    rgba[i * 4] = rgb[i * 3]!;
    rgba[i * 4 + 1] = rgb[i * 3 + 1]!;
    rgba[i * 4 + 2] = rgb[i * 3 + 2]!;
    rgba[i * 4 + 3] = 255;
  }
  const { data } = jpeg.encode({ data: rgba, width: side, height: side }, quality);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

export const THUMB_SIDE = 32;

/** A 32×32 RGB thumbnail (box filter) of the frame's smallest image, for timelines. */
export function thumbnail(frame: SampledFrame): Uint8Array {
  const size = Math.min(...Object.keys(frame.images).map(Number));
  return downscaleRgb(frame.images[size]!, size, THUMB_SIDE);
}
