import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { FeatureWindow } from '@lvu/arrow';
import {
  type LongVuOptions,
  type LongVuPreset,
  longVuOptions,
  tokenGridLayout,
  uniformCap,
} from '@lvu/compress';
import {
  admitScheme,
  EventBus,
  type FrameSource,
  isStreamId,
  LvuError,
  type SampledFrame,
  type SourcePolicy,
} from '@lvu/core';
import {
  answerQuestion,
  type CrossStreamInput,
  type QueryResult,
  type QuestionInput,
  validateQuestion,
} from './answer-question.js';
import { ContextStore, type RetainedFrame, type StoreStats, type TimelineEntry } from './context-store.js';
import { type DurabilityWarning, DurableMemory } from './durable-memory.js';
import {
  builtinPlugins,
  type EngineConfig,
  type EnginePlugins,
  engineConfigSchema,
} from './engine-config.js';
import { durationMs, type QueryLimits, queryLimitsSchema, type RetentionInput } from './engine-options.js';
import type { FrameEncoder, TextEncoder } from './frame-encoder.js';
import type { LlmBackend } from './llm-backend.js';
import type { OpenedModels } from './model-kit.js';
import { openModels } from './open-models.js';
import { SpillLog } from './spill-log.js';
import { evidenceRanges } from './starter-encoder.js';
import {
  type LastFrame,
  type StreamCounters,
  StreamPipeline,
  type StreamState,
  THUMB_SIDE,
} from './stream-pipeline.js';
import { cachedLowMean } from './token-caches.js';

export interface StreamSpec {
  id: string;
  /**
   * A source string for a registered source factory (chosen by its scheme), already-sampled frames (Kafka, tests),
   * or windows reduced and encoded elsewhere (an edge with the models).
   */
  source: string | AsyncIterable<SampledFrame> | { windows: AsyncIterable<FeatureWindow> };
  /** Options of the source factory that opens `source` (its schema: `plugins.sources.resolve(source).options`). */
  sourceOptions?: Record<string, unknown>;
  retention?: RetentionInput;
  /** A context snapshot (`StreamPipeline.checkpoint`) to start from instead of an empty context. */
  restore?: Uint8Array;
  /**
   * Continue the context the engine keeps under this id (a removed or ended stream, or one saved in `stateDir`):
   * seqs and media time go on after its last frame. Without it such an id is STREAM_EXISTS.
   */
  continue?: boolean;
  /**
   * From a caller who is not the operator (the HTTP API): the source must pass `engine.sourcePolicy` (scheme, host,
   * and the source factory's own `admit`), else FORBIDDEN. Streams of the pipeline YAML are the operator's.
   */
  untrusted?: boolean;
}

/** One time range of search results: consecutive frames of one stream that score high against the query. */
export interface SearchRange {
  streamId: string;
  /** Media time of the first and last frame of the range. */
  fromMs: number;
  toMs: number;
  wallFromMs: number;
  wallToMs: number;
  frames: number;
  /** The best frame's query score. */
  score: number;
  best: {
    seq: number;
    ptsMs: number;
    wallMs: number;
    /** 32×32 RGB, base64 ('' when its row is gone from disk). */
    thumb: string;
    /** What the models say the frame shows (the starter set's class names; empty for other models). */
    labels: string[];
  };
}

export interface SearchResult {
  q: string;
  streams: string[];
  /** What sinceMs/untilMs were compared with: media time (one stream) or wall-clock time (several). */
  clock: 'media' | 'wall';
  ranges: SearchRange[];
  thumbSide: number;
  /** Frames scored: in memory, and read back from the spill by their summaries. */
  scanned: { retained: number; spilled: number };
  ms: number;
}

type FeatureRowLike = Omit<RetainedFrame, 'ordinal'>;

/** What the engine saves with a stream's context in `stateDir` (the snapshot's `lvu-state` metadata). */
interface SavedState {
  state: StreamState;
  /** How to open the source again (string sources only). */
  spec: { source: string; sourceOptions?: Record<string, unknown>; retention?: RetentionInput } | null;
  counters: StreamCounters;
  lastFrame: LastFrame | null;
  /** The last frame the saved context covers, with its place in a recording (a file resumes after it). */
  covered?: LastFrame | null;
  endedAtMs: number | null;
}

export interface StreamStatus {
  id: string;
  source: string;
  state: StreamState;
  error: { code: string; message: string } | null;
  counters: StreamCounters;
  store: StoreStats;
  /** Tokens the retained frames hold at 12×12 (what an unbudgeted context would need) and the budget. */
  retainedTokens: number;
  budgetTokens: number;
  /**
   * A context continued from an earlier run (stateDir, or a removed stream added again): the last frame before it
   * (seqs and media time go on after it); null for a fresh stream.
   */
  restored: { afterSeq: number; afterPtsMs: number; afterWallMs: number; fromStateDir: boolean } | null;
  /** When a removed, ended or failed stream stopped (its keepEndedFor counts from here); null while running. */
  endedAtMs: number | null;
  source_stats?: unknown;
}

