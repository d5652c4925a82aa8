import { bilinearResize, svaKeyMask, type UnpadMode } from '@lvu/compress';
import { LvuError, type SampledFrame } from '@lvu/core';
import type { LongVuModels } from '@lvu/models';
import { type FrameEncoder, type FrameFeatures, frameImage, type TextEncoder } from '@lvu/operators';

/**
 * LongVU's networks from a model directory: DINOv2 on every sampled frame; SigLIP, the SVA (with the key mask of
 * the frame's padding when frames are padded to square) and the projector on kept frames. The 8×8 grid is the
 * bilinear resize of the SVA output before the projector (docs/longvu.md §b), so a question never re-runs a model.
 */
export class OnnxFrameEncoder implements FrameEncoder {
  readonly builtin = false;
  readonly description: string;
  readonly imageSizes: readonly number[];
  readonly highSide: number;
  readonly lowSide: number;
  readonly dim: number;
  readonly dinoThreshold: number;
  readonly newline: Float32Array;
  readonly #models: LongVuModels;
  readonly #dinoSize: number;
  readonly #siglipSize: number;
  readonly #padded: boolean;
  readonly #unpad: UnpadMode;

  constructor(models: LongVuModels, o: { padded: boolean; unpad: UnpadMode }) {
    this.#models = models;
    const lv = models.longvu;
    const cheap = Object.entries(models.m.precisions).filter(([, p]) => p !== 'float32');
    this.description = `ONNX models from ${models.m.dir} (${models.m.manifest.weights} weights${
      cheap.length ? `; ${cheap.map(([r, p]) => `${r} ${p}`).join(', ')}` : ''
    })`;
    this.#dinoSize = models.imageSize('dino');
    this.#siglipSize = models.imageSize('siglip');
    this.imageSizes = [...new Set([this.#dinoSize, this.#siglipSize])];
    this.highSide = lv.highGridSide;
    this.lowSide = lv.lowGridSide;
    this.dim = lv.llmDim;
    this.dinoThreshold = lv.dinoThreshold ?? 0.83;
    this.newline = models.m.newline;
    this.#padded = o.padded;
    this.#unpad = o.unpad;
  }

  dino(frame: SampledFrame): Promise<Float32Array> {
    return this.#models.encodeDino(frameImage(frame, this.#dinoSize));
  }

  async features(frame: SampledFrame, dinoTokens: Float32Array): Promise<FrameFeatures> {
    const m = this.#models;
    const S = this.highSide;
    const s = this.lowSide;
    const svaDim = m.longvu.svaDim;
    const siglip = await m.encodeSiglip(frameImage(frame, this.#siglipSize));
    const mask = this.#padded ? svaKeyMask(2 * S, [frame.height, frame.width], this.#unpad) : undefined;
    const sva = await m.fuse(dinoTokens, siglip, mask);
    const loSva = bilinearResize(sva, S, S, svaDim, s, s);
    // both are owned whole (the SVA output of this frame, a fresh resize) and not read again: moved, not copied
    const hi = await m.project(sva, S * S, { transfer: true });
    const lo = await m.project(loSva, s * s, { transfer: true });
    return { hi, lo };
  }

  close(): Promise<void> {
    return this.#models.close();
  }
}

/** The LLM's tokenizer and chat template with the text-embed model. */
export class OnnxTextEncoder implements TextEncoder {
  readonly description: string;
  readonly #models: LongVuModels;

  constructor(models: LongVuModels) {
    this.#models = models;
    this.description = `tokenizer and text embeddings from ${models.m.dir}`;
  }

  /** A model directory without an LLM tokenizer still runs the write path; its questions are refused here. */
  prompt(question: string): { pre: number[]; post: number[] } {
    const tok = this.#models.tokenizer;
    if (!tok) {
      throw new LvuError('MODEL_INVALID', `${this.#models.m.dir} has no LLM tokenizer: questions need one`, {
        field: 'llm.tokenizer',
        hint: 'export the models with an LLM (--llm tiny|7b, or --from-hf/--from-longvu with a tokenizer)',
      });
    }
    return tok.prompt(question);
  }

  embed(ids: readonly number[]): Promise<Float32Array> {
    return this.#models.embedText(ids);
  }
}
