import type { FeatureRow } from '@lvu/arrow';
import { assertFiniteFrame } from '@lvu/compress';
import type { FrameEncoder } from './frame-encoder.js';
import { downscaleRgb, rgbToJpeg, thumbnail } from './images.js';
import type { Scored } from './score-frames.js';

/**
 * A kept frame's row of its FeatureBatch: the encoder's grids (checked finite), a thumbnail, and the JPEGs an
 * image-input backend needs (`evidence` sides; none without one).
 */
export async function keptRow(
  encoder: FrameEncoder,
  { frame, dino }: Scored,
  evidence: { side: number; thumbSide: number } | null,
): Promise<FeatureRow> {
  const f = await encoder.features(frame, dino);
  assertFiniteFrame({ id: frame.seq, hi: f.hi, lo: f.lo }, `frame ${frame.seq}`);
  const img = evidence ? frame.images[evidence.side] : undefined;
  const objects = encoder.objects ? await encoder.objects(frame) : undefined;
  return {
    streamId: frame.streamId,
    seq: frame.seq,
    ptsMs: frame.ptsMs,
    wallMs: frame.wallMs,
    frameH: frame.height,
    frameW: frame.width,
    hi: f.hi,
    lo: f.lo,
    thumb: thumbnail(frame),
    ...(objects ? { objects } : {}),
    ...(evidence && img
      ? {
          jpeg: rgbToJpeg(img, evidence.side),
          jpegSmall:
            evidence.thumbSide < evidence.side
              ? rgbToJpeg(downscaleRgb(img, evidence.side, evidence.thumbSide), evidence.thumbSide)
              : rgbToJpeg(img, evidence.side),
        }
      : {}),
  };
}
