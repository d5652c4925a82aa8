import type { FeatureWindow } from '@lvu/arrow';
import { type LongVuOptions, tokenGridLayout } from '@lvu/compress';
import { type EventBus, type FrameSource, LvuError, type SampledFrame } from '@lvu/core';
import { THUMB_SIDE } from '@lvu/operators';
import type { RetainedFrame, StoreStats, TimelineEntry } from './context-store.js';
import type { RetentionInput } from './engine-options.js';
import type { LastFrame } from './frame-continuity.js';
import { objectBoxes } from './object-evidence.js';
import type { StreamCounters, StreamPipeline, StreamState } from './stream-pipeline.js';

/** A stream to add: an id and a source (a URL or path a source factory opens, frames, or feature windows). */
export interface StreamSpec {
  id: string;
  source: string | AsyncIterable<SampledFrame> | { windows: AsyncIterable<FeatureWindow> };
  sourceOptions?: Record<string, unknown>;
  retention?: RetentionInput;
  /** A snapshot to start from (`ContextStore.restore`). */
  restore?: Uint8Array;
  /** Go on with the context kept for this id (in memory, or saved in stateDir). */
  continue?: boolean;
  /** Added over the API: the source policy applies. */
  untrusted?: boolean;
}

export interface StreamStatus {
  id: string;
  source: string;
  state: StreamState;
  error: { code: string; message: string } | null;
  counters: StreamCounters;
  store: StoreStats;
  retainedTokens: number;
  budgetTokens: number;
  restored: { afterSeq: number; afterPtsMs: number; afterWallMs: number; fromStateDir: boolean } | null;
  endedAtMs: number | null;
  source_stats?: unknown;
}

/** A stream's timeline as the API shows it: its status, kept and evicted frames, retained frames with thumbnails. */
export interface StreamContext {
  status: StreamStatus;
  thumbSide: number;
  timeline: readonly TimelineEntry[];
  retained: {
    seq: number;
    ptsMs: number;
    wallMs: number;
    frameW: number;
    frameH: number;
    thumb: Uint8Array;
    /** What the object detector found (only with one): class, score, box x, y, w, h in 0..1 of the thumbnail. */
    objects?: { class: string; score: number; box: [number, number, number, number] }[];
  }[];
}

/** What durable memory saves with a context: enough to continue or hold it after a restart. */
export interface SavedState {
  state: StreamState;
  spec: { source: string; sourceOptions?: Record<string, unknown>; retention?: RetentionInput } | null;
  counters: StreamCounters;
  lastFrame: LastFrame | null;
  covered?: LastFrame | null;
  endedAtMs: number | null;
}

/** One stream the engine holds: running, or ended/removed/failed and kept until `keepEndedFor`. */
export interface StreamEntry {
  pipeline: StreamPipeline;
  source: string;
  video: FrameSource | null;
  done: Promise<void>;
  spec: SavedState['spec'];
  endedAtMs: number | null;
  saved: { seq: number; state: StreamState } | null;
  restored: StreamStatus['restored'];
}

/**
 * The streams an engine holds, by id — the bottom of the engine: the services above it (the read path, search over
 * history, durable memory, the lifecycle that starts and stops streams) find streams here.
 */
export class StreamRegistry {
  readonly #streams = new Map<string, StreamEntry>();

  constructor(
    readonly longvu: LongVuOptions,
    readonly events: EventBus,
    /** The object detector's class names, when the models have one (contexts name what frames show). */
    readonly objectClasses?: readonly string[],
  ) {}

  get(id: string): StreamEntry | undefined {
    return this.#streams.get(id);
  }

  set(id: string, e: StreamEntry): void {
    this.#streams.set(id, e);
  }

  delete(id: string): void {
    this.#streams.delete(id);
  }

  clear(): void {
    this.#streams.clear();
  }

  ids(): string[] {
    return [...this.#streams.keys()];
  }

  entries(): [string, StreamEntry][] {
    return [...this.#streams];
  }

  /** The stream, or STREAM_NOT_FOUND. */
  entry(id: string): StreamEntry {
    const e = this.#streams.get(id);
    if (!e) {
      throw new LvuError('STREAM_NOT_FOUND', `no stream ${id}: list streams to see what exists`, {
        field: 'id',
      });
    }
    return e;
  }

  list(): StreamStatus[] {
    return this.ids().map((id) => this.status(id));
  }

  status(id: string): StreamStatus {
    const e = this.entry(id);
    const p = e.pipeline;
    // each frame at its own size's high-resolution layout (a camera may change resolution mid-stream)
    const perFrame = new Map<string, number>();
    let retainedTokens = 0;
    for (const f of p.store.frames()) {
      const key = `${f.frameH}x${f.frameW}`;
      let n = perFrame.get(key);
      if (n === undefined) {
        const { highGridSide, unpad, newlineToken } = this.longvu;
        n = tokenGridLayout(highGridSide, [f.frameH, f.frameW], unpad, newlineToken).perFrame;
        perFrame.set(key, n);
      }
      retainedTokens += n;
    }
    return {
      id,
      source: e.source,
      state: p.state,
      error: p.error ? { code: p.error.code, message: p.error.message } : null,
      counters: { ...p.counters },
      store: p.store.stats,
      retainedTokens,
      budgetTokens: this.longvu.contextTokens,
      restored: e.restored,
      endedAtMs: p.state === 'running' || p.state === 'starting' ? null : e.endedAtMs,
      ...(e.video ? { source_stats: e.video.stats } : {}),
    };
  }

  /** The retained frames of a stream (time order). */
  frames(id: string, range: { sinceMs?: number; untilMs?: number } = {}): readonly RetainedFrame[] {
    return this.entry(id).pipeline.store.frames(range);
  }

  /** The stream's timeline: kept and evicted frames, retained frames with thumbnails. */
  context(id: string): StreamContext {
    const store = this.entry(id).pipeline.store;
    return {
      status: this.status(id),
      thumbSide: THUMB_SIDE,
      timeline: store.timeline(),
      retained: store.frames().map((f) => ({
        seq: f.seq,
        ptsMs: f.ptsMs,
        wallMs: f.wallMs,
        frameW: f.frameW,
        frameH: f.frameH,
        thumb: f.thumb,
        ...(f.objects && this.objectClasses ? { objects: objectBoxes(f.objects, this.objectClasses) } : {}),
      })),
    };
  }
}
