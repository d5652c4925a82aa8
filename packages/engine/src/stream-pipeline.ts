import type { FeatureWindow } from '@lvu/arrow';
import type { LongVuOptions } from '@lvu/compress';
import { type EventBus, LvuError, type Registry, type SampledFrame } from '@lvu/core';
import { type FrameEncoder, keptRow, runWritePath } from '@lvu/operators';
import { Subject, type Subscription } from 'rxjs';
import { ContextStore } from './context-store.js';
import type { RetentionInput } from './engine-options.js';
import { continueAfter, type LastFrame, withMarkers } from './frame-continuity.js';
import { type RetentionPolicy, retentionPolicies } from './retention-policies.js';
import type { SpillLog } from './spill-log.js';
import { StcCache } from './stc-cache.js';
import { cachedLowMean, cachedNorms } from './token-caches.js';

export interface StreamCounters {
  sampled: number;
  kept: number;
  windows: number;
  /** Frames skipped because an encoder failed on them. */
  failedFrames: number;
  lastFrameWallMs: number | null;
  lastPtsMs: number | null;
  /** Kept / sampled of the last closed window. */
  lastWindowKeptRatio: number | null;
}

/**
 * Counters carried over from a checkpoint, a saved state or a held stream: the keys a stream counts, taken from
 * `from`; others (an older version's) are left behind.
 */
export function carryCounters(into: StreamCounters, from: Partial<StreamCounters>): void {
  for (const k of Object.keys(into) as (keyof StreamCounters)[])
    if (from[k] !== undefined) (into as unknown as Record<string, unknown>)[k] = from[k];
}

/** `removed`: stopped by request, its context kept queryable for `keepEndedFor` (durable memory). */
export type StreamState = 'starting' | 'running' | 'ended' | 'failed' | 'stopped' | 'removed';

/**
 * The write path of one stream: sampled frames → DINO → streaming temporal reduction → SigLIP + SVA + projector for
 * kept frames → the stream's ContextStore. Backpressure: at most two windows of frames are in flight (a fast replay
 * waits for the models; a live source's own queue drops its oldest frames and counts them). A frame an encoder
 * fails on is skipped and counted; ten failures in a row fail the stream (never the process or other streams).
 */
export class StreamPipeline {
  readonly id: string;
  readonly store: ContextStore;
  readonly counters: StreamCounters = {
    sampled: 0,
    kept: 0,
    windows: 0,
    failedFrames: 0,
    lastFrameWallMs: null,
    lastPtsMs: null,
    lastWindowKeptRatio: null,
  };
  state: StreamState = 'starting';
  error: LvuError | null = null;
  /** Every closed window with its encoded kept frames (standing questions, edges publishing features). */
  readonly windows$ = new Subject<FeatureWindow>();
  readonly #encoder: FrameEncoder;
  readonly #o: LongVuOptions;
  readonly #events: EventBus;
  #sub: Subscription | null = null;
  #done: Promise<void> | null = null;
  #resolve: (() => void) | null = null;
  #checkpointSeq = -1;
  /** STC's chunk decisions of the retained frames, prepared as windows arrive so questions reuse them. */
  readonly stc = new StcCache();
  /** Every kept frame on disk, when the engine spills. */
  readonly spill: SpillLog | null;
  /** JPEG sides kept per frame for image-input backends (null: none). */
  readonly #evidence: { side: number; thumbSide: number } | null;

  constructor(
    id: string,
    encoder: FrameEncoder,
    o: LongVuOptions,
    events: EventBus,
    retention: RetentionInput = {},
    spill: SpillLog | null = null,
    evidence: { side: number; thumbSide: number } | null = null,
    restore: Uint8Array | null = null,
    policies: Registry<RetentionPolicy> = retentionPolicies,
  ) {
    this.spill = spill;
    this.#evidence = evidence;
    this.id = id;
    this.#encoder = encoder;
    this.#o = o;
    this.#events = events;
    if (restore) {
      this.store = ContextStore.restore(restore, events, policies);
      if (this.store.streamId !== id) {
        throw new LvuError('INVALID_ARGUMENT', `snapshot of stream ${this.store.streamId} given to ${id}`, {
          field: 'restore',
        });
      }
      const meta = ContextStore.snapshotMeta(restore);
      this.restoredSeq = Number(meta.checkpointSeq ?? this.store.stats.lastSeq);
      // the counters as of the covered seq (a worker taking a stream over goes on counting from there)
      if (meta['lvu-counters']) {
        carryCounters(this.counters, JSON.parse(meta['lvu-counters']) as StreamCounters);
      }
    } else this.store = new ContextStore(id, retention, events, undefined, policies);
  }

  /** The last frame this stream took (null: none yet). */
  lastFrame: LastFrame | null = null;
  /** The last frame the store covers (the last frame of the last closed window), with its place in a recording. */
  coveredFrame: LastFrame | null = null;
  /** Called with each frame's seq as it is taken (durable memory reserves seqs ahead of them). */
  onSeq: ((seq: number) => void) | null = null;
  /** Frames taken whose window has not closed: seq, arrival and place in a recording. */
  readonly #uncovered: LastFrame[] = [];
  /** Markers waiting to go into the frames, and who waits for the open window to close. */
  readonly #markers: SampledFrame[] = [];
  #markerWake: (() => void) | null = null;
  #windowWaiters: { seq: number; resolve: () => void }[] = [];

