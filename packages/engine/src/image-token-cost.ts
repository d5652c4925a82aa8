import { z } from '@lvu/core';

/**
 * What an image costs a served VLM in prompt tokens, per model family — the server's own arithmetic, so that lvu can
 * keep text + images within the budget without the server's tokenizer:
 * - `patches`: Qwen2/2.5-VL (14-pixel patches merged 2×2: one token per 28×28 pixels), Qwen3-VL (16 merged 2×2): the
 *   image is first resized to multiples of patch·merge within [minPixels, maxPixels] (Qwen's `smart_resize`), then
 *   costs (h/28)·(w/28) tokens, plus `extra` (<|vision_start|>, <|vision_end|>);
 * - `tiles`: SigLIP / LLaVA-OneVision: 729 tokens per 384² tile; an image over one tile costs its tiles and an
 *   overview tile;
 * - `fixed`: every image costs the same (Gemma 3: 256), whatever its size.
 */
export const imageTokenCostSchema = z.union([
  z.strictObject({
    patch: z.int().min(1).describe('vision patch side in pixels (Qwen2/2.5-VL 14, Qwen3-VL 16)'),
    merge: z.int().min(1).default(2).describe('patches merged per side into one token'),
    minPixels: z.int().min(1).default(3136),
    maxPixels: z.int().min(1).default(12_845_056),
    extra: z.int().min(0).default(2).describe('tokens around each image'),
  }),
  z.strictObject({
    tileSide: z.int().min(1).describe('tile side in pixels (SigLIP-so400m 384)'),
    tileTokens: z.int().min(1).describe('tokens per tile (729 = 27²)'),
    extra: z.int().min(0).default(1),
  }),
  z.strictObject({
    fixed: z.int().min(1).describe('tokens per image whatever its size (Gemma 3: 256)'),
    extra: z.int().min(0).default(2),
  }),
]);
export type ImageTokenCost = z.output<typeof imageTokenCostSchema>;

/** The families whose arithmetic is known, by name (`openai.family`). */
export const IMAGE_FAMILIES = {
  'qwen2-vl': { patch: 14, merge: 2, minPixels: 3136, maxPixels: 12_845_056, extra: 2 },
  'qwen3-vl': { patch: 16, merge: 2, minPixels: 4096, maxPixels: 16_777_216, extra: 2 },
  'llava-onevision': { tileSide: 384, tileTokens: 729, extra: 1 },
  gemma3: { fixed: 256, extra: 2 },
} as const satisfies Record<string, ImageTokenCost>;
export type ImageFamily = keyof typeof IMAGE_FAMILIES;

/** Qwen-VL's `smart_resize`: the size the server encodes a w×h image at (multiples of `factor`, pixels bounded). */
export function smartResize(
  w: number,
  h: number,
  factor: number,
  minPixels: number,
  maxPixels: number,
): [number, number] {
  let hh = Math.max(factor, Math.round(h / factor) * factor);
  let ww = Math.max(factor, Math.round(w / factor) * factor);
  if (hh * ww > maxPixels) {
    const beta = Math.sqrt((h * w) / maxPixels);
    hh = Math.max(factor, Math.floor(h / beta / factor) * factor);
    ww = Math.max(factor, Math.floor(w / beta / factor) * factor);
  } else if (hh * ww < minPixels) {
    const beta = Math.sqrt(minPixels / (h * w));
    hh = Math.ceil((h * beta) / factor) * factor;
    ww = Math.ceil((w * beta) / factor) * factor;
  }
  return [ww, hh];
}

/** Prompt tokens of one w×h image under `cost`. */
export function imageTokens(cost: ImageTokenCost, w: number, h: number): number {
  if ('fixed' in cost) return cost.fixed + cost.extra;
  if ('tileSide' in cost) {
    const tiles = Math.ceil(w / cost.tileSide) * Math.ceil(h / cost.tileSide);
    return (tiles > 1 ? tiles + 1 : 1) * cost.tileTokens + cost.extra;
  }
  const f = cost.patch * cost.merge;
  const [ww, hh] = smartResize(w, h, f, cost.minPixels, cost.maxPixels);
  return (ww / f) * (hh / f) + cost.extra;
}

/**
 * The JPEG sides that give LongVU's own token counts where size matters (patch families: 12×12 tokens for a
 * high-resolution frame, 8×8 for a low one, as LongVU's grids); tile and fixed families pay per image, so their
 * images are sent at what the model reads (one tile) and a half of it.
 */
export function defaultSides(cost: ImageTokenCost): { side: number; thumbSide: number } {
  if ('patch' in cost) return { side: 12 * cost.patch * cost.merge, thumbSide: 8 * cost.patch * cost.merge };
  if ('tileSide' in cost) return { side: cost.tileSide, thumbSide: cost.tileSide };
  return { side: 448, thumbSide: 224 };
}

/** Width and height of a baseline or progressive JPEG (its SOF marker), or null if it has none. */
export function jpegSize(b: Uint8Array): [number, number] | null {
  let i = 2;
  while (i + 9 < b.length) {
    if (b[i] !== 0xff) return null;
    const m = b[i + 1]!;
    const len = (b[i + 2]! << 8) | b[i + 3]!;
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
      return [(b[i + 7]! << 8) | b[i + 8]!, (b[i + 5]! << 8) | b[i + 6]!];
    }
    i += 2 + len;
  }
  return null;
}

/**
 * The prompt tokens of `text` counted without the server's tokenizer: one per digit (Qwen and Llama tokenizers
 * split numbers into digits; timestamps are mostly digits) and one per `bytesPerToken` other UTF-8 bytes — 3 is a
 * safe estimate for English with a large BPE vocabulary (they average about four); 1 is a strict upper bound for
 * any byte-level BPE tokenizer (Qwen, Llama 3, GPT-2: a token is at least one byte).
 */
export function estimateTextTokens(text: string, bytesPerToken = 3): number {
  const digits = text.replace(/[^0-9]/g, '').length;
  return digits + Math.ceil((Buffer.byteLength(text) - digits) / bytesPerToken);
}
