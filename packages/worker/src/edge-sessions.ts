/**
 * What identifies a stream's frames across edge restarts. An edge (`lvu ingest --to`) numbers its frames from 0 and
 * stamps every message with its epoch (`lvu-epoch` header: the edge process's start time in ms). Per stream, the
 * worker maps each (epoch, edge seq) to the stream's own seq and media time:
 * - same epoch, seq at or below the last taken: a redelivery (`duplicate`);
 * - same epoch, a seq further ahead than media time allows at 120 fps: refused (`jump`), so one stray message cannot
 *   hide the rest of the stream;
 * - a newer epoch: the edge restarted; its frames continue the stream after the last one (seq and media time move
 *   on; a restarted file edge's media time starts again at 0, so it is shifted past the last frame);
 * - an older epoch: a stale edge (another process still publishing under the same id, or old messages): `stale`.
 * Messages without the header are epoch 0 (older edges, hand-written messages). The state in effect at a checkpoint
 * goes into the snapshot (`stateAt`), so a restored worker maps the replayed messages exactly as before.
 */
export interface EdgeState {
  /** null: restored from a snapshot that did not record it; the first epoch seen is adopted. */
  epoch: number | null;
  /** stream seq = edge seq + base; stream pts = edge pts + ptsShiftMs. */
  base: number;
  ptsShiftMs: number;
  lastEdgeSeq: number;
  lastSeq: number;
  lastPtsMs: number;
  lastWallMs: number;
}

export type EdgeDecision =
  | { kind: 'take'; base: number; ptsShiftMs: number; restartedFrom?: number | null }
  | { kind: 'duplicate' }
  | { kind: 'stale'; current: number }
  | { kind: 'jump'; frames: number; mediaMs: number };

/** Highest sampling rate lvu takes (the ingest schema's bound): seq cannot advance faster than this. */
const MAX_FPS = 120;

export class EdgeSessions {
  readonly #state = new Map<string, EdgeState>();
  /** Per stream: how seqs mapped since the last checkpoint (kept only when `history` is on). */
  readonly #history = new Map<string, { seq: number; state: EdgeState }[]>();
  readonly #keepHistory: boolean;

  constructor(o: { history?: boolean } = {}) {
    this.#keepHistory = o.history ?? false;
  }

  /** Whether `epoch` is the session now publishing `id`. */
  isCurrent(id: string, epoch: number): boolean {
    const s = this.#state.get(id);
    return s !== undefined && (s.epoch === null || s.epoch === epoch);
  }

  /** The stream's last taken stream seq (−1: none). */
  lastSeq(id: string): number {
    return this.#state.get(id)?.lastSeq ?? -1;
  }

  /**
   * What to do with a message of `id` from edge `epoch` holding edge seqs firstSeq..lastSeq (one frame, or a
   * window), the first at `firstPtsMs`, sent at `wallMs`. Pure: `take` commits.
   */
  decide(
    id: string,
    epoch: number,
    firstSeq: number,
    lastSeq: number,
    firstPtsMs: number,
    wallMs: number,
  ): EdgeDecision {
    const s = this.#state.get(id);
    if (!s) return { kind: 'take', base: 0, ptsShiftMs: 0 };
    if (s.epoch === null || epoch === s.epoch) {
      if (lastSeq <= s.lastEdgeSeq) return { kind: 'duplicate' };
      const frames = firstSeq - s.lastEdgeSeq;
      const mediaMs = firstPtsMs + s.ptsShiftMs - s.lastPtsMs;
      if (s.lastSeq >= 0 && frames > 64 + (Math.max(0, mediaMs) * MAX_FPS) / 1000) {
        return { kind: 'jump', frames, mediaMs };
      }
      return { kind: 'take', base: s.base, ptsShiftMs: s.ptsShiftMs };
    }
    if (epoch < s.epoch) return { kind: 'stale', current: s.epoch };
    // a restarted edge: its frames continue the stream right after the last one, in seq and in media time
    const base = s.lastSeq + 1 - firstSeq;
    const ptsShiftMs =
      firstPtsMs > s.lastPtsMs ? 0 : s.lastPtsMs + Math.max(1, wallMs - s.lastWallMs) - firstPtsMs;
    return { kind: 'take', base, ptsShiftMs, restartedFrom: s.epoch };
  }

  /** Records a taken message (after `decide` said `take`). */
  take(
    id: string,
    epoch: number,
    d: Extract<EdgeDecision, { kind: 'take' }>,
    lastSeq: number,
    lastPtsMs: number,
    wallMs: number,
  ): void {
    const state: EdgeState = {
      epoch,
      base: d.base,
      ptsShiftMs: d.ptsShiftMs,
      lastEdgeSeq: lastSeq,
      lastSeq: lastSeq + d.base,
      lastPtsMs: lastPtsMs + d.ptsShiftMs,
      lastWallMs: wallMs,
    };
    this.#state.set(id, state);
    if (this.#keepHistory) {
      let h = this.#history.get(id);
      if (!h) this.#history.set(id, (h = []));
      h.push({ seq: state.lastSeq, state });
    }
  }

  /** The state as it was once stream seq `seq` was taken (what a checkpoint covering `seq` records), as JSON. */
  stateAt(id: string, seq: number): string | null {
    const h = this.#history.get(id) ?? [];
    let i = -1;
    while (i + 1 < h.length && h[i + 1]!.seq <= seq) i++;
    const at = i >= 0 ? h[i]!.state : this.#state.get(id);
    if (i > 0) h.splice(0, i); // what later checkpoints can still need
    return at ? JSON.stringify(at) : null;
  }

  /** A stream restored from a checkpoint: its state then, or (an older snapshot) the checkpoint seq alone. */
  restore(id: string, json: string | undefined, checkpointSeq: number): void {
    let s: EdgeState | null = null;
    try {
      s = json ? (JSON.parse(json) as EdgeState) : null;
    } catch {
      s = null;
    }
    this.#state.set(
      id,
      s ?? {
        epoch: null,
        base: 0,
        ptsShiftMs: 0,
        lastEdgeSeq: checkpointSeq,
        lastSeq: checkpointSeq,
        lastPtsMs: Number.NEGATIVE_INFINITY,
        lastWallMs: 0,
      },
    );
    this.#history.delete(id);
  }

  delete(id: string): void {
    this.#state.delete(id);
    this.#history.delete(id);
  }
}
