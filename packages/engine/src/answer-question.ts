import { type ComposedContext, composeContext, type LongVuOptions, materializeVisual } from '@lvu/compress';
import { checked, LvuError, questionSchema, timeRangeShape, z } from '@lvu/core';
import type { FrameEncoder, TextEncoder } from '@lvu/operators';
import type { RetainedFrame } from './context-store.js';
import type { BackendUsage, LlmBackend } from './llm-backend.js';
import { type ObjectEvidence, objectCounts, objectEvidence } from './object-evidence.js';
import type { StcCache } from './stc-cache.js';
import { cachedLowMean, cachedNorms } from './token-caches.js';

export interface QuestionInput {
  question: string;
  /** Only frames with sinceMs ≤ ptsMs ≤ untilMs (media time of the stream). */
  sinceMs?: number;
  untilMs?: number;
  signal?: AbortSignal;
  /** Called with each piece of the answer as the backend streams it. */
  onText?: (text: string) => void;
  /**
   * A buffer of at least budget × dim floats to build `inputs_embeds` in (reused across questions it saves the
   * page faults of a fresh 117 MB array at 8,192 × 3,584); it must not be shared by two questions at once.
   */
  scratch?: Float32Array;
  /** Also return every frame's query score (`evidence.all`, time order): for benchmarks and timelines. */
  allScores?: boolean;
  /**
   * The stream's STC chunks kept from earlier questions and prepared as frames arrived (`StcCache`): the question
   * then only does the budget step. Only for frames of one stream's rolling context (keys are seqs).
   */
  stcCache?: StcCache;
}

/** How a question over several streams differs from one over one stream (`Engine.queryStreams`). */
export interface CrossStreamInput {
  /** The streams, in the order asked. */
  streams: string[];
  /** The text the text encoder sees in place of the question (the question with the streams named). */
  prompt: string;
}

export interface EvidenceFrame {
  /** The stream the frame is from (questions over several streams mix them). */
  streamId: string;
  seq: number;
  ptsMs: number;
  wallMs: number;
  /** Query score (raw dot product with the mean text embedding, docs/longvu.md §b); null when not computed. */
  score: number | null;
  /** What the object detector counted in the frame, by class (only with a detector). */
  objects?: Record<string, number>;
  /**
   * Only in `evidence.all`: the frame's tokens in the sequence the LLM is given (after STC) and its resolution there
   * (H 12×12, L 8×8).
   */
  tokens?: number;
  res?: string;
}

export interface QueryResult {
  /** The stream asked about; over several streams, their ids joined by commas (`streams` lists them). */
  streamId: string;
  /** Only for a question over several streams: their ids, in the order asked. */
  streams?: string[];
  question: string;
  /** The LLM's answer; null with the `none` backend (evidence only). */
  answer: string | null;
  backend: string;
  /** What produced the tokens (the built-in encoder says so). */
  encoder: string;
  mode: ComposedContext['mode']['mode'];
  /** Frames the question was asked over (retained, in the time range). */
  frames: number;
  /** Media time of the first and last frame; over several streams, wall-clock time (ms since the epoch). */
  range: { fromMs: number; toMs: number };
  evidence: {
    /** Frames with 12×12 tokens (all in high/overflow mode, the query-guided N_h in mix mode), in time order. */
    highRes: EvidenceFrame[];
    /** The best-scoring frames, best first. */
    topScored: EvidenceFrame[];
    /** A question over several streams: each stream's best-scoring frames, so every camera's best match shows. */
    byStream?: Record<string, EvidenceFrame[]>;
    /** Every frame with its score, in time order (only when asked: `allScores`). */
    all?: EvidenceFrame[];
    /**
     * The objects the question names ("people", "cars", "vehicles"), where a detector ran: the frames showing the
     * most of them with counts, when they were seen and for how long, the count at a time the question names.
     */
    objects?: ObjectEvidence[];
  };
  visualTokens: number;
  textTokens: number;
  totalTokens: number;
  budgetTokens: number;
  timingsMs: { text: number; compose: number; generate: number; total: number };
  /** What the answer cost on a model server (request size, the server's token counts, time to first token). */
  usage?: BackendUsage;
}

const questionSchemas = new Map<string, ReturnType<typeof questionSchema>>();

/**
 * A question must be non-empty text of at most `maxChars` characters, without binary or undecodable content: core's
 * rule (`questionSchema`), the one the HTTP API validates and documents too.
 */
export function validateQuestion(q: unknown, maxChars: number, field = 'question'): string {
  const key = `${field}:${maxChars}`;
  let schema = questionSchemas.get(key);
  if (!schema) questionSchemas.set(key, (schema = questionSchema(maxChars, field)));
  return checked(schema, q, field);
}

const rangeSchema = z.object(timeRangeShape('media time of the stream'));

