import { LvuError, type SampledFrame } from '@lvu/core';

/** The token grids of one kept frame after SVA + projector, as the context stores them. */
export interface FrameFeatures {
  /** highSide² × dim, row-major, before unpad and newlines. */
  hi: Float32Array;
  /** lowSide² × dim: LongVU's 8×8 grid, bilinearly resized from the SVA output before the projector. */
  lo: Float32Array;
}

/**
 * The vision side of the write path. The engine calls `dino` on every sampled frame (the temporal-reduction gate)
 * and `features` only on kept frames. Implementations: `OnnxFrameEncoder` (LongVU's networks from a model
 * directory) and `BuiltinFrameEncoder` (weight-free, the embedded default).
 */
export interface FrameEncoder {
  /** What it is, for outputs and logs. */
  readonly description: string;
  /** True for the weight-free stand-in. */
  readonly builtin: boolean;
  /** Square RGB sizes the source must produce per frame (DINO's and SigLIP's input sizes). */
  readonly imageSizes: readonly number[];
  readonly highSide: number;
  readonly lowSide: number;
  /** Width of the projected tokens (the LLM's hidden size). */
  readonly dim: number;
  /** The DINO similarity threshold its features were calibrated for (the manifest's; LongVU's 0.83). */
  readonly dinoThreshold: number;
  /**
   * Where known, the cosine of two frames' mean low-resolution tokens above which they show the same content:
   * evidence ranges then extend over the scene of their best frame (the starter set's 0.8).
   */
  readonly sceneThreshold?: number;
  /** The image-newline vector (dim). */
  readonly newline: Float32Array;
  /** Temporal-reduction features of one frame (flattened tokens × channels). */
  dino(frame: SampledFrame): Promise<Float32Array>;
  /** Projected grids of one kept frame; `dinoTokens` is what `dino` returned for it. */
  features(frame: SampledFrame, dinoTokens: Float32Array): Promise<FrameFeatures>;
  /**
   * An object detector's class names (COCO's 80 for the starter set's), when the encoder has one; `objects` then
   * gives a kept frame's objects (`FeatureRow.objects`: class index, score, box; best first).
   */
  readonly objectClasses?: readonly string[];
  /** Each object class's WordNet lemmas up the tree, where known: a question's "vehicle" names its hyponyms. */
  readonly objectHypernyms?: readonly (readonly string[])[];
  objects?(frame: SampledFrame): Promise<Float32Array>;
  close(): Promise<void>;
}

/** The text side of the read path: the chat template split at the image, and the LLM's token embeddings. */
export interface TextEncoder {
  readonly description: string;
  /** Token ids before and after the `<image>` placeholder of the chat prompt for `question`. */
  prompt(question: string): { pre: number[]; post: number[] };
  /** Token ids → embeddings (ids.length × dim). */
  embed(ids: readonly number[]): Promise<Float32Array>;
}

/** A frame's size×size RGB image, or SHAPE_MISMATCH when the source was not asked for that size. */
export function frameImage(frame: SampledFrame, size: number): Uint8Array {
  const img = frame.images[size];
  if (!img) {
    throw new LvuError('SHAPE_MISMATCH', `frame ${frame.seq} has no ${size}×${size} image`, {
      field: `images.${size}`,
    });
  }
  return img;
}
