import type { ResizeMode } from './preprocess.js';

/** What the main thread hands the decode worker. */
export interface DecodeJob {
  url: string;
  kind: 'file' | 'rtsp' | 'http' | 'lavfi';
  fps: number;
  /** Square output sizes, e.g. [378, 384]. */
  sizes: number[];
  resize: ResizeMode;
  fill: [number, number, number];
  sampling: 'exact' | 'keyframes';
  /** Exact sampling: let the decoder skip non-reference frames the sampler would not take. */
  skipNonReference: boolean;
  /** fast: wait for credits (lossless); realtime: pace to media time, drop when out of credits; live: drop. */
  pacing: 'fast' | 'realtime' | 'live';
  transport: 'tcp' | 'udp';
  timeoutMs: number;
  /** Live: no frame for this long is a stall (bounds how long a live HLS playlist without new segments is reloaded). */
  stallTimeoutMs: number;
  /** Extra FFmpeg input options. */
  inputOptions: Record<string, string>;
  /** Int32Array over it: [0] credits, [1] stop flag. */
  control: SharedArrayBuffer;
  threads: number;
  /** Apply the container's display rotation (quarter turns), like the FFmpeg CLI. */
  autorotate: boolean;
  /** Recordings: sample only frames after this media time (a stream resumed after a restart); -1: from the start. */
  startAfterMs: number;
}

export interface StreamInfo {
  /** The picture as shown (after the container's rotation). */
  width: number;
  height: number;
  /** Clockwise quarter turns applied to bring the picture upright (0 when the container asks for none). */
  rotation: number;
  codec: string;
  durationMs: number | null;
  fps: number | null;
  format: string;
  /** A live HLS playlist (no end, no duration): supervised like a camera. */
  liveHls: boolean;
}

export type WorkerMessage =
  | { type: 'open'; info: StreamInfo }
  | {
      type: 'frame';
      ptsMs: number;
      sourcePtsMs: number;
      width: number;
      height: number;
      sizes: number[];
      images: ArrayBuffer[];
    }
  | { type: 'resized'; width: number; height: number }
  | { type: 'corrupt'; count: number; message: string }
  | { type: 'dropped'; count: number }
  | { type: 'progress'; positionMs: number; decoded: number; skipped: number }
  | { type: 'truncated'; positionMs: number; durationMs: number; corrupt: number }
  | { type: 'end' }
  | { type: 'error'; code: string; message: string; retriable: boolean; hint?: string };

export const CREDITS = 0;
export const STOP = 1;