/** sinceMs/untilMs, when given, must be finite numbers of milliseconds (core's rule; null is not given). */
export function checkRange(o: { sinceMs?: number | null; untilMs?: number | null }): {
  sinceMs?: number;
  untilMs?: number;
} {
  const r = checked(rangeSchema, { sinceMs: o.sinceMs, untilMs: o.untilMs }, '');
  return { sinceMs: r.sinceMs ?? undefined, untilMs: r.untilMs ?? undefined };
}

const now = () => performance.now();

/** One question over a list of frames: everything the read path needs, in one object. */
export interface ReadRequest {
  /** The stream id (several joined with ',' across streams) the answer names. */
  streamId: string;
  frames: readonly RetainedFrame[];
  vision: Pick<FrameEncoder, 'dim' | 'newline' | 'description' | 'objectClasses' | 'objectHypernyms'>;
  text: TextEncoder;
  backend: LlmBackend;
  longvu: LongVuOptions;
  input: QuestionInput;
  /** Best-scoring frames listed as evidence (5). */
  evidenceFrames?: number;
  /** Across streams: the streams and the prompt that names them. */
  cross?: CrossStreamInput | null;
}

/**
 * The read path over retained frames: the chat prompt split at the image, text embeddings, LongVU's resolution
 * mode / N_h / query scores / STC / layout (compress's `composeContext`, identical to `lvu conformance` given the
 * same frames and text), the `inputs_embeds` sequence — never longer than the budget, checked here — and the
 * backend's answer with evidence.
 */
