import { defineSchema, STREAM_ID_PATTERN, z } from '@lvu/core';
import { retentionOptionsSchema } from './engine-options.js';

/** A stream as the HTTP API and pipeline YAML declare it (keys = option names). */
export const streamSpecSchema = defineSchema(
  'stream',
  z.object({
    id: z.string().regex(STREAM_ID_PATTERN, "1–128 letters, digits, '.', '_' or '-'").describe('stream id'),
    source: z.string().min(1).max(4096).describe('file path, rtsp://, http(s):// or lavfi: URL'),
    fps: z
      .number()
      .positive()
      .max(120)
      .default(1)
      .describe('sampling rate (frames per second of media time)'),
    realtime: z.boolean().default(false).describe('replay a file at media speed, like a camera'),
    live: z.boolean().optional().describe('treat the source as live (default: rtsp yes, files no)'),
    transport: z
      .enum(['auto', 'tcp', 'udp'])
      .optional()
      .describe('RTSP transport (default auto: TCP, UDP when the server refuses TCP)'),
    timeoutMs: z.int().min(100).optional().describe('open/read timeout for network sources'),
    retention: retentionOptionsSchema.schema
      .partial()
      .optional()
      .describe('overrides of the engine retention'),
  }),
);
export type StreamSpecConfig = z.output<typeof streamSpecSchema.schema>;
export type StreamSpecInput = z.input<typeof streamSpecSchema.schema>;

/** The engine's StreamSpec for a declared stream. */
export function toStreamSpec(s: StreamSpecConfig): {
  id: string;
  source: string;
  sourceOptions: Record<string, unknown>;
  retention?: Record<string, unknown>;
} {
  return {
    id: s.id,
    source: s.source,
    sourceOptions: {
      fps: s.fps,
      pacing: s.realtime ? 'realtime' : 'fast',
      ...(s.live === undefined ? {} : { live: s.live }),
      ...(s.transport ? { transport: s.transport } : {}),
      ...(s.timeoutMs ? { timeoutMs: s.timeoutMs } : {}),
    },
    ...(s.retention ? { retention: s.retention } : {}),
  };
}
