import { LvuError } from '@lvu/core';
import {
  buildFeatureBatch,
  type FeatureRow,
  featureRows,
  featureSchema,
  fromIpc,
  toIpc,
} from './feature-batch.js';

/**
 * One closed temporal-reduction window of a stream after its kept frames were encoded: what the write path adds to
 * a context, and what an edge that has the models publishes (`encodeWindow`) instead of raw frames.
 */
export interface FeatureWindow {
  streamId: string;
  /** Window number from the stream start, index of its first frame, frames in it. */
  window: number;
  start: number;
  frames: number;
  /** The seq, pts and wall time of the window's last frame (a checkpoint covers the stream up to it). */
  lastSeq: number;
  lastPtsMs: number;
  lastWallMs: number;
  /** The kept frames, in order, and the temporal-reduction score of each. */
  rows: FeatureRow[];
  scores: number[];
}

const FORMAT = 'lvu-window/1';

/**
 * A window as one Arrow IPC stream: a FeatureBatch of its kept frames (float32, or float16 for half the bytes), the
 * window in the schema metadata.
 */
export function encodeWindow(w: FeatureWindow, precision: 'float32' | 'float16' = 'float32'): Uint8Array {
  const first = w.rows[0];
  const schema = featureSchema(
    { hiValues: first?.hi.length ?? 0, loValues: first?.lo.length ?? 0, precision },
    {
      format: FORMAT,
      window: JSON.stringify({
        streamId: w.streamId,
        window: w.window,
        start: w.start,
        frames: w.frames,
        lastSeq: w.lastSeq,
        lastPtsMs: w.lastPtsMs,
        lastWallMs: w.lastWallMs,
        scores: w.scores,
      }),
    },
  );
  return toIpc(w.rows.length ? [buildFeatureBatch(w.rows, schema)] : [], schema);
}

const bad = (what: string, field = 'window') =>
  new LvuError('MALFORMED_MESSAGE', `feature window: ${what}`, { field });

/** Bytes from `encodeWindow` → the window; its grids are zero-copy views into `bytes`. Validated field by field. */
export function decodeWindow(bytes: Uint8Array): FeatureWindow {
  const table = fromIpc(bytes);
  const meta = table.schema.metadata;
  if (meta.get('format') !== FORMAT)
    throw bad(`format is ${meta.get('format') ?? 'missing'}, not ${FORMAT}`, 'format');
  let m: Record<string, unknown>;
  try {
    m = JSON.parse(meta.get('window') ?? '');
  } catch {
    throw bad('window metadata is not JSON');
  }
  for (const k of ['window', 'start', 'frames', 'lastSeq', 'lastPtsMs', 'lastWallMs'] as const) {
    if (typeof m[k] !== 'number' || !Number.isFinite(m[k])) throw bad(`${k} must be a number`, k);
  }
  if (typeof m.streamId !== 'string' || !m.streamId) throw bad('streamId must be a string', 'streamId');
  const rows = table.batches.flatMap((b) => featureRows(b));
  const scores = m.scores;
  if (!Array.isArray(scores) || scores.length !== rows.length || scores.some((s) => typeof s !== 'number')) {
    throw bad(`scores must be one number per kept frame (${rows.length})`, 'scores');
  }
  if ((m.frames as number) < rows.length || (m.frames as number) < 1)
    throw bad('frames must cover the kept frames', 'frames');
  for (const r of rows) {
    if (r.streamId !== m.streamId)
      throw bad(`row of stream ${r.streamId} in a window of ${m.streamId}`, 'streamId');
    if (r.seq > (m.lastSeq as number))
      throw bad(`kept frame ${r.seq} after the window's last ${m.lastSeq}`, 'seq');
  }
  return {
    streamId: m.streamId,
    window: m.window as number,
    start: m.start as number,
    frames: m.frames as number,
    lastSeq: m.lastSeq as number,
    lastPtsMs: m.lastPtsMs as number,
    lastWallMs: m.lastWallMs as number,
    rows,
    scores: scores as number[],
  };
}
