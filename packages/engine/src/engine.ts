import { join } from 'node:path';
import type { FeatureWindow } from '@lvu/arrow';
import {
  type LongVuOptions,
  type LongVuPreset,
  longVuOptions,
  tokenGridLayout,
  uniformCap,
} from '@lvu/compress';
import { EventBus, type FrameSource, isStreamId, LvuError, type SampledFrame } from '@lvu/core';
import { answerQuestion, type QueryResult, type QuestionInput, validateQuestion } from './answer-question.js';
import type { ContextStore, RetainedFrame, StoreStats, TimelineEntry } from './context-store.js';
import {
  builtinPlugins,
  type EngineConfig,
  type EnginePlugins,
  engineConfigSchema,
} from './engine-config.js';
import { type QueryLimits, queryLimitsSchema, type RetentionInput } from './engine-options.js';
import type { FrameEncoder, TextEncoder } from './frame-encoder.js';
import type { LlmBackend } from './llm-backend.js';
import type { OpenedModels } from './model-kit.js';
import { openModels } from './open-models.js';
import { SpillLog } from './spill-log.js';
import { type StreamCounters, StreamPipeline, type StreamState, THUMB_SIDE } from './stream-pipeline.js';

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
  source_stats?: unknown;
}

interface Entry {
  pipeline: StreamPipeline;
  source: string;
  video: FrameSource | null;
  done: Promise<void>;
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
  readonly #retention: RetentionInput;
  readonly #spill: EngineConfig['spill'];
  readonly #evidence: { side: number; thumbSide: number } | null;
  readonly #streams = new Map<string, Entry>();
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
    this.#spill = c.spill;
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

  addStream(spec: StreamSpec): StreamStatus {
    if (!isStreamId(spec.id)) {
      throw new LvuError(
        'INVALID_ARGUMENT',
        `stream id "${String(spec.id).slice(0, 40)}" must be 1–128 letters, digits, '.', '_' or '-'`,
        { field: 'id' },
      );
    }
    if (this.#streams.has(spec.id)) {
      throw new LvuError(
        'STREAM_EXISTS',
        `stream ${spec.id} already exists: remove it first or pick another id`,
        {
          field: 'id',
        },
      );
    }
    // a source no factory opens, or options it refuses, fail here, before anything is created
    const factory = typeof spec.source === 'string' ? this.plugins.sources.resolve(spec.source) : null;
    const sourceOptions = factory?.options.parse(spec.sourceOptions ?? {});
    const spill = this.#spill
      ? new SpillLog(spec.id, { ...this.#spill, dir: join(this.#spill.dir, spec.id) }, this.events)
      : null;
    const pipeline = new StreamPipeline(
      spec.id,
      this.vision,
      this.longvu,
      this.events,
      { ...this.#retention, ...spec.retention },
      spill,
      this.#evidence,
      spec.restore ?? null,
    );
    let video: FrameSource | null = null;
    let frames: AsyncIterable<SampledFrame> | null;
    let source: string;
    if (typeof spec.source === 'string') {
      video = factory!.open(spec.source, sourceOptions!, {
        streamId: spec.id,
        sizes: [...new Set([...this.vision.imageSizes, ...(this.#evidence ? [this.#evidence.side] : [])])],
        events: this.events,
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
    const running =
      frames === null
        ? pipeline.runWindows((spec.source as { windows: AsyncIterable<FeatureWindow> }).windows)
        : pipeline.run(frames);
    const done = running.catch(() => {
      // the pipeline records its error and emits stream.failed; other streams go on
    });
    this.#streams.set(spec.id, { pipeline, source, video, done });
    this.events.emit('stream.added', { streamId: spec.id, source });
    return this.status(spec.id);
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

  async removeStream(id: string): Promise<void> {
    const e = this.#entry(id);
    e.pipeline.stop();
    await e.video?.stop();
    this.#streams.delete(id);
    this.events.emit('stream.removed', { streamId: id });
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
   * A question over a context this engine does not run (another worker's snapshot): the same read path over the
   * store's frames.
   */
  async queryStore(store: ContextStore, input: QuestionInput): Promise<QueryResult> {
    return this.#answer(store.streamId, store.frames(this.#checkQuestion(input)), input);
  }

  #checkQuestion(input: QuestionInput): { sinceMs?: number; untilMs?: number } {
    validateQuestion(input.question, this.limits.maxQuestionChars);
    const range = { sinceMs: input.sinceMs, untilMs: input.untilMs };
    for (const [k, v] of Object.entries(range)) {
      if (v !== undefined && !Number.isFinite(v)) {
        throw new LvuError('INVALID_ARGUMENT', `${k} must be a number of milliseconds`, { field: k });
      }
    }
    return range;
  }

  async #answer(id: string, frames: readonly RetainedFrame[], input: QuestionInput): Promise<QueryResult> {
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

  async close(): Promise<void> {
    for (const id of [...this.#streams.keys()]) await this.removeStream(id);
    await this.#models.close();
  }
}
