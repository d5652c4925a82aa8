import { defineSchema, type SourceFactory, z } from '@lvu/core';
import { admitFfmpegSource } from './source-admit.js';
import { VideoSource } from './video-source.js';
import { videoSourceOptionsSchema } from './video-source-options.js';

/**
 * The options a declared stream (pipeline YAML, `POST /v1/streams`) takes for an FFmpeg source: the source's own,
 * less what the engine decides (stream id, image sizes), plus `realtime` (shorthand for pacing `realtime`).
 */
export const ffmpegStreamOptionsSchema = defineSchema(
  'ffmpeg source',
  videoSourceOptionsSchema.schema.omit({ streamId: true, sizes: true }).extend({
    realtime: z
      .boolean()
      .optional()
      .describe('replay a file at media speed, like a camera (shorthand for pacing: realtime)'),
  }),
);

/** Files, RTSP cameras, HTTP(S) files and HLS playlists, and lavfi test sources, decoded by FFmpeg 8 (node-av). */
export const ffmpegSource: SourceFactory<typeof ffmpegStreamOptionsSchema.schema> = {
  name: 'ffmpeg',
  description:
    'file paths, rtsp://, rtsps://, http(s):// (files, HLS) and lavfi: sources, decoded by FFmpeg 8',
  schemes: ['', 'file', 'rtsp', 'rtsps', 'http', 'https', 'lavfi'],
  options: ffmpegStreamOptionsSchema,
  admit: admitFfmpegSource,
  open(source, { realtime, ...o }, ctx) {
    return new VideoSource(
      source,
      {
        ...o,
        ...(realtime ? { pacing: 'realtime' as const } : {}),
        ...(ctx.resumeAfterMs !== undefined ? { startAfterMs: ctx.resumeAfterMs } : {}),
        streamId: ctx.streamId,
        sizes: [...ctx.sizes],
      },
      ctx.events,
    );
  },
};
