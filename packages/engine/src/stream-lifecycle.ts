import { existsSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { FeatureWindow } from '@lvu/arrow';
import type { LongVuOptions } from '@lvu/compress';
import {
  admitScheme,
  type FrameSource,
  isStreamId,
  LvuError,
  type Registry,
  type SampledFrame,
  type SourcePolicy,
  type SourceRegistry,
} from '@lvu/core';
import type { FrameEncoder } from '@lvu/operators';
import type { EngineConfig } from './engine-config.js';
import type { RetentionInput } from './engine-options.js';
import type { RetentionPolicy } from './retention-policies.js';
import { SpillLog } from './spill-log.js';
import type { Saved, StreamMemory } from './stream-memory.js';
import { carryCounters, StreamPipeline } from './stream-pipeline.js';
import type { StreamEntry, StreamRegistry, StreamSpec, StreamStatus } from './stream-registry.js';

/**
 * Starting and stopping streams: a spec checked against the source factories and the source policy, a pipeline
 * built (continuing a kept or saved context), its source opened, the entry put in the registry; removal, held
 * contexts, and waiting for a stream's end.
 */
export class StreamLifecycle {
  constructor(
    private readonly d: {
      registry: StreamRegistry;
      memory: StreamMemory;
      sources: SourceRegistry;
      retentionPolicies: Registry<RetentionPolicy>;
      sourcePolicy: SourcePolicy;
      vision: FrameEncoder;
      longvu: LongVuOptions;
      retention: RetentionInput;
      spill: EngineConfig['spill'];
      evidence: { side: number; thumbSide: number } | null;
      keepEndedMs: number;
      lowMean: (f: { lo: Float32Array; frameH: number; frameW: number }) => Float64Array;
    },
  ) {}

  /**
   * Adds and starts a stream. An id the engine holds as removed, ended or failed (its context kept) continues that
   * context: seqs and media time go on after its last frame. With `stateDir`, a stream saved there continues the
   * same way (`resume` restores every saved stream at start).
   */
  addStream(spec: StreamSpec): StreamStatus {
    if (!isStreamId(spec.id)) {
      throw new LvuError(
        'INVALID_ARGUMENT',
        `stream id "${String(spec.id).slice(0, 40)}" must be 1–128 letters, digits, '.', '_' or '-'`,
        { field: 'id' },
      );
    }
    const held = this.d.registry.get(spec.id);
    if (held && (held.pipeline.state === 'running' || held.pipeline.state === 'starting')) {
      throw new LvuError(
        'STREAM_EXISTS',
        `stream ${spec.id} already exists: remove it first or pick another id`,
        {
          field: 'id',
        },
      );
    }
    if (held && !spec.continue) {
      throw new LvuError(
        'STREAM_EXISTS',
        `stream ${spec.id} is kept (${held.pipeline.state}): its context stays queryable until keepEndedFor`,
        {
          field: 'id',
          hint: 'add it with continue: true to go on with that context, or DELETE /v1/streams/ID?purge=true first',
        },
      );
    }
    // a source no factory opens, or options it refuses, fail here, before anything is created
    const factory = typeof spec.source === 'string' ? this.d.sources.resolve(spec.source) : null;
    const sourceOptions = factory?.options.parse(spec.sourceOptions ?? {});
    if (factory && spec.untrusted) {
      admitScheme(spec.source as string, this.d.sourcePolicy);
      factory.admit?.(spec.source as string, sourceOptions!, this.d.sourcePolicy);
    }
    // continue a kept context: the one held in memory, else the one saved in stateDir
    const saved = spec.restore || held || !spec.continue ? null : this.d.memory.loadSaved(spec.id);
    const restore = spec.restore ?? (held ? held.pipeline.checkpoint()?.snapshot : saved?.bytes) ?? null;
    const previous = held
      ? {
          counters: held.pipeline.counters,
          lastFrame: held.pipeline.lastFrame,
          covered: held.pipeline.coveredFrame,
        }
      : saved
        ? {
            counters: saved.state.counters,
            // after a crash, past every seq the stream may have shown before it
            lastFrame: this.d.memory.durable!.continueAfter(spec.id, saved.state.lastFrame),
            covered: saved.state.covered ?? null,
          }
        : null;
    const spill = this.spillFor(spec.id, previous === null);
    const pipeline = this.#pipeline(
      spec.id,
      { ...this.d.retention, ...spec.retention },
      spill,
      restore ?? null,
    );
    if (previous) {
      carryCounters(pipeline.counters, previous.counters);
      pipeline.lastFrame = previous.lastFrame;
      pipeline.coveredFrame = previous.covered;
    }
    const durable = this.d.memory.durable;
    if (durable) pipeline.onSeq = (seq) => durable.taken(spec.id, seq);
    let video: FrameSource | null = null;
    let frames: AsyncIterable<SampledFrame> | null;
    let source: string;
    if (typeof spec.source === 'string') {
      video = factory!.open(spec.source, sourceOptions!, {
        streamId: spec.id,
        sizes: [
          ...new Set([...this.d.vision.imageSizes, ...(this.d.evidence ? [this.d.evidence.side] : [])]),
        ],
        events: this.d.registry.events,
        // a recording continues after the last frame its kept context covers, not from its start
        ...(previous?.covered?.positionMs !== undefined
          ? { resumeAfterMs: previous.covered.positionMs }
          : {}),
      });
      frames = video;
      source = video.description;
    } else if ('windows' in spec.source) {
      frames = null;
      source = 'feature windows';
    } else {
      frames = spec.source;
      source = 'frames';
    }
    // a source numbers its frames from 0: after a kept context they continue its seqs and media time
    const resume = previous !== null && typeof spec.source === 'string';
    const running =
      frames === null
        ? pipeline.runWindows((spec.source as { windows: AsyncIterable<FeatureWindow> }).windows)
        : pipeline.run(frames, resume);
    const entry: StreamEntry = {
      pipeline,
      source,
      video,
      done: Promise.resolve(),
      spec:
        typeof spec.source === 'string'
          ? {
              source: spec.source,
              ...(spec.sourceOptions ? { sourceOptions: spec.sourceOptions } : {}),
              ...(spec.retention ? { retention: spec.retention } : {}),
            }
          : null,
      endedAtMs: null,
      saved: null,
      restored: previous
        ? {
            afterSeq: previous.lastFrame?.seq ?? -1,
            afterPtsMs: previous.lastFrame?.ptsMs ?? 0,
            afterWallMs: previous.lastFrame?.wallMs ?? 0,
            fromStateDir: saved !== null,
          }
        : null,
    };
    entry.done = running
      .catch(() => {
        // the pipeline records its error and emits stream.failed; other streams go on
      })
      .then(() => {
        if (this.d.registry.get(spec.id) !== entry) return;
        entry.endedAtMs ??= Date.now();
        // an ended or failed stream is saved at once: a restart must not replay the file it ended with
        if (pipeline.state === 'ended' || pipeline.state === 'failed') this.d.memory.save(spec.id);
      });
    this.d.registry.set(spec.id, entry);
    this.d.registry.events.emit('stream.added', { streamId: spec.id, source });
    return this.d.registry.status(spec.id);
  }

  /** A stream's spill log (null without `spill`); each segment gets the frames' mean low tokens for search. */
  spillFor(id: string, fresh = false): SpillLog | null {
    if (!this.d.spill) return null;
    const dir = join(this.d.spill.dir, id);
    if (fresh && existsSync(dir)) {
      // a stream starting afresh (no context continued) must not read an earlier run's frames as its own: that
      // run's segments move aside to ID.previous (one earlier run kept)
      rmSync(`${dir}.previous`, { recursive: true, force: true });
      try {
        renameSync(dir, `${dir}.previous`);
      } catch {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    return new SpillLog(
      id,
      {
        ...this.d.spill,
        dir: join(this.d.spill.dir, id),
        summary: (r) => Float32Array.from(this.d.lowMean(r)),
      },
      this.d.registry.events,
    );
  }

  /** A stream's pipeline with this engine's encoder, options, events, JPEG sides and retention policies. */
  #pipeline(id: string, retention: RetentionInput, spill: SpillLog | null, restore: Uint8Array | null) {
    return new StreamPipeline(
      id,
      this.d.vision,
      this.d.longvu,
      this.d.registry.events,
      retention,
      spill,
      this.d.evidence,
      restore,
      this.d.retentionPolicies,
    );
  }

  /** A saved context held: queryable, taking no frames, in the state it was saved in. */
  hold(id: string, s: Saved): void {
    const pipeline = this.#pipeline(id, this.d.retention, this.spillFor(id), s.bytes);
    const state = s.state.state === 'running' || s.state.state === 'starting' ? 'stopped' : s.state.state;
    pipeline.hold(state, s.state.counters, s.state.lastFrame, s.state.covered ?? null);
    this.d.registry.set(id, {
      pipeline,
      source: s.state.spec?.source ?? 'saved context',
      video: null,
      done: Promise.resolve(),
      spec: s.state.spec,
      endedAtMs: s.state.endedAtMs ?? Date.now(),
      saved: { seq: pipeline.coveredSeq, state },
      restored: {
        afterSeq: s.state.lastFrame?.seq ?? -1,
        afterPtsMs: s.state.lastFrame?.ptsMs ?? 0,
        afterWallMs: s.state.lastFrame?.wallMs ?? 0,
        fromStateDir: true,
      },
    });
  }

  /** Every closed temporal-reduction window of a stream (kept ratio, scores). */
  windows$(id: string) {
    return this.d.registry.entry(id).pipeline.windows$;
  }

  /** Resolves when the stream's source ends (files), fails or is removed. */
  async whenDone(id: string): Promise<void> {
    await this.d.registry.entry(id).done;
  }

  /**
   * Stops a stream. Its context stays queryable (state `removed`) for `keepEndedFor`, unless `purge` (or
   * keepEndedFor 0): then it is forgotten now, with its saved state and spilled frames.
   */
  async removeStream(id: string, o: { purge?: boolean } = {}): Promise<void> {
    const e = this.d.registry.entry(id);
    e.pipeline.stop('removed');
    await e.video?.stop();
    if (o.purge || this.d.keepEndedMs === 0) {
      if (this.d.registry.get(id) === e) this.d.registry.delete(id);
      this.d.memory.forget(id, e);
    } else {
      e.endedAtMs ??= Date.now();
      this.d.memory.save(id);
    }
    this.d.registry.events.emit('stream.removed', { streamId: id });
  }
}
