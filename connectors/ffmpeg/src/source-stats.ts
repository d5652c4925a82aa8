import { LvuError } from '@lvu/core';
import type { StreamInfo } from './worker-protocol.js';

export interface SourceStats {
  sampled: number;
  /** Frames dropped because the consumer was slower than the source (queue full). */
  droppedSlowConsumer: number;
  /** Packets the decoder could not decode (skipped). */
  corrupt: number;
  connects: number;
  reconnects: number;
  stalls: number;
  decoded: number;
  /** Non-reference frames the decoder skipped because no sampling instant needed them (exact sampling). */
  skippedNonReference: number;
  positionMs: number;
  durationMs: number | null;
  lastFrameWallMs: number | null;
  connected: boolean;
  info: StreamInfo | null;
  /** A file that ended before its stated duration: where it ended (null: complete, or not a file). */
  truncated: { positionMs: number; durationMs: number } | null;
  /** The last error while (re)connecting, until frames flow again (a camera or playlist that keeps failing). */
  lastError: { code: string; message: string; atMs: number } | null;
}

/** Counters of a source that has not started. */
export function emptyStats(): SourceStats {
  return {
    sampled: 0,
    droppedSlowConsumer: 0,
    corrupt: 0,
    connects: 0,
    reconnects: 0,
    stalls: 0,
    decoded: 0,
    skippedNonReference: 0,
    positionMs: 0,
    durationMs: null,
    lastFrameWallMs: null,
    connected: false,
    info: null,
    truncated: null,
    lastError: null,
  };
}

/** The warning for a file cut short: what was before the cut is used. */
export function truncatedError(source: string, positionMs: number, durationMs: number): LvuError {
  return new LvuError(
    'TRUNCATED_MEDIA',
    `${source} ends at ${(positionMs / 1000).toFixed(1)} s of its stated ${(durationMs / 1000).toFixed(1)} s`,
    { field: 'source', details: { positionMs, durationMs } },
  );
}

/** How one connection ended. */
export type Outcome = { kind: 'end' } | { kind: 'error'; error: LvuError } | { kind: 'stopped' };