interface Entry {
  pipeline: StreamPipeline;
  source: string;
  video: FrameSource | null;
  done: Promise<void>;
  /** How to open the source again after a restart (string sources only). */
  spec: SavedState['spec'];
  /** When the stream ended, failed or was removed (the start of its `keepEndedFor`). */
  endedAtMs: number | null;
  /** The covered seq and state last written to `stateDir`. */
  saved: { seq: number; state: StreamState } | null;
  restored: StreamStatus['restored'];
}

/**
 * Streams in, questions out: each stream gets a write path (StreamPipeline) and a ContextStore; questions run the
 * LongVU read path over a stream's retained frames. Streams are added and removed at runtime and fail alone.
 */
export class Engine {
  readonly events: EventBus;
  readonly vision: FrameEncoder;
  readonly text: TextEncoder;
  readonly backend: LlmBackend;
  readonly longvu: LongVuOptions;
  readonly limits: QueryLimits;
  /** The source factories, model kits and backends this engine was created with. */
  readonly plugins: EnginePlugins;
  /** Where contexts are saved (`stateDir`), or null. */
  readonly stateDir: string | null;
  readonly #retention: RetentionInput;
  readonly #sourcePolicy: SourcePolicy;
  readonly #spill: EngineConfig['spill'];
  readonly #evidence: { side: number; thumbSide: number } | null;
  readonly #streams = new Map<string, Entry>();
  /** Durable memory (`stateDir`): one snapshot per stream, saved every `checkpointSeconds`. */
  readonly #durable: DurableMemory | null;
  readonly #closeWindows: boolean;
  readonly #checkpointMs: number;
  readonly #keepEndedMs: number;
  #timer: NodeJS.Timeout | null = null;
  #saving: Promise<void> = Promise.resolve();
  readonly #models: OpenedModels;
  /** inputs_embeds buffers (budget × dim) reused across questions, one per question in flight. */
  readonly #scratch: Float32Array[] = [];

  private constructor(
    models: OpenedModels,
    backend: LlmBackend,
    evidence: { side: number; thumbSide: number } | null,
    c: ReturnType<ReturnType<typeof engineConfigSchema>['parse']>,
    plugins: EnginePlugins,
    events: EventBus,
  ) {
    this.plugins = plugins;
    this.#evidence = evidence;
    this.vision = models.vision;
    this.text = models.text;
    this.backend = backend;
    this.events = events;
    this.#models = models;
    this.limits = queryLimitsSchema.parse(c.query);
    this.#retention = c.retention as RetentionInput;
    this.#sourcePolicy = c.sourcePolicy;
    this.#spill = c.spill;
    this.#keepEndedMs = durationMs(c.keepEndedFor);
    this.#durable = c.stateDir ? new DurableMemory(c.stateDir, events) : null;
    this.#closeWindows = c.checkpointOpenWindows;
    this.#checkpointMs = c.checkpointSeconds * 1000;
    this.stateDir = c.stateDir ?? null;
    if (this.#durable || this.#keepEndedMs > 0) {
      // checkpoints that advanced, and kept streams past keepEndedFor forgotten
      this.#timer = setInterval(() => void this.#tick(), Math.min(c.checkpointSeconds * 1000, 60_000));
      this.#timer.unref();
    }
    const { preset, ...rest } = c.longvu;
    this.longvu = longVuOptions(
      {
        highGridSide: models.vision.highSide,
        lowGridSide: models.vision.lowSide,
        dinoThreshold: models.vision.dinoThreshold,
        ...models.longvu,
        ...rest,
      } as Partial<LongVuOptions>,
      preset as LongVuPreset | undefined,
    );
  }

