import type { SampledFrame } from '@lvu/core';

/** Where a stream's numbering and media time stood when its context was saved (a restart continues after it). */
export interface LastFrame {
  seq: number;
  ptsMs: number;
  wallMs: number;
  /** Its place in a recording (`SampledFrame.positionMs`; absent for live sources). */
  positionMs?: number;
}

/**
 * A source's frames with markers (`sessionEnd`) slipped in between them on request: a marker closes the open
 * temporal-reduction window as a source's end does, without waiting for the source's next frame.
 */
export function withMarkers(
  frames: AsyncIterable<SampledFrame>,
  markers: { take(): SampledFrame | null; next(): Promise<void>; wake(): void },
): AsyncIterable<SampledFrame> {
  return {
    [Symbol.asyncIterator]() {
      const it = frames[Symbol.asyncIterator]();
      let pending: Promise<IteratorResult<SampledFrame>> | null = null;
      let done = false;
      return {
        async next(): Promise<IteratorResult<SampledFrame>> {
          for (;;) {
            if (done) return { done: true, value: undefined };
            const m = markers.take();
            if (m) return { done: false, value: m };
            if (!pending) {
              pending = it.next();
              pending.catch(() => {}); // a source failing after return() is no unhandled rejection
            }
            const r = await Promise.race([pending, markers.next().then(() => null)]);
            if (r === null) continue;
            pending = null;
            if (r.done) done = true;
            return r;
          }
        },
        async return(): Promise<IteratorResult<SampledFrame>> {
          done = true;
          markers.wake();
          await it.return?.();
          return { done: true, value: undefined };
        },
      };
    },
  };
}

/**
 * A fresh source's frames continuing a restored stream: seqs go on after `last.seq`, and media time after
 * `last.ptsMs` plus the wall-clock time the stream was away (a restart shows as a gap, never as time going back).
 */
export async function* continueAfter(
  frames: AsyncIterable<SampledFrame>,
  last: LastFrame,
): AsyncGenerator<SampledFrame> {
  let seqOff: number | null = null;
  let ptsOff = 0;
  for await (const f of frames) {
    if (f.sessionEnd) {
      yield f;
      continue;
    }
    if (seqOff === null) {
      seqOff = last.seq + 1 - f.seq;
      ptsOff = last.ptsMs + Math.max(1, f.wallMs - last.wallMs) - f.ptsMs;
    }
    yield { ...f, seq: f.seq + seqOff, ptsMs: f.ptsMs + ptsOff };
  }
}
