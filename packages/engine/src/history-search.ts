import type { LongVuOptions } from '@lvu/compress';
import { LvuError, type SampledFrame } from '@lvu/core';
import type { FrameEncoder, TextEncoder } from '@lvu/operators';
import { squareRgb, THUMB_SIDE } from '@lvu/operators';
import { checkRange, validateQuestion } from './answer-question.js';
import type { RetainedFrame } from './context-store.js';
import type { QueryLimits } from './engine-options.js';
import type { OpenedModels } from './model-kit.js';
import { type ObjectEvidence, objectCounts, objectEvidence } from './object-evidence.js';
import type { SpillLog } from './spill-log.js';
import { evidenceRanges } from './starter-encoder.js';
import type { StreamRegistry } from './stream-registry.js';
import { cachedLowMean } from './token-caches.js';

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
    /** What the object detector counted in it, by class (only with a detector). */
    objects?: Record<string, number>;
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
  /**
   * The objects the search names ("person", "cars"), where a detector ran: when they were seen, for how long, the
   * frames showing the most (the retained frames of the range: spilled frames are searched by their summaries only).
   */
  objects?: ObjectEvidence[];
  ms: number;
}

type FeatureRowLike = Omit<RetainedFrame, 'ordinal'>;

/** What a search covers: the time range (media time for one stream, wall clock across several) and how many. */
type SearchRange_ = { sinceMs?: number; untilMs?: number; limit?: number };

/** An RGB24 image (width × height × 3 bytes), e.g. a decoded JPEG. */
export interface RgbImage {
  rgb: Uint8Array;
  width: number;
  height: number;
}

/**
 * Search over history, the engine's second service: how a question scores frames, applied to every retained and
 * spilled frame of a time range.
 */
export class HistorySearch {
  constructor(
    private readonly d: {
      registry: StreamRegistry;
      vision: FrameEncoder;
      text: TextEncoder;
      longvu: LongVuOptions;
      limits: QueryLimits;
      labels: OpenedModels['labels'];
    },
  ) {}

  /** A frame's mean low-resolution token as the read path lays it out (its query score is one dot product). */
  lowMean(f: { lo: Float32Array; frameH: number; frameW: number }): Float64Array {
    const o = this.d.longvu;
    return cachedLowMean(
      f.lo,
      [f.frameH, f.frameW],
      this.d.vision.dim,
      o.newlineToken ? this.d.vision.newline : null,
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
    const { post } = this.d.text.prompt(question);
    const postEmb = await this.d.text.embed(post);
    const dim = this.d.vision.dim;
    const qbar = new Float64Array(dim);
    const lq = postEmb.length / dim;
    for (let t = 0; t < lq; t++)
      for (let d = 0; d < dim; d++) qbar[d] = qbar[d]! + postEmb[t * dim + d]! / lq;
    const mean = (v: ArrayLike<number>) => {
      let s = 0;
      for (let d = 0; d < dim; d++) s += v[d]! * qbar[d]!;
      return s;
    };
    return { mean, row: (f) => mean(this.lowMean(f)) };
  }

  /**
   * Search over history: every retained and spilled frame of the streams in the range (media time for one stream,
   * wall-clock time across several) scored against `q` as questions score frames (mean low-resolution token · mean
   * question embedding), merged into time ranges of consecutive high-scoring frames (`evidenceRanges`), best first,
   * each with its best frame's thumbnail and, where the models can name what they see, labels. Spilled frames are
   * read by their `.means` summaries, one segment at a time; only the best frames' rows are read back.
   */
  async search(ids: readonly string[], o: SearchRange_ & { q: string }): Promise<SearchResult> {
    const t0 = performance.now();
    this.#check(ids, o);
    validateQuestion(o.q, this.d.limits.maxQuestionChars, 'q');
    const score = await this.frameScorer(o.q);
    const result = this.#rank(ids, o, o.q, (v) => score.mean(v), t0);
    const objects = this.#objects(ids, o);
    return objects.length ? { ...result, objects, ms: performance.now() - t0 } : result;
  }

  /** The object evidence of a search's text over the streams' retained frames in its range. */
  #objects(ids: readonly string[], o: SearchRange_ & { q: string }): ObjectEvidence[] {
    const classes = this.d.vision.objectClasses;
    if (!classes) return [];
    const time = ids.length > 1 ? (f: RetainedFrame) => f.wallMs : (f: RetainedFrame) => f.ptsMs;
    const lo = o.sinceMs ?? Number.NEGATIVE_INFINITY;
    const hi = o.untilMs ?? Number.POSITIVE_INFINITY;
    const frames = ids
      .flatMap((id) => this.d.registry.entry(id).pipeline.store.frames())
      .filter((f) => time(f) >= lo && time(f) <= hi)
      .sort((a, b) => a.wallMs - b.wallMs);
    return objectEvidence(o.q, frames, classes, { hypernyms: this.d.vision.objectHypernyms });
  }

