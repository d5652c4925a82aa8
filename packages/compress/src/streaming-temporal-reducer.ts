import { type FloatArray, LvuError } from '@lvu/core';
import { windowScores } from './temporal-reduce.js';
import { sumSquares } from './vector-math.js';

export interface ClosedWindow<T> {
  /** Window number from the stream start (window w covers frames w·size .. w·size+size−1). */
  window: number;
  /** Index of the window's first frame in the stream. */
  start: number;
  /** Frames in the window. */
  frames: number;
  /** The kept frames, in order, with their stream index and score. */
  kept: { index: number; item: T; score: number }[];
  scores: Float64Array;
}

/**
 * The streaming form of temporal reduction (§a): frames are pushed one at a time; when a window of `windowFrames`
 * frames (aligned to the stream start) is complete it is scored exactly like the offline function and its kept
 * frames are returned. `flush()` closes a last partial window. With the same frames, the union of the kept frames
 * equals `temporalReduce(...).kept` (the offline windowed branch; the budget gate and the 400-frame cap are
 * decisions about a whole finite video and belong to retention in a stream).
 */
export class StreamingTemporalReducer<T = unknown> {
  readonly windowFrames: number;
  readonly threshold: number;
  #vectors: FloatArray[] = [];
  #sumSq: number[] = [];
  #items: T[] = [];
  #dim = -1;
  #window = 0;
  #pushed = 0;

  constructor(windowFrames: number, threshold: number) {
    this.windowFrames = windowFrames;
    this.threshold = threshold;
  }

  /** Frames pushed so far. */
  get pushed(): number {
    return this.#pushed;
  }

  /** Frames waiting in the open window. */
  get pending(): number {
    return this.#vectors.length;
  }

  /**
   * Adds one frame's DINO vector (not copied: do not mutate it until its window closes). A frame with NaN/Infinity
   * or the wrong length is rejected with an LvuError before it enters the window, so the window stays valid.
   */
  push(vector: FloatArray, item: T): ClosedWindow<T> | null {
    if (this.#dim >= 0 && vector.length !== this.#dim) {
      throw new LvuError(
        'SHAPE_MISMATCH',
        `frame ${this.pushed} has ${vector.length} values, expected ${this.#dim}`,
        {
          field: 'dino',
        },
      );
    }
    const ss = sumSquares(vector, 0, vector.length);
    if (!Number.isFinite(ss)) {
      throw new LvuError(
        'NON_FINITE_INPUT',
        `DINO features of frame ${this.pushed} contain NaN or Infinity`,
        {
          field: 'dino',
        },
      );
    }
    this.#dim = vector.length;
    this.#sumSq.push(ss);
    this.#pushed++;
    this.#vectors.push(vector);
    this.#items.push(item);
    return this.#vectors.length === this.windowFrames ? this.#close() : null;
  }

  /** Closes the partial window, if any (at the end of a stream; frames pushed later start a new window). */
  flush(): ClosedWindow<T> | null {
    return this.#vectors.length > 0 ? this.#close() : null;
  }

  #close(): ClosedWindow<T> {
    const vectors = this.#vectors;
    const items = this.#items;
    const sumSq = this.#sumSq;
    this.#vectors = [];
    this.#items = [];
    this.#sumSq = [];
    const start = this.#pushed - vectors.length;
    const window = this.#window++;
    const scores = windowScores(vectors, 0, vectors.length, sumSq);
    const kept: ClosedWindow<T>['kept'] = [];
    for (let i = 0; i < scores.length; i++) {
      if (scores[i]! < this.threshold) kept.push({ index: start + i, item: items[i]!, score: scores[i]! });
    }
    return { window, start, frames: vectors.length, kept, scores };
  }
}
