import { describe, expect, it } from 'vitest';
import { displayRotation, padInto, resizePlan, rotateRgb } from './preprocess.js';

describe('resizePlan', () => {
  it('pad: 16:9 fits the width and is centred vertically, like expand2square then resize', () => {
    expect(resizePlan(1280, 720, 384, 'pad')).toEqual({
      crop: { x: 0, y: 0, width: 1280, height: 720 },
      width: 384,
      height: 216,
      offsetX: 0,
      offsetY: 84,
    });
    expect(resizePlan(720, 1280, 378, 'pad')).toMatchObject({
      width: 213,
      height: 378,
      offsetX: 82,
      offsetY: 0,
    });
    expect(resizePlan(500, 500, 224, 'pad')).toMatchObject({
      width: 224,
      height: 224,
      offsetX: 0,
      offsetY: 0,
    });
  });

  it('stretch and crop', () => {
    expect(resizePlan(1280, 720, 384, 'stretch')).toMatchObject({
      width: 384,
      height: 384,
      offsetX: 0,
      offsetY: 0,
    });
    expect(resizePlan(1280, 720, 384, 'crop').crop).toEqual({ x: 280, y: 0, width: 720, height: 720 });
  });
});

describe('padInto', () => {
  it('fills the border with the mean colour and copies the rows', () => {
    const img = Uint8Array.from({ length: 2 * 1 * 3 }, (_, i) => 200 + i);
    const out = padInto(img, 2, 1, 2, 0, 1, [1, 2, 3]);
    expect(Array.from(out)).toEqual([1, 2, 3, 1, 2, 3, 200, 201, 202, 203, 204, 205]);
  });
});

describe('rotation', () => {
  const m = (a: number, b: number, c: number, d: number) => new Int32Array([a, b, 0, c, d, 0, 0, 0, 1 << 30]);
  const one = 65536;

  it('reads the clockwise quarter turn of a display matrix as the FFmpeg CLI applies it', () => {
    expect(displayRotation(null)).toBe(0);
    expect(displayRotation(m(one, 0, 0, one))).toBe(0);
    // the matrix FFmpeg writes for `-metadata:s:v rotate=90`; the CLI shows that file turned counter-clockwise
    expect(displayRotation(m(0, -one, one, 0))).toBe(270);
    expect(displayRotation(m(0, one, -one, 0))).toBe(90);
    expect(displayRotation(m(-one, 0, 0, -one))).toBe(180);
    expect(displayRotation(m(2000, -one, one, 2000))).toBe(270); // nearly a quarter turn
    expect(displayRotation(new Int32Array(9))).toBe(0);
  });

  it('rotates packed RGB clockwise', () => {
    // 3×2 image, pixel value = its index
    const w = 3;
    const h = 2;
    const img = new Uint8Array(w * h * 3).map((_, i) => Math.floor(i / 3));
    const px = (a: Uint8Array) => Array.from({ length: a.length / 3 }, (_, i) => a[i * 3]);
    // 0 1 2        3 0
    // 3 4 5   →    4 1   (90° clockwise: 2 wide, 3 high)
    //              5 2
    expect(px(rotateRgb(img, w, h, 90))).toEqual([3, 0, 4, 1, 5, 2]);
    expect(px(rotateRgb(img, w, h, 180))).toEqual([5, 4, 3, 2, 1, 0]);
    expect(px(rotateRgb(img, w, h, 270))).toEqual([2, 5, 1, 4, 0, 3]);
    expect(rotateRgb(img, w, h, 0)).toBe(img);
  });
});
