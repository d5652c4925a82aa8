import { buildFeatureBatch, type FeatureRow, featureRows, featureSchema, fromIpc, toIpc } from '@lvu/arrow';
import { EventBus, LvuError, type Registry } from '@lvu/core';
import { type RetentionInput, type RetentionOptions, storeRetentionSchema } from './engine-options.js';
import { type RetentionPolicy, retentionPolicies } from './retention-policies.js';

/** One retained frame: the feature row plus its ordinal among all frames the stream ever kept. */
export interface RetainedFrame extends FeatureRow {
  ordinal: number;
}

export interface TimelineEntry {
  kind: 'kept' | 'evicted';
  seq: number;
  ptsMs: number;
  wallMs: number;
}

export interface StoreStats {
  retainedFrames: number;
  retainedBytes: number;
  keptTotal: number;
  evictedTotal: number;
  duplicatesIgnored: number;
  lastSeq: number;
}

const rowBytes = (r: FeatureRow) =>
  r.hi.byteLength + r.lo.byteLength + r.thumb.byteLength + (r.objects?.byteLength ?? 0);

/**
 * The retained kept frames of one stream, in time order, under `maxFrames` and `maxBytes`. When full, the
 * retention policy picks the frame to evict (never the newest nor the oldest, so the covered span stays whole):
 * - `recent`: the oldest frame goes (a sliding window; the oldest is evicted too);
 * - `uniform`: the frame whose neighbours are closest in kept-frame ordinal — the retained set stays evenly spread
 *   over the whole history, LongVU's `int(interval · i)` cap applied online;
 * - `pyramid` (default): the frame whose neighbours are closest in media time relative to its age
 *   ((t₊ − t₋) / (denseMs + age)): recent minutes stay dense and older periods thin out geometrically, so an
 *   hour-old event keeps a frame.
 * Adding is idempotent by `seq`: a seq at or below the last accepted one is ignored (at-least-once inputs).
 */
export class ContextStore {
  readonly options: RetentionOptions;
  readonly streamId: string;
  readonly events: EventBus;
  #frames: RetainedFrame[] = [];
  #bytes = 0;
  #kept = 0;
  #evicted = 0;
  #dups = 0;
  #lastSeq = -1;
  #timeline: TimelineEntry[] = [];
  readonly #timelineMax: number;
  readonly #policy: RetentionPolicy;

  /** `policies`: the registry `options.policy` names one of (the engine's plug-ins; default the built-in ones). */
  constructor(
    streamId: string,
    options: RetentionInput = {},
    events = new EventBus(),
    timelineMax = 50_000,
    policies: Registry<RetentionPolicy> = retentionPolicies,
  ) {
    this.streamId = streamId;
    this.options = storeRetentionSchema.parse(options);
    this.#policy = policies.get(this.options.policy, 'retention.policy');
    this.events = events;
    this.#timelineMax = timelineMax;
  }

  /** Adds a kept frame; returns false when its seq was already accepted. */
  add(row: FeatureRow): boolean {
    if (row.seq <= this.#lastSeq) {
      this.#dups++;
      return false;
    }
    if (row.streamId !== this.streamId) {
      throw new LvuError('INVALID_ARGUMENT', `frame of stream ${row.streamId} added to ${this.streamId}`, {
        field: 'streamId',
      });
    }
    this.#lastSeq = row.seq;
    this.#frames.push({ ...row, ordinal: this.#kept++ });
    this.#bytes += rowBytes(row);
    this.#log({ kind: 'kept', seq: row.seq, ptsMs: row.ptsMs, wallMs: row.wallMs });
    const o = this.options;
    while (this.#frames.length > 1 && (this.#frames.length > o.maxFrames || this.#bytes > o.maxBytes)) {
      this.#evict(this.#victim());
    }
    return true;
  }

  #victim(): number {
    if (this.#frames.length < 3) return 0;
    return this.#policy.victim(this.#frames, this.options);
  }

