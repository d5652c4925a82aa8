import { LvuError } from '@lvu/core';
import { describe, expect, it } from 'vitest';
import { LONGVU_PRESETS, longVuOptions, longVuOptionsSchema } from './longvu-options.js';

describe('longVuOptions', () => {
  it('defaults are the released LongVU_Qwen2_7B values', () => {
    expect(longVuOptions()).toEqual({
      contextTokens: 8192,
      reserveTokens: 16,
      highGridSide: 12,
      lowGridSide: 8,
      highres: true,
      dinoWindowFrames: 16,
      dinoThreshold: 0.83,
      maxFrames: 400,
      stcThreshold: 0.7,
      stcChunkFrames: 8,
      cosineEps: 1e-8,
      newlineToken: true,
      unpad: 'official',
      recentHighResSeconds: 0,
    });
  });

  it('presets carry the paper and Llama values; overrides win', () => {
    expect(longVuOptions({}, 'paper')).toMatchObject({
      dinoWindowFrames: 8,
      stcThreshold: 0.8,
      newlineToken: false,
    });
    expect(longVuOptions({}, 'longvu-llama3.2-3b').stcThreshold).toBe(0.8);
    expect(longVuOptions({ stcThreshold: 0.65 }, 'paper').stcThreshold).toBe(0.65);
    expect(Object.keys(LONGVU_PRESETS)).toEqual(['longvu-qwen2-7b', 'longvu-llama3.2-3b', 'paper']);
  });

  it('validation errors name the field', () => {
    const bad = (o: object, field: string) => {
      try {
        longVuOptionsSchema.parse(o);
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(LvuError);
        expect((e as LvuError).code).toBe('INVALID_CONFIG');
        expect((e as LvuError).field).toBe(field);
      }
    };
    bad({ contextTokens: -1 }, 'contextTokens');
    bad({ contextTokens: 0 }, 'contextTokens');
    bad({ dinoWindowFrames: 2.5 }, 'dinoWindowFrames');
    bad({ unpad: 'sideways' }, 'unpad');
    bad({ stcThreshold: 'high' }, 'stcThreshold');
    bad({ lowGridSide: 13 }, 'lowGridSide');
    expect(() => longVuOptions({}, 'nope' as 'paper')).toThrow(expect.objectContaining({ field: 'preset' }));
  });
});
