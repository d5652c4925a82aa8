/**
 * Chooses which decoded frames to sample, by presentation timestamp, at `fps` frames per second of media time.
 *
 * A frame is sampled when its pts reaches the next sampling instant; the instants advance on a fixed grid from the
 * first frame (so variable frame rate does not shift them). A forward jump longer than `jumpMs` (a gap in a
 * recording, a camera that skipped) restarts the grid at the frame after the jump instead of emitting a burst; a
 * backward jump (timestamp reset after a reconnect, wrap-around) restarts it too. Output times (`ptsMs` of the
 * sampled frames) are made monotonic across resets by an offset, so a stream's media time never goes backwards.
 */
export interface PtsSamplerOptions {
  fps: number;
  /** A forward gap longer than this restarts the grid; default 5 intervals. */
  jumpMs?: number;
}

export class PtsSampler {
  readonly intervalMs: number;
  readonly jumpMs: number;
  #next = Number.NaN;
  #last = Number.NaN;
  #offset = 0;
  #lastOut = Number.NEGATIVE_INFINITY;
  /** Discontinuities seen (backward or long forward jumps). */
  resets = 0;

  constructor(o: PtsSamplerOptions) {
    if (!(o.fps > 0) || !Number.isFinite(o.fps))
      throw new RangeError(`fps must be a positive number, got ${o.fps}`);
    this.intervalMs = 1000 / o.fps;
    this.jumpMs = o.jumpMs ?? 5 * this.intervalMs;
  }

  /**
   * Offers a decoded frame's pts (ms); returns the output pts if the frame is sampled, or null.
   * Frames without a pts must be given an estimate by the caller (previous pts + frame duration).
   */
  offer(ptsMs: number): number | null {
    const last = this.#last;
    this.#last = ptsMs;
    if (Number.isNaN(this.#next)) return this.#take(ptsMs);
    if (ptsMs < last - this.intervalMs || ptsMs - last > this.jumpMs) {
      this.resets++;
      // keep output time monotonic: continue one interval after the last output
      if (ptsMs + this.#offset <= this.#lastOut) this.#offset = this.#lastOut + this.intervalMs - ptsMs;
      return this.#take(ptsMs);
    }
    if (ptsMs + 1e-6 < this.#next) return null;
    this.#next += this.intervalMs;
    if (ptsMs >= this.#next) this.#next = ptsMs + this.intervalMs; // slow source: never emit a burst
    return this.#out(ptsMs);
  }

  /**
   * Whether a frame of this pts would certainly not be sampled (before the next instant, and no discontinuity that
   * restarts the grid): a decoder may skip it if nothing references it (`skip_frame` on non-reference frames), and
   * the sampled frames stay exactly the ones decoding every frame gives.
   */
  wouldSkip(ptsMs: number): boolean {
    if (Number.isNaN(this.#next) || !Number.isFinite(ptsMs)) return false;
    const last = this.#last;
    if (ptsMs < last - this.intervalMs || ptsMs - last > this.jumpMs) return false;
    return ptsMs + 1e-6 < this.#next;
  }

  #take(ptsMs: number): number {
    this.#next = ptsMs + this.intervalMs;
    return this.#out(ptsMs);
  }

  #out(ptsMs: number): number {
    const t = ptsMs + this.#offset;
    this.#lastOut = t;
    return t;
  }
}