export async function answerQuestion(req: ReadRequest): Promise<QueryResult> {
  const { streamId, frames, vision, text, backend, longvu: o, input, evidenceFrames = 5 } = req;
  const cross = req.cross ?? null;
  const t0 = now();
  // one stream is on its media clock; several streams share only the wall clock
  const time = cross ? (f: RetainedFrame) => f.wallMs : (f: RetainedFrame) => f.ptsMs;
  if (frames.length === 0) {
    const ranged = input.sinceMs !== undefined || input.untilMs !== undefined;
    // a stream that exists but has kept nothing yet is a conflict of timing (409, retriable), not a missing resource
    throw new LvuError(
      ranged ? 'NOT_FOUND' : 'CONTEXT_EMPTY',
      ranged
        ? `stream ${streamId} retains no frame between ${input.sinceMs ?? '-∞'} and ${input.untilMs ?? '+∞'} ms`
        : `stream ${streamId} has no kept frame yet: wait for its first window to close`,
      {
        field: 'range',
        hint: ranged
          ? 'widen sinceMs/untilMs: GET /v1/streams/{id}/context lists the media times retained'
          : 'a window closes every 16 sampled frames (16 s at 1 fps): ask again then',
      },
    );
  }
  const dim = vision.dim;
  const { pre, post } = text.prompt(cross?.prompt ?? input.question);
  if (pre.length + 1 + post.length + o.reserveTokens > o.contextTokens) {
    throw new LvuError(
      'CONTEXT_OVERFLOW',
      `the prompt needs ${pre.length + post.length} text tokens; the budget is ${o.contextTokens}: ask a shorter question`,
      { field: 'question' },
    );
  }
  const [preEmb, postEmb] = await Promise.all([text.embed(pre), text.embed(post)]);
  const t1 = now();
  const first = frames[0]!;
  const frameHW: [number, number] = [first.frameH, first.frameW];
  // frames of several sizes (cameras of several resolutions): scores over image cells only, comparable across shapes
  const mixed = frames.some((f) => f.frameH !== first.frameH || f.frameW !== first.frameW);
  const ctx = composeContext(
    {
      // each frame with its own size (cameras of several resolutions keep their own layouts) and, across streams,
      // its stream (STC compares a frame only with its own camera's)
      frames: frames.map((f) => ({
        id: f.seq,
        hi: f.hi,
        lo: f.lo,
        hw: [f.frameH, f.frameW] as const,
        ...(cross ? { group: f.streamId } : {}),
      })),
      dim,
      newline: vision.newline,
      frameHW,
      textPreLen: pre.length,
      textPost: postEmb,
      norms: (g) => cachedNorms(g, dim),
      ...(input.stcCache ? { stcChunk: input.stcCache.provider(frames) } : {}),
      ...(o.recentHighResSeconds > 0
        ? { recentHigh: recentCount(frames, o.recentHighResSeconds, time) }
        : {}),
    },
    o,
  );
  const postKept = ctx.textPostTokensKept;
  const total = pre.length + ctx.finalVisualLen + postKept;
  if (total > o.contextTokens || total !== ctx.finalSeqLen) {
    throw new LvuError('INTERNAL', `inputs_embeds of ${total} tokens for a budget of ${o.contextTokens}`, {
      field: 'budget',
    });
  }
  const embeds =
    input.scratch && input.scratch.length >= total * dim
      ? input.scratch.subarray(0, total * dim)
      : new Float32Array(total * dim);
  embeds.set(preEmb, 0);
  // the visual tokens go straight to their place in the sequence (frames were checked finite when stored)
  materializeVisual(ctx, dim, vision.newline, embeds.subarray(pre.length * dim), { checkFinite: false });
  embeds.set(postEmb.subarray(0, postKept * dim), (pre.length + ctx.finalVisualLen) * dim);

  // evidence: the high-resolution frames, and the best query scores (computed here when the mode had none)
  let sim = ctx.qgs?.simFrame ?? null;
  if (!sim) {
    // outside mix mode LongVU computes no scores: score each frame by its cached mean low-resolution token
    const qbar = new Float64Array(dim);
    const lq = postEmb.length / dim;
    for (let q = 0; q < lq; q++)
      for (let d = 0; d < dim; d++) qbar[d] = qbar[d]! + postEmb[q * dim + d]! / lq;
    sim = Float64Array.from(frames, (f) => {
      const m = cachedLowMean(
        f.lo,
        [f.frameH, f.frameW],
        dim,
        o.newlineToken ? vision.newline : null,
        o,
        mixed,
      );
      let s = 0;
      for (let d = 0; d < dim; d++) s += m[d]! * qbar[d]!;
      return s;
    });
  }
  const classes = vision.objectClasses;
  const ev = (i: number): EvidenceFrame => ({
    streamId: frames[i]!.streamId,
    seq: frames[i]!.seq,
    ptsMs: frames[i]!.ptsMs,
    wallMs: frames[i]!.wallMs,
    score: sim ? sim[i]! : null,
    ...(classes && frames[i]!.objects ? { objects: objectCounts(frames[i]!.objects!, classes) } : {}),
  });
  const objects = objectEvidence(input.question, frames, classes, { hypernyms: vision.objectHypernyms });
  // every frame at 12×12: all of them in high and overflow modes, the N_h query-selected ones in mix mode
  const highRes = ctx.frameRes.flatMap((res, i) => (res === 'H' ? [ev(i)] : []));
  const order = Array.from(frames.keys()).sort((a, b) => sim![b]! - sim![a]! || a - b);
  const topScored = order.slice(0, evidenceFrames).map(ev);
  const byStream = cross
    ? Object.fromEntries(
        cross.streams.map((id) => [
          id,
          order
            .filter((i) => frames[i]!.streamId === id)
            .slice(0, evidenceFrames)
            .map(ev),
        ]),
      )
    : undefined;
  const t2 = now();

  let usage: BackendUsage | undefined;
  const answer = await backend.answer(
    {
      inputsEmbeds: embeds,
      tokens: total,
      dim,
      budgetTokens: o.contextTokens,
      frames,
      highRes,
      topScored,
      scores: sim,
      question: input.question,
      ...(cross ? { streams: cross.streams } : {}),
      ...(objects.length ? { objects } : {}),
    },
    {
      signal: input.signal,
      onText: input.onText,
      onUsage: (u) => {
        usage = u;
      },
    },
  );
  const t3 = now();
  return {
    streamId,
    ...(cross ? { streams: cross.streams } : {}),
    question: input.question,
    answer,
    backend: backend.name,
    encoder: vision.description,
    mode: ctx.mode.mode,
    frames: frames.length,
    range: { fromMs: time(first), toMs: time(frames.at(-1)!) },
    evidence: {
      highRes,
      topScored,
      ...(byStream ? { byStream } : {}),
      ...(input.allScores ? { all: allFrames(ctx, frames.length, ev) } : {}),
      ...(objects.length ? { objects } : {}),
    },
    visualTokens: ctx.finalVisualLen,
    textTokens: pre.length + postKept,
    totalTokens: total,
    budgetTokens: o.contextTokens,
    timingsMs: { text: t1 - t0, compose: t2 - t1, generate: t3 - t2, total: t3 - t0 },
    ...(usage ? { usage } : {}),
  };
}

/** How many of the last frames (time order) lie within `seconds` of the newest one on `time`'s clock. */
export function recentCount(
  frames: readonly RetainedFrame[],
  seconds: number,
  time: (f: RetainedFrame) => number,
): number {
  if (frames.length === 0) return 0;
  const from = time(frames.at(-1)!) - seconds * 1000;
  let n = 0;
  for (let i = frames.length - 1; i >= 0 && time(frames[i]!) >= from; i--) n++;
  return n;
}

/**
 * Every frame's evidence with its tokens in the final sequence (its layout entry's, after STC; none when STC removed
 * them all) and its resolution there.
 */
function allFrames(ctx: ComposedContext, n: number, ev: (i: number) => EvidenceFrame): EvidenceFrame[] {
  const tokens = new Int32Array(n);
  for (const e of ctx.layout) tokens[e.pos] = e.n;
  return Array.from({ length: n }, (_, i) => ({ ...ev(i), tokens: tokens[i]!, res: ctx.frameRes[i]! }));
}
