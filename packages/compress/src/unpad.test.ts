import { describe, expect, it } from 'vitest';
import { tokenGridLayout } from './token-grid.js';
import { lowResImageSize, svaKeyMask, unpadBounds } from './unpad.js';

describe('unpadBounds', () => {
  it('official: a 16:9 landscape frame passed as (H, W) keeps the centre columns (the quirk)', () => {
    expect(unpadBounds(12, 12, [720, 1280], 'official')).toEqual([0, 12, 3, 9]);
    expect(unpadBounds(8, 8, lowResImageSize([720, 1280], 12, 8), 'official')).toEqual([0, 8, 2, 6]);
    expect(unpadBounds(12, 12, [1280, 720], 'official')).toEqual([3, 9, 0, 12]);
  });

  it('geometric: the same frame keeps the centre rows, like a letterbox', () => {
    expect(unpadBounds(12, 12, [720, 1280], 'geometric')).toEqual([3, 9, 0, 12]);
    expect(unpadBounds(12, 12, [1280, 720], 'geometric')).toEqual([0, 12, 3, 9]);
  });

  it('none keeps the grid; square frames keep it in every mode', () => {
    expect(unpadBounds(12, 12, [720, 1280], 'none')).toEqual([0, 12, 0, 12]);
    for (const m of ['official', 'geometric'] as const)
      expect(unpadBounds(12, 12, [384, 384], m)).toEqual([0, 12, 0, 12]);
  });

  it('an empty slice falls back to the full grid (extreme aspect ratios)', () => {
    expect(unpadBounds(12, 12, [100, 2000], 'official')).toEqual([0, 12, 0, 12]);
    expect(unpadBounds(12, 12, [2000, 100], 'official')).toEqual([0, 12, 0, 12]);
  });
});

describe('svaKeyMask', () => {
  it('official: a 16:9 frame given as (H, W) hides the side columns of the 24×24 maps, like unmask_attention_mask', () => {
    const m = svaKeyMask(24, [720, 1280], 'official');
    // (w, h) read as (720, 1280): new width int(720 · 24/1280) = 13, padding (24 − 13) // 2 = 5 columns each side
    for (let r = 0; r < 24; r++)
      for (let c = 0; c < 24; c++) expect(m[r * 24 + c], `${r},${c}`).toBe(c >= 5 && c < 19 ? 1 : 0);
  });

  it('geometric hides the letterbox rows; square frames and none see everything', () => {
    const g = svaKeyMask(24, [720, 1280], 'geometric');
    expect(Array.from(g.subarray(0, 24)).every((v) => v === 0)).toBe(true);
    expect(Array.from(g.subarray(5 * 24, 6 * 24)).every((v) => v === 1)).toBe(true);
    expect(svaKeyMask(24, [384, 384], 'official').every((v) => v === 1)).toBe(true);
    expect(svaKeyMask(24, [720, 1280], 'none').every((v) => v === 1)).toBe(true);
  });
});

describe('tokenGridLayout', () => {
  it('156/72 tokens for square frames, 84/40 for 16:9 with the official unpad; 144/64 without newlines', () => {
    expect(tokenGridLayout(12, [384, 384], 'official', true).perFrame).toBe(156);
    expect(tokenGridLayout(8, [256, 256], 'official', true).perFrame).toBe(72);
    expect(tokenGridLayout(12, [720, 1280], 'official', true).perFrame).toBe(84);
    expect(tokenGridLayout(8, lowResImageSize([720, 1280], 12, 8), 'official', true).perFrame).toBe(40);
    expect(tokenGridLayout(12, [480, 640], 'official', true).perFrame).toBe(132);
    expect(tokenGridLayout(12, [720, 1280], 'none', false).perFrame).toBe(144);
  });

  it('lists grid cells row-major with −1 for the newline after each row', () => {
    const l = tokenGridLayout(4, [720, 1280], 'official', true); // 4×4 grid, 16:9 → columns 1..2
    expect(l.bounds).toEqual([0, 4, 1, 3]);
    expect(Array.from(l.offsets)).toEqual([1, 2, -1, 5, 6, -1, 9, 10, -1, 13, 14, -1]);
  });
});