  #evict(i: number): void {
    const [r] = this.#frames.splice(i, 1);
    this.#bytes -= rowBytes(r!);
    this.#evicted++;
    this.#log({ kind: 'evicted', seq: r!.seq, ptsMs: r!.ptsMs, wallMs: r!.wallMs });
    this.events.emit('context.evicted', {
      streamId: this.streamId,
      seqs: [r!.seq],
      policy: this.options.policy,
    });
  }

  #log(e: TimelineEntry): void {
    this.#timeline.push(e);
    if (this.#timeline.length > this.#timelineMax) this.#timeline.splice(0, this.#timeline.length >> 1);
  }

  /** Retained frames in time order, optionally those with sinceMs ≤ ptsMs ≤ untilMs. */
  frames(range: { sinceMs?: number; untilMs?: number } = {}): readonly RetainedFrame[] {
    const lo = range.sinceMs ?? Number.NEGATIVE_INFINITY;
    const hi = range.untilMs ?? Number.POSITIVE_INFINITY;
    if (lo === Number.NEGATIVE_INFINITY && hi === Number.POSITIVE_INFINITY) return this.#frames;
    return this.#frames.filter((f) => f.ptsMs >= lo && f.ptsMs <= hi);
  }

  /** Kept and evicted frames in arrival order (the most recent `timelineMax` entries). */
  timeline(): readonly TimelineEntry[] {
    return this.#timeline;
  }

  /**
   * The whole store as Arrow IPC bytes: the retained frames as a FeatureBatch, the counters, ordinals, options and
   * timeline in the schema metadata. `ContextStore.restore` gives back a store equal in every value.
   */
  snapshot(meta: Record<string, string> = {}): Uint8Array {
    const f = this.#frames;
    const state = {
      streamId: this.streamId,
      options: this.options,
      kept: this.#kept,
      evicted: this.#evicted,
      dups: this.#dups,
      lastSeq: this.#lastSeq,
      ordinals: f.map((x) => x.ordinal),
      timeline: this.#timeline,
    };
    const geometry = { hiValues: f[0]?.hi.length ?? 0, loValues: f[0]?.lo.length ?? 0 };
    const schema = featureSchema(geometry, {
      ...meta,
      snapshot: JSON.stringify(state),
      format: 'lvu-context/1',
    });
    return toIpc(f.length ? [buildFeatureBatch(f, schema)] : [], schema);
  }

  /** The caller's metadata stored with a snapshot (`snapshot(meta)`). */
  static snapshotMeta(bytes: Uint8Array): Record<string, string> {
    return Object.fromEntries(fromIpc(bytes).schema.metadata);
  }

  static restore(
    bytes: Uint8Array,
    events = new EventBus(),
    policies: Registry<RetentionPolicy> = retentionPolicies,
  ): ContextStore {
    const table = fromIpc(bytes);
    const meta = table.schema.metadata.get('snapshot');
    if (table.schema.metadata.get('format') !== 'lvu-context/1' || !meta) {
      throw new LvuError('MALFORMED_MESSAGE', 'not an lvu context snapshot', { field: 'snapshot' });
    }
    const state = JSON.parse(meta) as {
      streamId: string;
      options: RetentionOptions;
      kept: number;
      evicted: number;
      dups: number;
      lastSeq: number;
      ordinals: number[];
      timeline: TimelineEntry[];
    };
    const s = new ContextStore(state.streamId, state.options, events, undefined, policies);
    const rows = table.batches.flatMap((b) => featureRows(b));
    if (rows.length !== state.ordinals.length) {
      throw new LvuError('MALFORMED_MESSAGE', 'snapshot frames and ordinals differ in number', {
        field: 'snapshot',
      });
    }
    s.#frames = rows.map((r, i) => ({ ...r, ordinal: state.ordinals[i]! }));
    s.#bytes = rows.reduce((a, r) => a + rowBytes(r), 0);
    s.#kept = state.kept;
    s.#evicted = state.evicted;
    s.#dups = state.dups;
    s.#lastSeq = state.lastSeq;
    s.#timeline = state.timeline;
    return s;
  }

  get stats(): StoreStats {
    return {
      retainedFrames: this.#frames.length,
      retainedBytes: this.#bytes,
      keptTotal: this.#kept,
      evictedTotal: this.#evicted,
      duplicatesIgnored: this.#dups,
      lastSeq: this.#lastSeq,
    };
  }
}
