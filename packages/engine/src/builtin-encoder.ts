import { bilinearResize } from '@lvu/compress';
import { LvuError, type SampledFrame } from '@lvu/core';
import type { FrameEncoder, FrameFeatures, TextEncoder } from '@lvu/operators';

/**
 * The embedded default: a weight-free stand-in for DINOv2 / SigLIP + SVA + projector, so the whole pipeline runs
 * (temporal reduction, retention, the LongVU read path with query scores, evidence) without any model file.
 * Each token of the 12×12 grid describes its 8×8-pixel cell of a 96×96 frame with 16 colour, brightness and
 * gradient statistics; the 24×24 "DINO" tokens are the centred mean colours of 4×4 cells. It understands
 * nothing: a real model directory (`--models`) replaces it.
 */
export const BUILTIN_FEATURES = [
  'red',
  'green',
  'blue',
  'luminance',
  'contrast',
  'edges-x',
  'edges-y',
  'redness',
  'greenness',
  'blueness',
  'saturation',
  'bright',
  'dark',
  'warmth',
  'edge-density',
  'yellowness',
] as const;

const SIZE = 96;
const DIM = BUILTIN_FEATURES.length;

export class BuiltinFrameEncoder implements FrameEncoder {
  readonly description =
    'built-in weight-free encoder (colour, brightness and gradient statistics; no model)';
  readonly builtin = true;
  readonly imageSizes = [SIZE];
  readonly highSide = 12;
  readonly lowSide = 8;
  readonly dim = DIM;
  /**
   * Colour statistics of a static scene sit closer together than DINOv2 features: on opencv's vtest.avi (people
   * walking past a fixed camera) window scores span 0.94–0.97, so 0.96 keeps about half the frames there.
   */
  readonly dinoThreshold = 0.96;
  readonly newline = Float32Array.from({ length: DIM }, (_, i) => (i === 4 ? 0.25 : 0));

  #image(frame: SampledFrame): Uint8Array {
    const img = frame.images[SIZE];
    if (!img || img.length !== SIZE * SIZE * 3) {
      throw new LvuError('SHAPE_MISMATCH', `the built-in encoder needs ${SIZE}×${SIZE} RGB frames`, {
        field: `images.${SIZE}`,
      });
    }
    return img;
  }

  async dino(frame: SampledFrame): Promise<Float32Array> {
    const img = this.#image(frame);
    const side = 24;
    const cell = SIZE / side;
    const out = new Float32Array(side * side * 4);
    for (let gy = 0; gy < side; gy++) {
      for (let gx = 0; gx < side; gx++) {
        let r = 0;
        let g = 0;
        let b = 0;
        for (let y = gy * cell; y < (gy + 1) * cell; y++) {
          for (let x = gx * cell; x < (gx + 1) * cell; x++) {
            const p = (y * SIZE + x) * 3;
            r += img[p]!;
            g += img[p + 1]!;
            b += img[p + 2]!;
          }
        }
        const n = cell * cell * 255;
        const o = (gy * side + gx) * 4;
        out[o] = r / n - 0.5;
        out[o + 1] = g / n - 0.5;
        out[o + 2] = b / n - 0.5;
        out[o + 3] = (0.299 * r + 0.587 * g + 0.114 * b) / n - 0.5;
      }
    }
    return out;
  }

  async features(frame: SampledFrame): Promise<FrameFeatures> {
    const img = this.#image(frame);
    const side = this.highSide;
    const cell = SIZE / side;
    const hi = new Float32Array(side * side * DIM);
    const lum = (x: number, y: number) => {
      const p = (y * SIZE + x) * 3;
      return (0.299 * img[p]! + 0.587 * img[p + 1]! + 0.114 * img[p + 2]!) / 255;
    };
    for (let gy = 0; gy < side; gy++) {
      for (let gx = 0; gx < side; gx++) {
        const f = new Float64Array(DIM);
        let lum2 = 0;
        for (let y = gy * cell; y < (gy + 1) * cell; y++) {
          for (let x = gx * cell; x < (gx + 1) * cell; x++) {
            const p = (y * SIZE + x) * 3;
            const r = img[p]! / 255;
            const g = img[p + 1]! / 255;
            const b = img[p + 2]! / 255;
            const l = 0.299 * r + 0.587 * g + 0.114 * b;
            const dx = x + 1 < SIZE ? Math.abs(lum(x + 1, y) - l) : 0;
            const dy = y + 1 < SIZE ? Math.abs(lum(x, y + 1) - l) : 0;
            f[0]! += r;
            f[1]! += g;
            f[2]! += b;
            f[3]! += l;
            lum2 += l * l;
            f[5]! += dx;
            f[6]! += dy;
            f[7]! += r - (g + b) / 2;
            f[8]! += g - (r + b) / 2;
            f[9]! += b - (r + g) / 2;
            f[10]! += Math.max(r, g, b) - Math.min(r, g, b);
            f[11]! += l > 0.7 ? 1 : 0;
            f[12]! += l < 0.3 ? 1 : 0;
            f[13]! += r - b;
            f[14]! += dx + dy > 0.1 ? 1 : 0;
            f[15]! += (r + g) / 2 - b;
          }
        }
        const n = cell * cell;
        for (let d = 0; d < DIM; d++) f[d] = f[d]! / n;
        f[4] = Math.sqrt(Math.max(0, lum2 / n - f[3]! * f[3]!));
        for (const d of [0, 1, 2, 3]) f[d] = f[d]! - 0.5;
        hi.set(f, (gy * side + gx) * DIM);
      }
    }
    const lo = bilinearResize(hi, side, side, DIM, this.lowSide, this.lowSide);
    return { hi, lo };
  }

  async close(): Promise<void> {}
}