  /**
   * Search by example image: the same ranking, each frame scored by the cosine of its mean low-resolution token
   * with the image's, encoded as a frame of the stream would be (padded to a square with the sources' default
   * fill, at each size the encoders take).
   */
  async searchImage(ids: readonly string[], o: SearchRange_ & { image: RgbImage }): Promise<SearchResult> {
    const t0 = performance.now();
    this.#check(ids, o);
    const { rgb, width, height } = o.image;
    if (!(width > 0 && height > 0) || rgb.length !== width * height * 3) {
      throw new LvuError(
        'INVALID_ARGUMENT',
        `an image of ${width}×${height} needs ${width * height * 3} RGB bytes`,
        {
          field: 'image',
        },
      );
    }
    const frame: SampledFrame = {
      streamId: '(image)',
      seq: 0,
      ptsMs: 0,
      wallMs: Date.now(),
      width,
      height,
      images: Object.fromEntries(this.d.vision.imageSizes.map((s) => [s, squareRgb(rgb, width, height, s)])),
    };
    const f = await this.d.vision.features(frame, await this.d.vision.dino(frame));
    const m = this.lowMean({ lo: f.lo, frameH: height, frameW: width });
    return this.#rank(ids, o, '(image)', (v) => cosine(v, m), t0);
  }

  #check(ids: readonly string[], o: SearchRange_): void {
    if (!Array.isArray(ids) || ids.length === 0 || ids.length > 64) {
      throw new LvuError('INVALID_ARGUMENT', 'streams must be a list of 1 to 64 stream ids', {
        field: 'streams',
      });
    }
    const limit = o.limit ?? 10;
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
      throw new LvuError('INVALID_ARGUMENT', 'limit must be an integer from 1 to 100', { field: 'limit' });
    }
    checkRange(o);
  }

  /** Every frame of the streams in the range scored by `dot` (on its mean low-resolution token), as ranges. */
  #rank(
    ids: readonly string[],
    o: SearchRange_,
    q: string,
    dot: (v: ArrayLike<number>) => number,
    t0: number,
  ): SearchResult {
    const limit = o.limit ?? 10;
    const entries = ids.map((id) => [id, this.d.registry.entry(id)] as const);
    const wall = ids.length > 1;
    const lo = o.sinceMs ?? Number.NEGATIVE_INFINITY;
    const hi = o.untilMs ?? Number.POSITIVE_INFINITY;
    type Hit = {
      streamId: string;
      seq: number;
      ptsMs: number;
      wallMs: number;
      score: number;
      /** The frame's mean low-resolution token (scene extension compares frames by it). */
      mean: ArrayLike<number>;
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
        mean: () => ArrayLike<number>,
        at: Pick<Hit, 'row' | 'segment'>,
      ) => {
        const t = wall ? f.wallMs : f.ptsMs;
        if (t < lo || t > hi || hits.has(f.seq)) return false;
        const m = mean();
        hits.set(f.seq, {
          streamId: id,
          seq: f.seq,
          ptsMs: f.ptsMs,
          wallMs: f.wallMs,
          score: dot(m),
          mean: m,
          ...at,
        });
        return true;
      };
      for (const f of e.pipeline.store.frames()) if (take(f, () => this.lowMean(f), { row: f })) retained++;
      // the spill holds every kept frame: those retention thinned out come from it; frames not yet in a segment
      // are scored from memory (a search never writes a short segment)
      const spill = e.pipeline.spill;
      if (spill) {
        for (const f of spill.pending)
          if (take(f, () => this.lowMean(f), { row: { ...f, ordinal: -1 } })) spilled++;
        const range = wall ? [] : [lo, hi];
        for (const s of spill.summaries(...range))
          if (take(s, () => s.summary, { segment: s.segment })) spilled++;
      }
      const list = [...hits.values()].sort((a, b) => a.seq - b.seq);
      const threshold = this.d.vision.sceneThreshold;
      for (const r of evidenceRanges(
        list.map((h) => h.ptsMs),
        list.map((h) => h.score),
        threshold === undefined
          ? undefined
          : { similarity: (a, b) => cosine(list[a]!.mean, list[b]!.mean), threshold },
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
      const spill = this.d.registry.entry(h.streamId).pipeline.spill!;
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
    const labels = this.d.labels;
    return {
      q,
      streams: [...ids],
      clock: wall ? 'wall' : 'media',
      ranges: top.map(({ bestHit, ...r }) => ({
        ...r,
        best: {
          ...r.best,
          thumb: bestHit.row ? Buffer.from(bestHit.row.thumb).toString('base64') : '',
          labels: bestHit.row && labels ? labels(bestHit.row.hi).map((l) => l.label) : [],
          ...(bestHit.row?.objects && this.d.vision.objectClasses
            ? { objects: objectCounts(bestHit.row.objects, this.d.vision.objectClasses) }
            : {}),
        },
      })),
      thumbSide: THUMB_SIDE,
      scanned: { retained, spilled },
      ms: performance.now() - t0,
    };
  }
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
}
