import { LvuError, type SampledFrame } from '@lvu/core';
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

/**
 * An RGB24 image of any size as a square one of `side` pixels, the way a source gives frames by default (LongVU's
 * expand2square: padded to a square with `fill`, centred, then resized bilinearly).
 */
export function squareRgb(
  rgb: Uint8Array,
  width: number,
  height: number,
  side: number,
  fill: readonly [number, number, number] = [127, 127, 127],
): Uint8Array {
  const n = Math.max(width, height);
  const ox = (n - width) / 2;
  const oy = (n - height) / 2;
  const at = (x: number, y: number, c: number) => {
    const sx = Math.floor(x - ox);
    const sy = Math.floor(y - oy);
    return sx < 0 || sy < 0 || sx >= width || sy >= height ? fill[c]! : rgb[(sy * width + sx) * 3 + c]!;
  };
  const out = new Uint8Array(side * side * 3);
  const scale = n / side;
  for (let y = 0; y < side; y++) {
    const fy = Math.max(0, (y + 0.5) * scale - 0.5);
    const y0 = Math.floor(fy);
    const wy = fy - y0;
    for (let x = 0; x < side; x++) {
      const fx = Math.max(0, (x + 0.5) * scale - 0.5);
      const x0 = Math.floor(fx);
      const wx = fx - x0;
      for (let c = 0; c < 3; c++) {
        const v =
          (1 - wy) * ((1 - wx) * at(x0, y0, c) + wx * at(Math.min(x0 + 1, n - 1), y0, c)) +
          wy *
            ((1 - wx) * at(x0, Math.min(y0 + 1, n - 1), c) +
              wx * at(Math.min(x0 + 1, n - 1), Math.min(y0 + 1, n - 1), c));
        out[(y * side + x) * 3 + c] = Math.round(v);
      }
    }
  }
  return out;
}

/** A JPEG's pixels as RGB24 (UNSUPPORTED_MEDIA for anything else, or one larger than `maxMegapixels`). */
export function jpegToRgb(
  bytes: Uint8Array,
  maxMegapixels = 40,
): { rgb: Uint8Array; width: number; height: number } {
  if (bytes.length < 3 || bytes[0] !== 0xff || bytes[1] !== 0xd8) {
    throw new LvuError('UNSUPPORTED_MEDIA', 'the image is not a JPEG', {
      field: 'image',
      hint: 'send a JPEG (e.g. `ffmpeg -i in.png out.jpg`), base64-encoded',
    });
  }
  try {
    const d = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, maxResolutionInMP: maxMegapixels });
    return {
      rgb: new Uint8Array(d.data.buffer, d.data.byteOffset, d.data.byteLength),
      width: d.width,
      height: d.height,
    };
  } catch (err) {
    throw new LvuError('UNSUPPORTED_MEDIA', `the JPEG cannot be decoded: ${(err as Error).message}`, {
      field: 'image',
      hint: 'send a baseline or progressive JPEG of at most 40 megapixels',
      cause: err,
    });
  }
}
