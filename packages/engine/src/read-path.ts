import { type LongVuOptions, uniformCap } from '@lvu/compress';
import { LvuError } from '@lvu/core';
import type { FrameEncoder, TextEncoder } from '@lvu/operators';
import {
  answerQuestion,
  type CrossStreamInput,
  checkRange,
  type QueryResult,
  type QuestionInput,
  validateQuestion,
} from './answer-question.js';
import type { ContextStore, RetainedFrame } from './context-store.js';
import type { QueryLimits } from './engine-options.js';
import type { LlmBackend } from './llm-backend.js';
import type { StreamEntry, StreamRegistry } from './stream-registry.js';

/**
 * The read path, the engine's first service: a question over one stream, several under one budget, or a context
 * the engine does not run — the frames chosen here, the layout and the answer by `answerQuestion`.
 */
export class ReadPath {
  /** inputs_embeds buffers (budget × dim) reused across questions, one per question in flight. */
  readonly #scratch: Float32Array[] = [];

  constructor(
    private readonly d: {
      registry: StreamRegistry;
      vision: FrameEncoder;
      text: TextEncoder;
      backend: LlmBackend;
      longvu: LongVuOptions;
      limits: QueryLimits;
    },
  ) {}

  async query(id: string, input: QuestionInput): Promise<QueryResult> {
    const range = this.#checkQuestion(input);
    const e = this.d.registry.entry(id);
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
      this.d.registry
        .entry(id)
        .pipeline.store.frames()
        .filter((f) => f.wallMs >= lo && f.wallMs <= hi),
    );
    const order = new Map(ids.map((id, i) => [id, i]));
    const union = per
      .flat()
      .sort(
        (a, b) => a.wallMs - b.wallMs || order.get(a.streamId)! - order.get(b.streamId)! || a.seq - b.seq,
      );
    const pick =
      union.length > this.d.longvu.maxFrames
        ? uniformCap(union.length, this.d.longvu.maxFrames)
        : union.keys();
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
    validateQuestion(input.question, this.d.limits.maxQuestionChars);
    return checkRange(input);
  }

  async #answer(
    id: string,
    frames: readonly RetainedFrame[],
    input: QuestionInput,
    cross: CrossStreamInput | null = null,
  ): Promise<QueryResult> {
    const question = input.question;
    const scratch = this.#scratch.pop() ?? new Float32Array(this.d.longvu.contextTokens * this.d.vision.dim);
    let r: QueryResult;
    try {
      r = await answerQuestion({
        streamId: id,
        frames,
        vision: this.d.vision,
        text: this.d.text,
        backend: this.d.backend,
        longvu: this.d.longvu,
        input: { ...input, question, scratch },
        evidenceFrames: this.d.limits.evidenceFrames,
        cross,
      });
    } finally {
      if (this.#scratch.length < 2) this.#scratch.push(scratch);
    }
    this.d.registry.events.emit('query.answered', {
      streamId: id,
      totalTokens: r.totalTokens,
      ms: r.timingsMs.total,
    });
    return r;
  }

  /**
   * The frames a question sees: the rolling context; for a time range with spill on, every kept frame of that
   * range from disk, thinned to LongVU's cap (`maxFrames`, `int(interval · i)`) when there are more.
   */
  #framesFor(
    e: StreamEntry,
    range: { sinceMs?: number; untilMs?: number },
  ): { frames: readonly RetainedFrame[]; fromStore: boolean } {
    const spill = e.pipeline.spill;
    if (!spill || (range.sinceMs === undefined && range.untilMs === undefined))
      return { frames: e.pipeline.store.frames(range), fromStore: true };
    const rows = spill.read(range.sinceMs, range.untilMs);
    const pick =
      rows.length > this.d.longvu.maxFrames ? uniformCap(rows.length, this.d.longvu.maxFrames) : rows.keys();
    return { frames: [...pick].map((i, k) => ({ ...rows[i]!, ordinal: k })), fromStore: false };
  }
}
