import { type LongVuOptions, type LongVuPreset, longVuOptions } from '@lvu/compress';
import { EventBus } from '@lvu/core';
import type { FrameEncoder, TextEncoder } from '@lvu/operators';
import type { QueryResult, QuestionInput } from './answer-question.js';
import type { ContextStore, RetainedFrame } from './context-store.js';
import type { DurabilityWarning } from './durable-memory.js';
import {
  builtinPlugins,
  type EngineConfig,
  type EnginePlugins,
  engineConfigSchema,
} from './engine-config.js';
import { durationMs, type QueryLimits, queryLimitsSchema, type RetentionInput } from './engine-options.js';
import { HistorySearch, type RgbImage, type SearchResult } from './history-search.js';
import type { LlmBackend } from './llm-backend.js';
import type { OpenedModels } from './model-kit.js';
import { openModels } from './open-models.js';
import { ReadPath } from './read-path.js';
import { StreamLifecycle } from './stream-lifecycle.js';
import { StreamMemory } from './stream-memory.js';
import { type StreamContext, StreamRegistry, type StreamSpec, type StreamStatus } from './stream-registry.js';

export type { RgbImage, SearchRange, SearchResult } from './history-search.js';
export type { StreamContext, StreamSpec, StreamStatus } from './stream-registry.js';

