import { defineSchema, z } from '@lvu/core';

/**
 * Live sources reconnect with capped exponential backoff and jitter, forever unless `maxAttempts` is set: 250 ms
 * doubling to 2 s. The cap bounds
 * how long a camera that comes back waits to be picked up; one place, so the schema's two defaults cannot disagree.
 */
export const RECONNECT_DEFAULTS = {
  initialDelayMs: 250,
  maxDelayMs: 2000,
  factor: 2,
  jitter: 0.3,
} as const;

export const videoSourceOptionsSchema = defineSchema(
  'source',
  z.object({
    streamId: z.string().min(1).optional().describe('stream id; default derived from the source'),
    fps: z
      .number()
      .positive()
      .max(120)
      .default(1)
      .describe('sampling rate in frames per second of media time'),
    sizes: z
      .array(z.int().min(16).max(4096))
      .min(1)
      .default([384])
      .describe('square RGB sizes to produce per frame, e.g. [378, 384] for DINOv2 and SigLIP'),
    resize: z
      .enum(['pad', 'stretch', 'crop'])
      .default('pad')
      .describe("pad: LongVU's expand2square (pad with the mean colour, then resize); stretch; centre crop"),
    fill: z
      .tuple([z.int().min(0).max(255), z.int().min(0).max(255), z.int().min(0).max(255)])
      .default([127, 127, 127])
      .describe('padding colour (the processor mean: SigLIP 127,127,127; DINOv2 124,116,104)'),
    sampling: z
      .enum(['exact', 'keyframes'])
      .default('exact')
      .describe(
        'exact: the frame at every sampling instant (non-reference frames between instants are not decoded, see ' +
          'skipNonReference); keyframes: decode key frames only (faster, coarser timing)',
      ),
    skipNonReference: z
      .boolean()
      .default(true)
      .describe(
        'exact sampling of H.264/MPEG-2/MPEG-4 Part 2: frames no other frame references and no sampling instant ' +
          'needs are skipped by the decoder (the same frames are sampled)',
      ),
    pacing: z
      .enum(['fast', 'realtime'])
      .default('fast')
      .describe(
        'recordings: fast = as fast as consumed (lossless); realtime = at media speed, like a camera',
      ),
    dropPolicy: z
      .enum(['dropOldest', 'block'])
      .default('dropOldest')
      .describe('live and realtime sources: what a full queue does'),
    queueFrames: z.int().min(1).max(1024).default(8).describe('bound of the sampled-frame queue'),
    transport: z
      .enum(['auto', 'tcp', 'udp'])
      .default('auto')
      .describe(
        'RTSP transport: auto = TCP, falling back to UDP when the server refuses TCP (461 Unsupported Transport)',
      ),
    timeoutMs: z.int().min(100).default(5000).describe('open and read timeout for network sources'),
    stallTimeoutMs: z
      .int()
      .min(500)
      .default(10_000)
      .describe('live: no frame for this long = stalled, reconnect'),
    reconnect: z
      .object({
        maxAttempts: z
          .int()
          .min(1)
          .optional()
          .describe('connection attempts in a row before the source fails; forever when left out'),
        initialDelayMs: z.int().min(0).default(RECONNECT_DEFAULTS.initialDelayMs),
        maxDelayMs: z.int().min(0).default(RECONNECT_DEFAULTS.maxDelayMs),
        factor: z.number().min(1).default(RECONNECT_DEFAULTS.factor),
        jitter: z.number().min(0).max(1).default(RECONNECT_DEFAULTS.jitter),
      })
      .default(RECONNECT_DEFAULTS)
      .describe(
        'live sources: capped exponential backoff with jitter, forever by default; the cap bounds how long a camera ' +
          'that comes back waits to be picked up',
      ),
    autorotate: z
      .boolean()
      .default(true)
      .describe("apply the container's display rotation (a phone's rotate tag), like the FFmpeg CLI"),
    live: z
      .boolean()
      .optional()
      .describe(
        'treat the source as live (default: rtsp and live HLS playlists yes, files and other http no)',
      ),
    threads: z.int().min(0).max(16).default(1).describe('decoder threads per source (0 = FFmpeg decides)'),
    startAfterMs: z
      .number()
      .min(0)
      .optional()
      .describe(
        'recordings: sample only frames after this media time (set when a stream resumes after a restart)',
      ),
    inputOptions: z.record(z.string(), z.string()).default({}).describe('extra FFmpeg input options'),
  }),
);

export type VideoSourceOptions = z.output<typeof videoSourceOptionsSchema.schema>;
export type VideoSourceInput = z.input<typeof videoSourceOptionsSchema.schema>;
