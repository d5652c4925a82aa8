import { describe, expect, it } from 'vitest';
import { padInto, resizePlan } from './preprocess.js';

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