/**
 * The engine: `create()` opens the models and the backend, and the rest is delegation to a stream registry at the
 * bottom (stream-registry.ts) and the services above it — the stream lifecycle (stream-lifecycle.ts), the read path
 * (read-path.ts), search over history (history-search.ts) and durable memory (stream-memory.ts). Applications talk
 * to this class only.
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
  readonly #models: OpenedModels;
  readonly #registry: StreamRegistry;
  readonly #streams: StreamLifecycle;
  readonly #read: ReadPath;
  readonly #search: HistorySearch;
  readonly #memory: StreamMemory;

  private constructor(
    models: OpenedModels,
    backend: LlmBackend,
    evidence: { side: number; thumbSide: number } | null,
    c: ReturnType<ReturnType<typeof engineConfigSchema>['parse']>,
    plugins: EnginePlugins,
    events: EventBus,
  ) {
    this.plugins = plugins;
    this.vision = models.vision;
    this.text = models.text;
    this.backend = backend;
    this.events = events;
    this.#models = models;
    this.limits = queryLimitsSchema.parse(c.query);
    this.stateDir = c.stateDir ?? null;
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
    const registry = new StreamRegistry(this.longvu, events, this.vision.objectClasses);
    const keepEndedMs = durationMs(c.keepEndedFor);
    this.#registry = registry;
    const base = { registry, vision: this.vision, text: this.text, longvu: this.longvu, limits: this.limits };
    this.#read = new ReadPath({ ...base, backend });
    this.#search = new HistorySearch({ ...base, labels: models.labels });
    this.#memory = new StreamMemory({
      registry,
      stateDir: this.stateDir,
      checkpointSeconds: c.checkpointSeconds,
      checkpointMs: c.checkpointSeconds * 1000,
      closeWindows: c.checkpointOpenWindows,
      keepEndedMs,
      retentionPolicies: plugins.retention,
    });
    this.#streams = new StreamLifecycle({
      registry,
      memory: this.#memory,
      sources: plugins.sources,
      retentionPolicies: plugins.retention,
      sourcePolicy: c.sourcePolicy,
      vision: this.vision,
      longvu: this.longvu,
      retention: c.retention as RetentionInput,
      spill: c.spill,
      evidence,
      keepEndedMs,
      lowMean: (f) => this.#search.lowMean(f),
    });
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
    return this.#streams.addStream(spec);
  }

  /**
   * Stops a stream. Its context stays queryable (state `removed`) for `keepEndedFor`, unless `purge` (or
   * keepEndedFor 0): then it is forgotten now, with its saved state and spilled frames.
   */
  removeStream(id: string, o: { purge?: boolean } = {}): Promise<void> {
    return this.#streams.removeStream(id, o);
  }

  /** Resolves when the stream's source ends (files), fails or is removed. */
  whenDone(id: string): Promise<void> {
    return this.#streams.whenDone(id);
  }

  /** Every closed temporal-reduction window of a stream (kept ratio, scores). */
  windows$(id: string) {
    return this.#streams.windows$(id);
  }

  listStreams(): StreamStatus[] {
    return this.#registry.list();
  }

  status(id: string): StreamStatus {
    return this.#registry.status(id);
  }

  /** The retained frames of a stream (time order). */
  frames(id: string, range: { sinceMs?: number; untilMs?: number } = {}): readonly RetainedFrame[] {
    return this.#registry.frames(id, range);
  }

  /** The stream's timeline: kept and evicted frames, retained frames with thumbnails. */
  context(id: string): StreamContext {
    return this.#registry.context(id);
  }

  /** A question over one stream's context (or, with a time range and spill, every kept frame of that range). */
  query(id: string, input: QuestionInput): Promise<QueryResult> {
    return this.#read.query(id, input);
  }

  /**
   * One question over several streams under one budget: their retained frames interleaved by wall-clock time and
   * capped to LongVU's `maxFrames` over the union, then the same read path (read-path.ts).
   */
  queryStreams(ids: readonly string[], input: QuestionInput): Promise<QueryResult> {
    return this.#read.queryStreams(ids, input);
  }

  /** A question over a context this engine does not run (another worker's snapshot). */
  queryStore(store: ContextStore, input: QuestionInput): Promise<QueryResult> {
    return this.#read.queryStore(store, input);
  }

  /** How a question scores frames (history-search.ts). */
  frameScorer(question: string) {
    return this.#search.frameScorer(question);
  }

  /** Search over history: retained and spilled frames of the range, as time ranges, best first (history-search.ts). */
  search(
    ids: readonly string[],
    o: { q: string; sinceMs?: number; untilMs?: number; limit?: number },
  ): Promise<SearchResult> {
    return this.#search.search(ids, o);
  }

  /** Search by example image: frames ranked by feature similarity to it (history-search.ts). */
  searchImage(
    ids: readonly string[],
    o: { image: RgbImage; sinceMs?: number; untilMs?: number; limit?: number },
  ): Promise<SearchResult> {
    return this.#search.searchImage(ids, o);
  }

  /** A stream's context as snapshot bytes (Arrow IPC; `ContextStore.restore`). */
  snapshot(id: string): Uint8Array {
    return this.#registry.entry(id).pipeline.store.snapshot();
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
    return this.#registry.entry(id).pipeline.checkpoint(meta, after);
  }

  /**
   * At start with `stateDir`: the declared streams continue their saved contexts, those saved as ended or removed
   * are held, saved streams not declared come back as they were (stream-memory.ts).
   */
  resume(declared: readonly StreamSpec[] = []): { resumed: string[]; held: string[]; started: string[] } {
    return this.#memory.resume(declared, {
      add: (spec) => this.#streams.addStream(spec),
      hold: (id, s) => this.#streams.hold(id, s),
    });
  }

  /** Waits for the saves under way (tests, and shutdown). */
  flushState(): Promise<void> {
    return this.#memory.flushState();
  }

  /** Stops every stream (saving each with `stateDir`) and closes the models. */
  async close(): Promise<void> {
    await this.#memory.close();
    await this.#models.close();
  }

  /** What is wrong with durable memory or the spill now (checkpoints failing, spill turned off), per stream. */
  warnings(): DurabilityWarning[] {
    return this.#memory.warnings();
  }

  /** Checkpoints that failed since start, per stream (`lvu_checkpoint_failures_total`). */
  get checkpointFailures(): ReadonlyMap<string, number> {
    return this.#memory.checkpointFailures;
  }
}