const LEXICON: Record<string, Partial<Record<(typeof BUILTIN_FEATURES)[number], number>>> = {
  red: { redness: 1, warmth: 0.5 },
  green: { greenness: 1 },
  blue: { blueness: 1, warmth: -0.5 },
  yellow: { yellowness: 1 },
  orange: { redness: 0.5, yellowness: 0.5 },
  bright: { bright: 1, luminance: 0.5 },
  light: { bright: 1, luminance: 0.5 },
  white: { bright: 1, luminance: 0.5, saturation: -0.5 },
  dark: { dark: 1, luminance: -0.5 },
  black: { dark: 1, luminance: -0.5 },
  night: { dark: 1 },
  colour: { saturation: 1 },
  color: { saturation: 1 },
  colorful: { saturation: 1 },
  busy: { 'edge-density': 1, contrast: 0.5 },
  detail: { 'edge-density': 1 },
  edges: { 'edge-density': 1, 'edges-x': 0.5, 'edges-y': 0.5 },
};

/** A lexicon word or an inflection of one ("brightest", "reddish", "darker"). */
function lexiconEntry(word: string) {
  if (LEXICON[word]) return LEXICON[word];
  for (const k of Object.keys(LEXICON)) if (k.length >= 3 && word.startsWith(k)) return LEXICON[k];
  return undefined;
}

const SPECIAL = { imStart: 1, imEnd: 2 } as const;

/**
 * The built-in encoder's text side: words → ids by a stable hash, a Qwen2-shaped chat template, and embeddings in
 * the built-in feature space: colour and brightness words point at their feature (so "red" scores red frames
 * higher), every other word is a small fixed pseudo-random vector.
 */
export class BuiltinTextEncoder implements TextEncoder {
  readonly description = 'built-in word hashing with colour/brightness words mapped to the built-in features';
  readonly #words = new Map<number, string>();

  #encode(text: string): number[] {
    const ids: number[] = [];
    for (const m of text
      .toLowerCase()
      .matchAll(/<\|im_start\|>|<\|im_end\|>|[\p{L}\p{N}]+|[^\s\p{L}\p{N}]/gu)) {
      const w = m[0];
      if (w === '<|im_start|>') ids.push(SPECIAL.imStart);
      else if (w === '<|im_end|>') ids.push(SPECIAL.imEnd);
      else {
        let h = 2166136261;
        for (let i = 0; i < w.length; i++) h = Math.imul(h ^ w.charCodeAt(i), 16777619);
        const id = 3 + ((h >>> 0) % 32_000);
        this.#words.set(id, w);
        ids.push(id);
      }
    }
    return ids;
  }

  prompt(question: string): { pre: number[]; post: number[] } {
    return {
      pre: this.#encode('<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n'),
      post: this.#encode(`\n${question}<|im_end|>\n<|im_start|>assistant\n`),
    };
  }

  async embed(ids: readonly number[]): Promise<Float32Array> {
    const out = new Float32Array(ids.length * DIM);
    ids.forEach((id, i) => {
      const lex = lexiconEntry(this.#words.get(id) ?? '');
      if (lex) {
        for (const [k, v] of Object.entries(lex)) out[i * DIM + BUILTIN_FEATURES.indexOf(k as never)] = v;
        return;
      }
      let s = (id * 2654435761) >>> 0;
      for (let d = 0; d < DIM; d++) {
        s = (Math.imul(s, 1103515245) + 12345) >>> 0;
        out[i * DIM + d] = ((s / 2 ** 32) * 2 - 1) * 0.02;
      }
    });
    return out;
  }
}