  /**
   * Opens the models with the first model kit that accepts `models` (none: the built-in encoder) and the backend
   * `backend` names (`auto`: the one the models run best); the options are checked against the engine schema.
   */
  static async create(c: EngineConfig = {}, events = new EventBus()): Promise<Engine> {
    const { plugins = builtinPlugins(), ...rest } = c;
    const cfg = engineConfigSchema(plugins).parse(rest);
    const { preset: _preset, ...longvu } = cfg.longvu;
    const models = await openModels(
      cfg.models ?? undefined,
      {
        events,
        intraOpNumThreads: cfg.intraOpNumThreads,
        maxBatch: cfg.maxBatch,
        maxWaitMs: cfg.maxWaitMs,
        longvu: longvu as Partial<LongVuOptions>,
        ...(cfg.precision ? { precision: cfg.precision } : {}),
        ...(cfg.executionProviders ? { executionProviders: cfg.executionProviders } : {}),
        ...(cfg.kserve ? { kserve: cfg.kserve } : {}),
      },
      plugins.models,
    );
    try {
      const name = cfg.backend === 'auto' ? models.defaultBackend : cfg.backend;
      const factory = plugins.backends.get(name, 'backend');
      const options = (cfg as Record<string, unknown>)[name];
      const backend = factory.create({
        models,
        options,
        maxNewTokens: queryLimitsSchema.parse(cfg.query).maxNewTokens,
        generation: cfg.generation,
      });
      return new Engine(models, backend, factory.images?.(options) ?? null, cfg, plugins, events);
    } catch (err) {
      await models.close();
      throw err;
    }
  }

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
    const held = this.#streams.get(spec.id);
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
    const factory = typeof spec.source === 'string' ? this.plugins.sources.resolve(spec.source) : null;
    const sourceOptions = factory?.options.parse(spec.sourceOptions ?? {});
    if (factory && spec.untrusted) {
      admitScheme(spec.source as string, this.#sourcePolicy);
      factory.admit?.(spec.source as string, sourceOptions!, this.#sourcePolicy);
    }
    // continue a kept context: the one held in memory, else the one saved in stateDir
    const saved = spec.restore || held || !spec.continue ? null : this.#loadSaved(spec.id);
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
            lastFrame: this.#durable!.continueAfter(spec.id, saved.state.lastFrame),
            covered: saved.state.covered ?? null,
          }
        : null;
    const spill = this.#spillFor(spec.id, previous === null);
    const pipeline = new StreamPipeline(
      spec.id,
      this.vision,
      this.longvu,
      this.events,
      { ...this.#retention, ...spec.retention },
      spill,
      this.#evidence,
      restore ?? null,
    );
    if (previous) {
      Object.assign(pipeline.counters, previous.counters, { skipped: { ...previous.counters.skipped } });
      pipeline.lastFrame = previous.lastFrame;
      pipeline.coveredFrame = previous.covered;
    }
    const durable = this.#durable;
    if (durable) pipeline.onSeq = (seq) => durable.taken(spec.id, seq);
    let video: FrameSource | null = null;
    let frames: AsyncIterable<SampledFrame> | null;
    let source: string;
    if (typeof spec.source === 'string') {
      video = factory!.open(spec.source, sourceOptions!, {
        streamId: spec.id,
        sizes: [...new Set([...this.vision.imageSizes, ...(this.#evidence ? [this.#evidence.side] : [])])],
        events: this.events,
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
    const entry: Entry = {
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
        if (this.#streams.get(spec.id) !== entry) return;
        entry.endedAtMs ??= Date.now();
        // an ended or failed stream is saved at once: a restart must not replay the file it ended with
        if (pipeline.state === 'ended' || pipeline.state === 'failed') this.#save(spec.id);
      });
    this.#streams.set(spec.id, entry);
    this.events.emit('stream.added', { streamId: spec.id, source });
    return this.status(spec.id);
  }

  /** A stream's spill log (null without `spill`); each segment gets the frames' mean low tokens for search. */
  #spillFor(id: string, fresh = false): SpillLog | null {
    if (!this.#spill) return null;
    const dir = join(this.#spill.dir, id);
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
      { ...this.#spill, dir: join(this.#spill.dir, id), summary: (r) => Float32Array.from(this.#lowMean(r)) },
      this.events,
    );
  }

  /** A frame's mean low-resolution token as the read path lays it out (its query score is one dot product). */
  #lowMean(f: { lo: Float32Array; frameH: number; frameW: number }): Float64Array {
    const o = this.longvu;
    return cachedLowMean(
      f.lo,
      [f.frameH, f.frameW],
      this.vision.dim,
      o.newlineToken ? this.vision.newline : null,
      o,
    );
  }

  /**
   * How a question scores frames (docs/longvu.md §b outside mix mode, and the evidence's scores): the dot product of a
   * frame's mean low-resolution token with the mean embedding of the question's prompt text. `row` scores a frame,
   * `mean` a mean token already computed (a spilled frame's summary).
   */
  async frameScorer(question: string): Promise<{
    row: (f: { lo: Float32Array; frameH: number; frameW: number }) => number;
    mean: (v: ArrayLike<number>) => number;
  }> {
    const { post } = this.text.prompt(question);
    const postEmb = await this.text.embed(post);
    const dim = this.vision.dim;
    const qbar = new Float64Array(dim);
    const lq = postEmb.length / dim;
    for (let t = 0; t < lq; t++)
      for (let d = 0; d < dim; d++) qbar[d] = qbar[d]! + postEmb[t * dim + d]! / lq;
    const mean = (v: ArrayLike<number>) => {
      let s = 0;
      for (let d = 0; d < dim; d++) s += v[d]! * qbar[d]!;
      return s;
    };
    return { mean, row: (f) => mean(this.#lowMean(f)) };
  }

  /**
   * Search over history: every retained and spilled frame of the streams in the range (media time for one stream,
   * wall-clock time across several) scored against `q` as questions score frames (mean low-resolution token · mean
   * question embedding), merged into time ranges of consecutive high-scoring frames (`evidenceRanges`), best first,
   * each with its best frame's thumbnail and, where the models can name what they see, labels. Spilled frames are
   * read by their `.means` summaries, one segment at a time; only the best frames' rows are read back.
   */
  async search(
    ids: readonly string[],
    o: { q: string; sinceMs?: number; untilMs?: number; limit?: number },
  ): Promise<SearchResult> {
    const t0 = performance.now();
    if (!Array.isArray(ids) || ids.length === 0 || ids.length > 64) {
      throw new LvuError('INVALID_ARGUMENT', 'streams must be a list of 1 to 64 stream ids', {
        field: 'streams',
      });
    }
    try {
      validateQuestion(o.q, this.limits.maxQuestionChars);
    } catch (err) {
      throw new LvuError('INVALID_ARGUMENT', (err as LvuError).message.replace(/^question/, 'q'), {
        field: 'q',
      });
    }
    const limit = o.limit ?? 10;
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
      throw new LvuError('INVALID_ARGUMENT', 'limit must be an integer from 1 to 100', { field: 'limit' });
    }
    this.#checkRange(o);
    const entries = ids.map((id) => [id, this.#entry(id)] as const);
    const wall = ids.length > 1;
    const lo = o.sinceMs ?? Number.NEGATIVE_INFINITY;
    const hi = o.untilMs ?? Number.POSITIVE_INFINITY;
    const score = await this.frameScorer(o.q);
    const dot = (v: ArrayLike<number>) => score.mean(v);
    type Hit = {
      streamId: string;
      seq: number;
      ptsMs: number;
      wallMs: number;
      score: number;
      row?: RetainedFrame;
      segment?: string;
    };
    const ranges: (SearchRange & { bestHit: Hit })[] = [];
    let retained = 0;
    let spilled = 0;
    for (const [id, e] of entries) {
      const hits = new Map<number, Hit>();
      /** A frame in the range not seen yet, scored (`score` runs only then); false when left out. */
      const take = (
        f: { seq: number; ptsMs: number; wallMs: number },
        score: () => number,
        at: Pick<Hit, 'row' | 'segment'>,
      ) => {
        const t = wall ? f.wallMs : f.ptsMs;
        if (t < lo || t > hi || hits.has(f.seq)) return false;
        hits.set(f.seq, {
          streamId: id,
          seq: f.seq,
          ptsMs: f.ptsMs,
          wallMs: f.wallMs,
          score: score(),
          ...at,
        });
        return true;
      };
      for (const f of e.pipeline.store.frames())
        if (take(f, () => dot(this.#lowMean(f)), { row: f })) retained++;
      // the spill holds every kept frame: those retention thinned out come from it; frames not yet in a segment
      // are scored from memory (a search never writes a short segment)
      const spill = e.pipeline.spill;
      if (spill) {
        for (const f of spill.pending)
          if (take(f, () => dot(this.#lowMean(f)), { row: { ...f, ordinal: -1 } })) spilled++;
        const range = wall ? [] : [lo, hi];
        for (const s of spill.summaries(...range))
          if (take(s, () => dot(s.summary), { segment: s.segment })) spilled++;
      }
      const list = [...hits.values()].sort((a, b) => a.seq - b.seq);
      for (const r of evidenceRanges(
        list.map((h) => h.ptsMs),
        list.map((h) => h.score),
      )) {
        const best = list[r.best]!;
        ranges.push({
          streamId: id,
          fromMs: r.fromMs,
          toMs: r.toMs,
          wallFromMs: list[r.first]!.wallMs,
          wallToMs: list[r.last]!.wallMs,
          frames: r.last - r.first + 1,
          score: best.score,
          best: { seq: best.seq, ptsMs: best.ptsMs, wallMs: best.wallMs, thumb: '', labels: [] },
          bestHit: best,
        });
      }
    }
    ranges.sort((a, b) => b.score - a.score || a.wallFromMs - b.wallFromMs);
    const top = ranges.slice(0, limit);
    // only the best frames' rows are read back (thumbnail, labels)
    const bySegment = new Map<string, { spill: SpillLog; segment: string; seqs: Set<number>; hits: Hit[] }>();
    for (const r of top) {
      const h = r.bestHit;
      if (h.row || !h.segment) continue;
      const spill = this.#entry(h.streamId).pipeline.spill!;
      const k = `${h.streamId}/${h.segment}`;
      const g = bySegment.get(k) ?? { spill, segment: h.segment, seqs: new Set(), hits: [] };
      g.seqs.add(h.seq);
      g.hits.push(h);
      bySegment.set(k, g);
    }
    for (const g of bySegment.values()) {
      let rows: FeatureRowLike[] = [];
      try {
        rows = g.spill.rows(g.segment, g.seqs);
      } catch {
        // deleted by disk retention meanwhile: the range stays, without a thumbnail
      }
      for (const h of g.hits) {
        const row = rows.find((r) => r.seq === h.seq);
        if (row) h.row = { ...row, ordinal: -1 };
      }
    }
    const labels = this.#models.labels;
    return {
      q: o.q,
      streams: [...ids],
      clock: wall ? 'wall' : 'media',
      ranges: top.map(({ bestHit, ...r }) => ({
        ...r,
        best: {
          ...r.best,
          thumb: bestHit.row ? Buffer.from(bestHit.row.thumb).toString('base64') : '',
          labels: bestHit.row && labels ? labels(bestHit.row.hi).map((l) => l.label) : [],
        },
      })),
      thumbSide: THUMB_SIDE,
      scanned: { retained, spilled },
      ms: performance.now() - t0,
    };
  }

  #entry(id: string): Entry {
    const e = this.#streams.get(id);
    if (!e) {
      throw new LvuError('STREAM_NOT_FOUND', `no stream ${id}: list streams to see what exists`, {
        field: 'id',
      });
    }
    return e;
  }

  /** Every closed temporal-reduction window of a stream (kept ratio, scores). */
  windows$(id: string) {
    return this.#entry(id).pipeline.windows$;
  }

  /** Resolves when the stream's source ends (files), fails or is removed. */
  async whenDone(id: string): Promise<void> {
    await this.#entry(id).done;
  }

  /**
   * Stops a stream. Its context stays queryable (state `removed`) for `keepEndedFor`, unless `purge` (or
   * keepEndedFor 0): then it is forgotten now, with its saved state and spilled frames.
   */
  async removeStream(id: string, o: { purge?: boolean } = {}): Promise<void> {
    const e = this.#entry(id);
    e.pipeline.stop('removed');
    await e.video?.stop();
    if (o.purge || this.#keepEndedMs === 0) {
      if (this.#streams.get(id) === e) this.#streams.delete(id);
      this.#forget(id, e);
    } else {
      e.endedAtMs ??= Date.now();
      this.#save(id);
    }
    this.events.emit('stream.removed', { streamId: id });
  }

  /** A stream's saved state and spilled frames deleted (after a purge or its keepEndedFor). */
  #forget(id: string, e: Entry | null): void {
    this.#saving = this.#saving.then(async () => {
      await this.#durable?.store.remove(id);
      this.#durable?.forget(id);
      if (e?.pipeline.spill) rmSync(e.pipeline.spill.dir, { recursive: true, force: true });
    });
  }

  listStreams(): StreamStatus[] {
    return [...this.#streams.keys()].map((id) => this.status(id));
  }

  status(id: string): StreamStatus {
    const e = this.#entry(id);
    const p = e.pipeline;
    const frames = p.store.frames();
    const perFrame = frames.length
      ? tokenGridLayout(
          this.longvu.highGridSide,
          [frames[0]!.frameH, frames[0]!.frameW],
          this.longvu.unpad,
          this.longvu.newlineToken,
        ).perFrame
      : 0;
    return {
      id,
      source: e.source,
      state: p.state,
      error: p.error ? { code: p.error.code, message: p.error.message } : null,
      counters: { ...p.counters, skipped: { ...p.counters.skipped } },
      store: p.store.stats,
      retainedTokens: perFrame * frames.length,
      budgetTokens: this.longvu.contextTokens,
      restored: e.restored,
      endedAtMs: p.state === 'running' || p.state === 'starting' ? null : e.endedAtMs,
      ...(e.video ? { source_stats: e.video.stats } : {}),
    };
  }

  /** The retained frames of a stream (time order). */
  frames(id: string, range: { sinceMs?: number; untilMs?: number } = {}): readonly RetainedFrame[] {
    return this.#entry(id).pipeline.store.frames(range);
  }

  /** The stream's timeline: kept and evicted frames, retained frames with thumbnails. */
  context(id: string): {
    status: StreamStatus;
    thumbSide: number;
    timeline: readonly TimelineEntry[];
    retained: { seq: number; ptsMs: number; wallMs: number; thumb: Uint8Array }[];
  } {
    const store = this.#entry(id).pipeline.store;
    return {
      status: this.status(id),
      thumbSide: THUMB_SIDE,
      timeline: store.timeline(),
      retained: store.frames().map((f) => ({ seq: f.seq, ptsMs: f.ptsMs, wallMs: f.wallMs, thumb: f.thumb })),
    };
  }

  async query(id: string, input: QuestionInput): Promise<QueryResult> {
    const range = this.#checkQuestion(input);
    const e = this.#entry(id);
    const { frames, fromStore } = this.#framesFor(e, range);
    // the store's grids: the STC chunks prepared as they arrived apply (frames read back from disk may differ)
    return this.#answer(id, frames, fromStore ? { ...input, stcCache: e.pipeline.stc } : input);
  }

  /**
   * One question over several streams under one budget: their retained frames (sinceMs/untilMs on the wall clock,
   * ms since the epoch, since streams' media clocks do not line up) interleaved by wall-clock time and capped to
   * LongVU's `maxFrames` over the union (`int(interval · i)`), then the same read path — one N_h, one STC, one
   * budget over the union. Evidence names each frame's stream; the prompt names the streams.
   */
  async queryStreams(ids: readonly string[], input: QuestionInput): Promise<QueryResult> {
    if (
      !Array.isArray(ids) ||
      ids.length === 0 ||
      ids.length > 64 ||
      ids.some((x) => typeof x !== 'string')
    ) {
      throw new LvuError('INVALID_ARGUMENT', 'streams must be a list of 1 to 64 stream ids', {
        field: 'streams',
      });
    }
    if (new Set(ids).size !== ids.length) {
      throw new LvuError('INVALID_ARGUMENT', 'streams names a stream twice', { field: 'streams' });
    }
    if (ids.length === 1) return this.query(ids[0]!, input);
    const range = this.#checkQuestion(input);
    const lo = range.sinceMs ?? Number.NEGATIVE_INFINITY;
    const hi = range.untilMs ?? Number.POSITIVE_INFINITY;
    const per = ids.map((id) =>
      this.#entry(id)
        .pipeline.store.frames()
        .filter((f) => f.wallMs >= lo && f.wallMs <= hi),
    );
    const sizes = new Set(per.flatMap((fs) => (fs[0] ? [`${fs[0].frameW}x${fs[0].frameH}`] : [])));
    if (sizes.size > 1) {
      throw new LvuError(
        'INVALID_ARGUMENT',
        `the streams have frames of different sizes (${[...sizes].join(', ')}): one layout needs one frame size`,
        { field: 'streams', hint: 'ask streams of one resolution together, or each stream on its own' },
      );
    }
    const order = new Map(ids.map((id, i) => [id, i]));
    const union = per
      .flat()
      .sort(
        (a, b) => a.wallMs - b.wallMs || order.get(a.streamId)! - order.get(b.streamId)! || a.seq - b.seq,
      );
    const pick =
      union.length > this.longvu.maxFrames ? uniformCap(union.length, this.longvu.maxFrames) : union.keys();
    const frames = [...pick].map((i) => union[i]!);
    const cross: CrossStreamInput = {
      streams: [...ids],
      prompt: `Frames from ${ids.length} streams (${ids.join(', ')}), interleaved by time. ${input.question}`,
    };
    return this.#answer(ids.join(','), frames, input, cross);
  }

  /**
   * A question over a context this engine does not run (another worker's snapshot): the same read path over the
   * store's frames.
   */
  async queryStore(store: ContextStore, input: QuestionInput): Promise<QueryResult> {
    return this.#answer(store.streamId, store.frames(this.#checkQuestion(input)), input);
  }

  #checkQuestion(input: QuestionInput): { sinceMs?: number; untilMs?: number } {
    validateQuestion(input.question, this.limits.maxQuestionChars);
    return this.#checkRange(input);
  }

  #checkRange(o: { sinceMs?: number; untilMs?: number }): { sinceMs?: number; untilMs?: number } {
    const range = { sinceMs: o.sinceMs, untilMs: o.untilMs };
    for (const [k, v] of Object.entries(range)) {
      if (v !== undefined && !Number.isFinite(v)) {
        throw new LvuError('INVALID_ARGUMENT', `${k} must be a number of milliseconds`, { field: k });
      }
    }
    return range;
  }

  async #answer(
    id: string,
    frames: readonly RetainedFrame[],
    input: QuestionInput,
    cross: CrossStreamInput | null = null,
  ): Promise<QueryResult> {
    const question = input.question;
    const scratch = this.#scratch.pop() ?? new Float32Array(this.longvu.contextTokens * this.vision.dim);
    let r: QueryResult;
    try {
      r = await answerQuestion(
        id,
        frames,
        this.vision,
        this.text,
        this.backend,
        this.longvu,
        { ...input, question, scratch },
        this.limits.evidenceFrames,
        cross,
      );
    } finally {
      if (this.#scratch.length < 2) this.#scratch.push(scratch);
    }
    this.events.emit('query.answered', { streamId: id, totalTokens: r.totalTokens, ms: r.timingsMs.total });
    return r;
  }

  /**
   * The frames a question sees: the rolling context; for a time range with spill on, every kept frame of that
   * range from disk, thinned to LongVU's cap (`maxFrames`, `int(interval · i)`) when there are more.
   */
  #framesFor(
    e: Entry,
    range: { sinceMs?: number; untilMs?: number },
  ): { frames: readonly RetainedFrame[]; fromStore: boolean } {
    const spill = e.pipeline.spill;
    if (!spill || (range.sinceMs === undefined && range.untilMs === undefined))
      return { frames: e.pipeline.store.frames(range), fromStore: true };
    const rows = spill.read(range.sinceMs, range.untilMs);
    const pick =
      rows.length > this.longvu.maxFrames ? uniformCap(rows.length, this.longvu.maxFrames) : rows.keys();
    return { frames: [...pick].map((i, k) => ({ ...rows[i]!, ordinal: k })), fromStore: false };
  }

  /** A stream's context as snapshot bytes (Arrow IPC; `ContextStore.restore`). */
  snapshot(id: string): Uint8Array {
    return this.#entry(id).pipeline.store.snapshot();
  }

  /**
   * A consistent recovery point of a stream, or null when its covered seq has not passed `after` (no snapshot is
   * built then); `meta` goes into the snapshot with it (the Kafka worker's edge bookkeeping).
   */
  checkpoint(
    id: string,
    meta: (seq: number) => Record<string, string> = () => ({}),
    after?: number,
  ): { seq: number; snapshot: Uint8Array } | null {
    return this.#entry(id).pipeline.checkpoint(meta, after);
  }

  /**
   * A message for a stream that never reaches its context (redelivered, from an older edge session, malformed):
   * counted on the stream (`counters.skipped`, /metrics) and reported as `frame.dropped`.
   */
  recordSkipped(id: string, reason: 'duplicate' | 'stale-epoch' | 'dead-letter', seq: number): void {
    const c = this.#streams.get(id)?.pipeline.counters;
    if (c) {
      const key =
        reason === 'duplicate' ? 'duplicate' : reason === 'stale-epoch' ? 'staleEpoch' : 'deadLettered';
      c.skipped[key]++;
    }
    this.events.emit('frame.dropped', { streamId: id, seq, reason, dropped: 1 });
  }

  /** The edge publishing a stream restarted: counted, and reported as `stream.edge-restarted`. */
  recordEdgeRestart(id: string, epoch: number, previousEpoch: number, seq: number): void {
    const c = this.#streams.get(id)?.pipeline.counters;
    if (c) c.edgeRestarts++;
    this.events.emit('stream.edge-restarted', { streamId: id, epoch, previousEpoch, seq });
  }

  /**
   * At start with `stateDir`: the declared streams continue their saved contexts (seqs and media time going on),
   * except those saved as ended or removed, which are held as they were (a restart never replays a file that
   * ended); saved streams not declared come back as they were — those added at runtime and still running reopen
   * their source, the others are held, queryable until `keepEndedFor`.
   */
  resume(declared: readonly StreamSpec[] = []): { resumed: string[]; held: string[]; started: string[] } {
    const out = { resumed: [] as string[], held: [] as string[], started: [] as string[] };
    const saved = new Map<string, { bytes: Uint8Array; state: SavedState }>();
    for (const id of this.#durable?.store.list() ?? []) {
      const s = this.#loadSaved(id);
      if (s) saved.set(id, s);
    }
    const hold = (id: string, s: { bytes: Uint8Array; state: SavedState }) => {
      const ended = s.state.endedAtMs ?? Date.now();
      if (this.#keepEndedMs >= 0 && ended + this.#keepEndedMs < Date.now()) {
        this.#forget(id, null);
        return;
      }
      this.#hold(id, s);
      out.held.push(id);
    };
    for (const d of declared) {
      const s = saved.get(d.id);
      saved.delete(d.id);
      if (s && (s.state.state === 'ended' || s.state.state === 'removed')) hold(d.id, s);
      else {
        this.addStream({ ...d, continue: true });
        (s ? out.resumed : out.started).push(d.id);
      }
    }
    for (const [id, s] of saved) {
      if (
        (s.state.state === 'running' || s.state.state === 'starting' || s.state.state === 'failed') &&
        s.state.spec
      ) {
        this.addStream({ id, ...s.state.spec, continue: true });
        out.resumed.push(id);
      } else hold(id, s);
    }
    return out;
  }

  /** A saved context held: queryable, taking no frames, in the state it was saved in. */
  #hold(id: string, s: { bytes: Uint8Array; state: SavedState }): void {
    const pipeline = new StreamPipeline(
      id,
      this.vision,
      this.longvu,
      this.events,
      this.#retention,
      this.#spillFor(id),
      this.#evidence,
      s.bytes,
    );
    const state = s.state.state === 'running' || s.state.state === 'starting' ? 'stopped' : s.state.state;
    pipeline.hold(state, s.state.counters, s.state.lastFrame, s.state.covered ?? null);
    this.#streams.set(id, {
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

  /** A stream's saved context and state from `stateDir`; an unreadable file is set aside (`.unreadable`) and reported. */
  #loadSaved(id: string): { bytes: Uint8Array; state: SavedState } | null {
    if (!this.#durable) return null;
    const file = this.#durable.store.file(id);
    if (!existsSync(file)) return null;
    try {
      const bytes = readFileSync(file);
      const meta = ContextStore.snapshotMeta(bytes)['lvu-state'];
      if (!meta) throw new Error('no lvu-state metadata');
      const state = JSON.parse(meta) as SavedState;
      // the snapshot itself must restore too
      ContextStore.restore(bytes);
      return { bytes, state };
    } catch (err) {
      const aside = `${file}.unreadable-${Date.now()}`;
      try {
        renameSync(file, aside);
      } catch {
        // gone meanwhile
      }
      this.events.emit('state.unreadable', { streamId: id, file: aside, message: (err as Error).message });
      return null;
    }
  }

  /**
   * Saves a stream's context and state to `stateDir` when its covered seq or state changed since the last save
   * (atomically: a reader or a SIGKILL never sees half a file). Saves run one at a time, in order.
   */
  #save(id: string, state?: StreamState): Promise<void> {
    const e = this.#streams.get(id);
    const durable = this.#durable;
    if (!durable || !e) return this.#saving;
    const st = state ?? e.pipeline.state;
    const meta: SavedState = {
      state: st,
      spec: e.spec,
      counters: e.pipeline.counters,
      lastFrame: e.pipeline.lastFrame,
      covered: e.pipeline.coveredFrame,
      endedAtMs: st === 'running' || st === 'starting' ? null : e.endedAtMs,
    };
    const after = e.saved && e.saved.state === st ? e.saved.seq : Number.NEGATIVE_INFINITY;
    const cp = e.pipeline.checkpoint(() => ({ 'lvu-state': JSON.stringify(meta) }), after);
    if (!cp) return this.#saving;
    e.saved = { seq: cp.seq, state: st };
    const store = durable.store;
    this.#saving = this.#saving.then(() =>
      store.save(id, cp.snapshot).then(
        () => durable.saved(id),
        (err: unknown) => {
          // the last good file is kept; reported (event, /readyz, /metrics, log) and tried again next time
          if (e.saved?.seq === cp.seq) e.saved = null;
          durable.failed(id, err);
        },
      ),
    );
    return this.#saving;
  }

  /** Every checkpointSeconds: contexts that changed saved; held streams past keepEndedFor forgotten. */
  async #tick(): Promise<void> {
    const now = Date.now();
    for (const [id, e] of [...this.#streams]) {
      const s = e.pipeline.state;
      if (s === 'running' || s === 'starting') {
        const since = e.pipeline.openSinceWallMs;
        // a recording (its frames have a position) is read again from its covered frame after a crash: its
        // windows stay whole; a live source's cannot be read again
        const live = e.pipeline.lastFrame?.positionMs === undefined;
        if (
          this.#durable &&
          this.#closeWindows &&
          live &&
          since !== null &&
          now - since >= this.#checkpointMs
        ) {
          // the open window is closed so that this checkpoint covers every frame taken (a SIGKILL then loses at
          // most checkpointSeconds of frames)
          void e.pipeline.closeOpenWindow().then(() => this.#save(id));
        } else void this.#save(id);
      } else if (e.endedAtMs !== null && e.endedAtMs + this.#keepEndedMs < now) {
        this.#streams.delete(id);
        this.#forget(id, e);
        this.events.emit('stream.removed', { streamId: id });
      }
    }
    await this.#saving;
  }

  /** Waits for the saves under way (tests, and shutdown). */
  async flushState(): Promise<void> {
    for (const id of this.#streams.keys()) void this.#save(id);
    await this.#saving;
  }

  /**
   * Stops every stream and closes the models. With `stateDir`, each context is saved first in the state it was in
   * (a running stream is saved as running, so a restart continues it).
   */
  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    // with stateDir, the frames of open windows go into the contexts before they are saved (a graceful stop
    // loses no frame the streams took); bounded, so a stuck model cannot hold the shutdown
    if (this.#durable) {
      await Promise.all(
        [...this.#streams.values()].map((e) =>
          Promise.race([e.pipeline.closeOpenWindow(), new Promise((r) => setTimeout(r, 10_000).unref())]),
        ),
      );
    }
    for (const [id, e] of [...this.#streams]) {
      const was = e.pipeline.state;
      e.pipeline.stop();
      await e.video?.stop();
      void this.#save(id, was);
      const last = e.pipeline.lastFrame;
      if (this.#durable && last) this.#durable.stopped(id, last.seq);
    }
    await this.#saving;
    this.#durable?.close();
    this.#streams.clear();
    await this.#models.close();
  }

  /** What is wrong with durable memory or the spill now (checkpoints failing, spill turned off), per stream. */
  warnings(): DurabilityWarning[] {
    const out = this.#durable?.warnings() ?? [];
    for (const [id, e] of this.#streams) {
      const f = e.pipeline.spill?.failed;
      if (f)
        out.push({ streamId: id, kind: 'spill', code: f.code, message: f.message, sinceMs: 0, failures: 1 });
    }
    return out;
  }

  /** Checkpoints that failed since start, per stream (`lvu_checkpoint_failures_total`). */
  get checkpointFailures(): ReadonlyMap<string, number> {
    return this.#durable?.failuresTotal ?? new Map();
  }
}
