import { resolve } from 'node:path';
import type { SampledFrame } from '@lvu/core';
import { VideoSource } from '@lvu/ffmpeg';
import { LongVuModels } from '@lvu/models';
import { describe, expect, it } from 'vitest';
import { VTEST } from './support/media.js';
import { repoRoot } from './support/paths.js';

describe('ingest → models (real footage through the tiny real-architecture models)', () => {
  it('samples vtest.avi at the sizes the encoders ask for and fuses every frame to projected LLM tokens', async () => {
    const models = await LongVuModels.open(resolve(repoRoot, 'tests/fixtures/models/tiny'));
    try {
      const dinoSize = models.imageSize('dino');
      const siglipSize = models.imageSize('siglip');
      const src = new VideoSource(VTEST, { fps: 1, sizes: [dinoSize, siglipSize] });
      const frames: SampledFrame[] = [];
      for await (const f of src) {
        frames.push(f);
        if (frames.length === 6) break;
      }
      const S = models.longvu.highGridSide;
      const out = await Promise.all(
        frames.map(async (f) => {
          const [d, s] = await Promise.all([
            models.encodeDino(f.images[dinoSize]!),
            models.encodeSiglip(f.images[siglipSize]!),
          ]);
          return models.project(await models.fuse(d, s), S * S);
        }),
      );
      expect(out).toHaveLength(6);
      for (const e of out) expect(e.length).toBe(S * S * models.longvu.llmDim);
      // a static camera: consecutive frames are close but not identical
      expect(Array.from(out[0]!.subarray(0, 16))).not.toEqual(Array.from(out[5]!.subarray(0, 16)));
    } finally {
      await models.close();
    }
  });
});
