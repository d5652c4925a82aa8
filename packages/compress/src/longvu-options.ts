import { defineSchema, LvuError, z } from '@lvu/core';

/**
 * Every LongVU constant, named. Defaults are the values of the released `LongVU_Qwen2_7B` checkpoint and the
 * official code (docs/longvu.md); where the paper differs, its value is in the `paper` preset.
 */
export const longVuOptionsSchema = defineSchema(
  'compress',
  z
    .object({
      contextTokens: z
        .int()
        .positive()
        .default(8192)
        .describe('LLM context, `tokenizer_model_max_length` (docs/longvu.md §0)'),
      reserveTokens: z
        .int()
        .min(0)
        .default(16)
        .describe('tokens reserved for generation, `inference_max_length` (§0)'),
      highGridSide: z.int().positive().default(12).describe('high-resolution grid side: 12×12 = 144 (§b)'),
      lowGridSide: z.int().positive().default(8).describe('low-resolution grid side: 8×8 = 64 (§b)'),
      highres: z.boolean().default(true).describe('config.highres: high/low resolution mixing (§a gate, §b)'),
      dinoWindowFrames: z
        .int()
        .positive()
        .default(16)
        .describe('temporal-reduction window; the code uses 16, the paper 8 (§a)'),
      dinoThreshold: z
        .number()
        .finite()
        .default(0.83)
        .describe('frame kept iff mean window cosine < this (§a)'),
      maxFrames: z.int().positive().default(400).describe('uniform cap after temporal reduction (§a)'),
      stcThreshold: z
        .number()
        .finite()
        .default(0.7)
        .describe('STC drop_threshold: token kept iff cosine < this; 0.7 Qwen2-7B, 0.8 paper/Llama (§c)'),
      stcChunkFrames: z.int().positive().default(8).describe('STC chunk length in frames (§c)'),
      cosineEps: z.number().positive().default(1e-8).describe('F.cosine_similarity norm clamp (§c)'),
      newlineToken: z
        .boolean()
        .default(true)
        .describe('one image-newline token after every grid row: 156/72 tokens per square frame (§b)'),
      unpad: z
        .enum(['official', 'geometric', 'none'])
        .default('official')
        .describe(
          'official: the frame (H, W) is read as (width, height) like the released code; geometric: the correct ' +
            'orientation; none: keep the whole grid (§b)',
        ),
      recentHighResSeconds: z
        .number()
        .min(0)
        .default(0)
        .describe(
          'not LongVU: in mix mode the frames of the last N seconds take the high-resolution slots first, whatever ' +
            'their query score (N_h unchanged; 0 = off, LongVU-compatible)',
        ),
    })
    .refine((o) => o.lowGridSide <= o.highGridSide, {
      message: 'lowGridSide must not exceed highGridSide',
      path: ['lowGridSide'],
    }),
);

export type LongVuOptions = z.output<typeof longVuOptionsSchema.schema>;

export const LONGVU_PRESETS = {
  /** The released LongVU_Qwen2_7B video checkpoint (the defaults). */
  'longvu-qwen2-7b': {},
  /** LongVU_Llama3_2 checkpoints: trained with drop_threshold 0.8 (train_video_*.sh, Llama video config). */
  'longvu-llama3.2-3b': { stcThreshold: 0.8 },
  /** The paper's description: window 8, θ 0.8, 144/64 tokens per frame (no newline token, no unpad). */
  paper: { dinoWindowFrames: 8, stcThreshold: 0.8, newlineToken: false, unpad: 'none' },
} as const satisfies Record<string, Partial<LongVuOptions>>;

export type LongVuPreset = keyof typeof LONGVU_PRESETS;

/** Options from a preset (default `longvu-qwen2-7b`) with overrides, validated. */
export function longVuOptions(
  overrides: Partial<LongVuOptions> = {},
  preset: LongVuPreset = 'longvu-qwen2-7b',
) {
  const base = LONGVU_PRESETS[preset];
  if (base === undefined) {
    throw new LvuError('INVALID_CONFIG', `unknown preset "${preset}"`, {
      field: 'preset',
      hint: `use one of ${Object.keys(LONGVU_PRESETS).join(', ')}`,
    });
  }
  return longVuOptionsSchema.parse({ ...base, ...overrides });
}