  /** Wall time of the first frame of the open window (null: no frame waits for its window). */
  get openSinceWallMs(): number | null {
    return this.#uncovered[0]?.wallMs ?? null;
  }

  /**
   * Closes the open temporal-reduction window now, as a source's end would (shutdown, or a checkpoint that must
   * cover every frame taken); resolves once the frames taken so far are in the store, or the stream stops.
   */
  closeOpenWindow(): Promise<void> {
    const last = this.#uncovered.at(-1);
    if (!last || this.state !== 'running') return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.#windowWaiters.push({ seq: last.seq, resolve });
      this.#markers.push({
        streamId: this.id,
        seq: last.seq,
        ptsMs: last.ptsMs,
        wallMs: Date.now(),
        width: 0,
        height: 0,
        images: {},
        sessionEnd: true,
      });
      this.#markerWake?.();
    });
  }

  #releaseWindowWaiters(all = false): void {
    const covered = this.coveredSeq;
    this.#windowWaiters = this.#windowWaiters.filter((w) => {
      if (!all && w.seq > covered) return true;
      w.resolve();
      return false;
    });
  }

  /**
   * Runs the write path over `frames`; resolves when the source ends or `stop()` is called, rejects on failure.
   * With `resume`, the frames continue a restored stream (`continueAfter` its last frame).
   */
  run(frames: AsyncIterable<SampledFrame>, resume = false): Promise<void> {
    if (this.#done) return this.#done;
    const o = this.#o;
    const last = this.lastFrame;
    const markers = {
      take: () => this.#markers.shift() ?? null,
      next: () =>
        new Promise<void>((r) => {
          this.#markerWake = r;
        }),
      wake: () => this.#markerWake?.(),
    };
    const source = resume && last ? continueAfter(frames, last) : frames;
    const windows$ = runWritePath(withMarkers(source, markers), {
      streamId: this.id,
      windowFrames: o.dinoWindowFrames,
      threshold: o.dinoThreshold,
      dino: (f) => this.#encoder.dino(f),
      encode: (k) => keptRow(this.#encoder, k, this.#evidence),
      onFrame: (f) => {
        this.counters.sampled++;
        this.counters.lastFrameWallMs = f.wallMs;
        this.counters.lastPtsMs = f.ptsMs;
        this.lastFrame = {
          seq: f.seq,
          ptsMs: f.ptsMs,
          wallMs: f.wallMs,
          ...(f.positionMs === undefined ? {} : { positionMs: f.positionMs }),
        };
        this.#uncovered.push(this.lastFrame);
        this.onSeq?.(f.seq);
      },
      onFrameError: (f) => this.#frameFailed(f),
    });
    this.#done = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.state = 'running';
      this.#sub = windows$.subscribe({
        next: (w) => {
          try {
            this.#addWindow(w);
          } catch (err) {
            // last resort: whatever goes wrong in one stream's window fails that stream, never the process
            this.#sub?.unsubscribe();
            this.windows$.complete();
            this.#releaseWindowWaiters(true);
            reject(this.#fail(err));
          }
        },
        error: (err) => {
          this.windows$.complete();
          this.#releaseWindowWaiters(true);
          reject(this.#fail(err));
        },
        complete: () => {
          this.spill?.flush();
          if (this.state === 'running') this.state = 'ended';
          this.windows$.complete();
          this.#releaseWindowWaiters(true);
          resolve();
        },
      });
    });
    return this.#done;
  }

  /** The stream failed: its state, error and event (never the process or other streams). */
  #fail(err: unknown): LvuError {
    this.state = 'failed';
    this.error =
      err instanceof LvuError
        ? err
        : new LvuError('INTERNAL', String((err as Error)?.message ?? err), { cause: err });
    this.#events.emit('stream.failed', {
      streamId: this.id,
      code: this.error.code,
      message: this.error.message,
    });
    return this.error;
  }

  #frameFailed(frame: SampledFrame): void {
    this.counters.failedFrames++;
    this.#events.emit('frame.dropped', {
      streamId: this.id,
      seq: frame.seq,
      reason: 'corrupt',
      dropped: this.counters.failedFrames,
    });
  }

  /** A closed window's kept frames into the store (synchronous: a checkpoint never sees half a window). */
  #addWindow(w: FeatureWindow): void {
    this.counters.windows++;
    this.counters.lastWindowKeptRatio = w.rows.length / w.frames;
    this.#events.emit('window.closed', {
      streamId: this.id,
      window: w.window,
      frames: w.frames,
      kept: w.rows.length,
    });
    w.rows.forEach((row, i) => {
      if (!this.store.add(row)) return;
      // what every later question needs from this frame, computed once now
      cachedNorms(row.hi, this.#encoder.dim);
      cachedNorms(row.lo, this.#encoder.dim);
      cachedLowMean(
        row.lo,
        [row.frameH, row.frameW],
        this.#encoder.dim,
        this.#o.newlineToken ? this.#encoder.newline : null,
        this.#o,
      );
      this.spill?.append(row);
      this.counters.kept++;
      this.#events.emit('frame.kept', { streamId: this.id, seq: row.seq, score: w.scores[i]! });
    });
    // every frame up to the window's last is now reflected in the store
    this.#checkpointSeq = w.lastSeq;
    const i = this.#uncovered.findIndex((f) => f.seq > w.lastSeq);
    const done = this.#uncovered.splice(0, i < 0 ? this.#uncovered.length : i);
    this.coveredFrame = done.at(-1) ?? {
      seq: w.lastSeq,
      ptsMs: w.lastPtsMs,
      wallMs: w.lastWallMs,
    };
    this.#releaseWindowWaiters();
    this.windows$.next(w);
    if (w.rows.length) this.#prepareQuestions();
  }

  /**
   * The write path for windows reduced and encoded elsewhere (an edge with the models publishing FeatureBatches):
   * each window's kept frames go straight into the store; windows a restored checkpoint covers are skipped.
   */
  runWindows(windows: AsyncIterable<FeatureWindow>): Promise<void> {
    if (this.#done) return this.#done;
    this.state = 'running';
    this.#done = (async () => {
      try {
        for await (const w of windows) {
          if (this.state !== 'running') break;
          if (w.lastSeq <= Math.max(this.#checkpointSeq, this.restoredSeq)) continue;
          this.counters.sampled += w.frames;
          this.counters.lastFrameWallMs = w.lastWallMs;
          this.counters.lastPtsMs = w.lastPtsMs;
          this.lastFrame = { seq: w.lastSeq, ptsMs: w.lastPtsMs, wallMs: w.lastWallMs };
          this.onSeq?.(w.lastSeq);
          this.#addWindow(w);
        }
        this.spill?.flush();
        if (this.state === 'running') this.state = 'ended';
      } catch (err) {
        throw this.#fail(err);
      } finally {
        this.windows$.complete();
      }
    })();
    return this.#done;
  }

  /** The seq up to which every frame the stream took is reflected in its store (−1: none yet). */
  get coveredSeq(): number {
    return Math.max(this.#checkpointSeq, this.restoredSeq);
  }

  /**
   * A consistent recovery point (windows enter the store synchronously, so it never holds half of one): the store's
   * snapshot and the seq up to which every frame the stream took is reflected in it (frames after it are in the
   * open window: replaying them from the source rebuilds the same windows). Null, without building a snapshot,
   * when the covered seq has not passed `after` (nothing new since the last saved checkpoint).
   */
  checkpoint(
    meta: (seq: number) => Record<string, string> = () => ({}),
    after = Number.NEGATIVE_INFINITY,
  ): { seq: number; snapshot: Uint8Array } | null {
    const seq = this.coveredSeq;
    if (seq <= after) return null;
    // frames taken after the covered seq are not in the snapshot: whoever restores it takes them again
    const counters = { ...this.counters, sampled: this.counters.sampled - this.#uncovered.length };
    return {
      seq,
      snapshot: this.store.snapshot({
        ...meta(seq),
        checkpointSeq: String(seq),
        'lvu-counters': JSON.stringify(counters),
      }),
    };
  }

  /** The checkpoint seq this pipeline's store was restored at (−1: a fresh store). */
  restoredSeq = -1;

  /** What every question over the new context needs and no question changes (STC's chunks), off question time. */
  #prepareQuestions(): void {
    // only streams someone asks about (a stream nobody questions costs nothing here)
    if (this.stc.hits + this.stc.misses === 0) return;
    const dim = this.#encoder.dim;
    void this.stc
      .prepare(
        () => this.store.frames(),
        this.#o,
        dim,
        this.#encoder.newline,
        (g) => cachedNorms(g, dim),
      )
      .catch(() => {
        // a question computes what is missing itself, and reports the error then
      });
  }

  /**
   * A pipeline that takes no more frames (a saved context read back, a stream removed but kept): `state` as given,
   * its counters and last frame as they were.
   */
  hold(
    state: StreamState,
    counters?: StreamCounters,
    lastFrame?: LastFrame | null,
    coveredFrame?: LastFrame | null,
  ): void {
    this.state = state;
    if (counters) carryCounters(this.counters, counters);
    if (lastFrame !== undefined) this.lastFrame = lastFrame;
    if (coveredFrame !== undefined) this.coveredFrame = coveredFrame;
    this.#done ??= Promise.resolve();
  }

  /** Stops pulling frames; what is retained stays queryable. */
  stop(state: StreamState = 'stopped'): void {
    if (this.state === 'running' || this.state === 'starting') this.state = state;
    this.#sub?.unsubscribe();
    this.spill?.flush();
    this.windows$.complete();
    this.#releaseWindowWaiters(true);
    this.#resolve?.();
  }
}
