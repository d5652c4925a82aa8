import type { FeatureWindow } from '@lvu/arrow';
import { isStreamId, LvuError, type SampledFrame, type SnapshotStore } from '@lvu/core';
import {
  ContextStore,
  downscaleRgb,
  type Engine,
  type QueryResult,
  type QuestionInput,
  type StandingAnswer,
} from '@lvu/engine';
import type { IncomingMessage, OutgoingMessage } from '@lvu/kafka';
import type { EdgeDecision } from './edge-sessions.js';
import { EPOCH_HEADER } from './wire-format.js';

/**
 * What the Kafka worker does to a message between the wire and a stream's queue, as functions: a restarted edge's
 * window moved into the stream's seq and time, a window checked against this worker's geometry, a frame's images
 * completed to the sizes the encoders take, what a message that is skipped or dead-lettered says, and a question about
 * a stream another worker owns answered from its checkpoint.
 */

/** A window of a restarted edge moved into the stream's seq and media time. */
export function shiftWindow(w: FeatureWindow, base: number, ptsShiftMs: number): FeatureWindow {
  if (base === 0 && ptsShiftMs === 0) return w;
  return {
    ...w,
    start: w.start + base,
    lastSeq: w.lastSeq + base,
    lastPtsMs: w.lastPtsMs + ptsShiftMs,
    rows: w.rows.map((r) => ({ ...r, seq: r.seq + base, ptsMs: r.ptsMs + ptsShiftMs })),
  };
}

/**
 * A window from an edge: its grids must have this worker's geometry (same models); they are copied out of the
 * message, whose buffer the Kafka client shares with the rest of its fetch.
 */
export function checkWindow(
  w: FeatureWindow,
  g: { dim: number; highGridSide: number; lowGridSide: number },
): FeatureWindow {
  const { dim, highGridSide: h, lowGridSide: l } = g;
  for (const r of w.rows) {
    if (r.hi.length !== h * h * dim || r.lo.length !== l * l * dim) {
      throw new LvuError(
        'SHAPE_MISMATCH',
        `frame ${r.seq}: grids of ${r.hi.length} and ${r.lo.length} values, this worker's models need ${h}²×${dim} and ${l}²×${dim} (publish with the same models)`,
        { field: 'hi' },
      );
    }
  }
  return {
    ...w,
    rows: w.rows.map((r) => ({ ...r, hi: r.hi.slice(), lo: r.lo.slice(), thumb: r.thumb.slice() })),
  };
}

/** Frames published at other sizes: each size the encoders need is box-downscaled from a larger image. */
export function adaptFrame(f: SampledFrame, sizes: readonly number[]): SampledFrame {
  const have = Object.keys(f.images).map(Number);
  for (const need of sizes) {
    if (f.images[need]) continue;
    const from = have.filter((s) => s >= need).sort((a, b) => a - b)[0];
    if (from !== undefined) f.images[need] = downscaleRgb(f.images[from]!, from, need);
  }
  return f;
}

/** The mark that closes a frame stream's open window: the edge publishing it ended its session after `seq`. */
export function sessionEndFrame(streamId: string, seq: number): SampledFrame {
  return { streamId, seq, ptsMs: 0, wallMs: Date.now(), width: 0, height: 0, images: {}, sessionEnd: true };
}

/** Why a message of a stale edge session, or one whose seq jumps ahead, is dead-lettered. */
export function skipError(
  id: string,
  epoch: number,
  d: Extract<EdgeDecision, { kind: 'stale' | 'jump' }>,
): LvuError {
  return d.kind === 'stale'
    ? new LvuError(
        'MALFORMED_MESSAGE',
        `stream ${id}: message of edge session ${epoch}, older than the session ${d.current} now publishing it`,
        {
          field: EPOCH_HEADER,
          hint: 'two edges publish this stream id, or old messages were replayed: give each edge its own --stream-id',
        },
      )
    : new LvuError(
        'MALFORMED_MESSAGE',
        `stream ${id}: seq jumps ahead by ${d.frames} frames in ${Math.round(d.mediaMs)} ms of media time`,
        { field: 'seq', hint: 'seq must count the frames of one edge session: check the producer' },
      );
}

/** A message as the dead-letter topic keeps it: as it came, with the reason and where it came from in headers. */
export function deadLetter(m: IncomingMessage, err: unknown): OutgoingMessage {
  const e = err instanceof LvuError ? err : new LvuError('MALFORMED_MESSAGE', String(err), { cause: err });
  return {
    key: m.key ?? '',
    value: m.value,
    headers: {
      'lvu-error': e.code,
      'lvu-reason': e.message.slice(0, 500),
      'lvu-source': `${m.topic}/${m.partition}/${m.offset}`,
    },
  };
}

/**
 * A question about a stream another worker owns, answered from the owner's latest checkpoint in the shared snapshot
 * store (STREAM_NOT_FOUND when there is none).
 */
export async function answerFromCheckpoint(
  engine: Engine,
  snapshots: SnapshotStore | null,
  id: string,
  input: QuestionInput,
): Promise<QueryResult & { servedFrom: 'snapshot' }> {
  const snapshot = snapshots && isStreamId(id) ? await snapshots.load(id) : null;
  if (!snapshot) {
    throw new LvuError(
      'STREAM_NOT_FOUND',
      `no stream ${id} here and no checkpoint of it in ${snapshots?.location ?? 'a snapshot store (none configured)'}`,
      { field: 'id' },
    );
  }
  const r = await engine.queryStore(ContextStore.restore(snapshot), input);
  return { ...r, servedFrom: 'snapshot' };
}

/** A standing answer as the answers topic carries it: JSON, keyed by stream id, its trigger in a header. */
export function answerMessage(a: StandingAnswer): OutgoingMessage {
  return {
    key: a.stream,
    value: new TextEncoder().encode(JSON.stringify(a)),
    headers: { 'lvu-trigger': a.trigger, 'content-type': 'application/json' },
  };
}
