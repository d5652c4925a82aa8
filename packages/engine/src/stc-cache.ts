import {
  highresCount,
  type LongVuOptions,
  lowResImageSize,
  resolutionMode,
  type StcChunk,
  stcChunk,
  tokenGridLayout,
  visualBudgetTokens,
} from '@lvu/compress';
import type { FloatArray } from '@lvu/core';

/** What the cache needs of a retained frame. */
interface Frame {
  seq: number;
  frameH: number;
  frameW: number;
  hi: Float32Array;
  lo: Float32Array;
}

/** A question's typical text length (tokens before and after the image) for deciding what to prepare. */
const TYPICAL_TEXT_TOKENS = 48;

/**
 * STC's per-chunk decisions of one stream's rolling context, kept while the chunk's frames stay the same (they
 * depend on nothing else): a question reuses them and only does the budget step, so its cost does not grow with
 * the frames retained. Keyed by resolution, frame size and the chunk's seqs; least recently used chunks go first.
 * `prepare` computes what the next question will need as frames arrive (one chunk per turn of the event loop).
 */
export class StcCache {
  readonly #chunks = new Map<string, StcChunk>();
  readonly capacity: number;
  hits = 0;
  misses = 0;
  #preparing: Promise<void> | null = null;
  #again = false;

  constructor(capacity = 1024) {
    this.capacity = capacity;
  }

  get size(): number {
    return this.#chunks.size;
  }

  #key(res: string, frames: readonly Frame[], start: number, end: number): string {
    let key = `${res}:${frames[0]!.frameH}x${frames[0]!.frameW}:`;
    for (let i = start; i < end; i++) key += `${frames[i]!.seq},`;
    return key;
  }

  /** The `stcChunk` provider of `composeContext` for these frames (the positions it passes index them). */
  provider(frames: readonly Frame[]) {
    return (res: 'H' | 'L', start: number, end: number, compute: () => StcChunk): StcChunk => {
      const key = this.#key(res, frames, start, end);
      const hit = this.#chunks.get(key);
      if (hit) {
        this.hits++;
        this.#chunks.delete(key); // most recently used last
        this.#chunks.set(key, hit);
        return hit;
      }
      this.misses++;
      const c = compute();
      this.#put(key, c);
      return c;
    };
  }

  #put(key: string, c: StcChunk): void {
    this.#chunks.set(key, c);
    while (this.#chunks.size > this.capacity) this.#chunks.delete(this.#chunks.keys().next().value!);
  }

  /**
   * Computes the chunks a question of typical length over `frames()` would need, unless LongVU would not run STC
   * for it (few frames: query-guided high resolution instead). Calls made while one runs coalesce into one more run
   * over the frames as they are then.
   */
  prepare(
    frames: () => readonly Frame[],
    o: LongVuOptions,
    dim: number,
    newline: FloatArray | null,
    norms: (g: FloatArray) => Float64Array | undefined,
  ): Promise<void> {
    if (this.#preparing) {
      this.#again = true;
      return this.#preparing;
    }
    this.#preparing = (async () => {
      do {
        this.#again = false;
        // a copy: the store's list changes while this runs between turns
        await this.#prepareOnce([...frames()], o, dim, newline, norms);
      } while (this.#again);
    })().finally(() => {
      this.#preparing = null;
    });
    return this.#preparing;
  }

  async #prepareOnce(
    frames: readonly Frame[],
    o: LongVuOptions,
    dim: number,
    newline: FloatArray | null,
    norms: (g: FloatArray) => Float64Array | undefined,
  ): Promise<void> {
    const T = frames.length;
    if (T === 0) return;
    const hw: [number, number] = [frames[0]!.frameH, frames[0]!.frameW];
    // what composeContext decides for a question of typical length (docs/longvu.md §b)
    const mode = resolutionMode(T, TYPICAL_TEXT_TOKENS + 1, o).mode;
    const hi = tokenGridLayout(o.highGridSide, hw, o.unpad, o.newlineToken);
    const lo =
      mode === 'mix'
        ? tokenGridLayout(
            o.lowGridSide,
            lowResImageSize(hw, o.highGridSide, o.lowGridSide),
            o.unpad,
            o.newlineToken,
          )
        : null;
    const base = lo ?? hi;
    const B = visualBudgetTokens(o, TYPICAL_TEXT_TOKENS);
    if (
      lo &&
      o.highGridSide > o.lowGridSide &&
      o.highres &&
      highresCount(B, T, hi.perFrame, lo.perFrame).count >= 1
    )
      return; // query-guided selection, no STC
    if (B >= T * base.perFrame) return; // everything fits
    const res = lo ? 'L' : 'H';
    const nl = o.newlineToken ? newline : null;
    for (let s = 0; s < T; s += o.stcChunkFrames) {
      const e = Math.min(s + o.stcChunkFrames, T);
      const key = this.#key(res, frames, s, e);
      if (this.#chunks.has(key)) continue;
      const grids = frames.slice(s, e).map((f) => (lo ? f.lo : f.hi));
      this.#put(key, stcChunk(grids, base, nl, dim, o.stcThreshold, o.cosineEps, norms, s));
      await new Promise<void>((r) => setImmediate(r)); // one chunk per turn: questions and frames go between
    }
  }
}
