import { defineSchema, type FrameSource, type SampledFrame, type SourceFactory, z } from '@lvu/core';

/**
 * A source written only against core's SourceFactory interface (what an ONVIF or WebRTC connector would be): `fake:`
 * gives `count` flat frames of `colour` (0–255) at one per second of media time.
 */
export const fakeSource: SourceFactory = {
  name: 'fake',
  description: 'flat test frames of one colour',
  schemes: ['fake'],
  options: defineSchema(
    'fake source',
    z.strictObject({
      count: z.int().min(1).max(1000).default(20).describe('frames before the source ends'),
      colour: z.int().min(0).max(255).default(128).describe('grey level of every pixel'),
    }),
  ),
  open(source, options, ctx): FrameSource {
    const { count, colour } = options as { count: number; colour: number };
    let stopped = false;
    let produced = 0;
    return {
      description: source,
      get stats() {
        return { produced };
      },
      async stop() {
        stopped = true;
      },
      async *[Symbol.asyncIterator](): AsyncIterator<SampledFrame> {
        for (let seq = 0; seq < count && !stopped; seq++) {
          produced++;
          yield {
            streamId: ctx.streamId,
            seq,
            ptsMs: seq * 1000,
            wallMs: Date.now(),
            width: 64,
            height: 48,
            images: Object.fromEntries(ctx.sizes.map((s) => [s, new Uint8Array(s * s * 3).fill(colour)])),
          };
        }
      },
    };
  },
};
