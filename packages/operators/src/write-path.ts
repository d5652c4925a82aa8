import type { FeatureRow, FeatureWindow } from '@lvu/arrow';
import { LvuError, type SampledFrame } from '@lvu/core';
import { defer, from, map, type Observable, type ObservableInput, type OperatorFunction, tap } from 'rxjs';
import { Credits } from './credits.js';
import { encodeKept } from './encode-kept.js';
import { pullMap } from './pull-map.js';
import { reduceWindows } from './reduce-windows.js';
import { type Scored, scoreFrames } from './score-frames.js';

export interface WritePathOptions {
  streamId: string;
  /** LongVU's temporal-reduction window and threshold (16 and 0.83 in the official code). */
  windowFrames: number;
  threshold: number;
  /** The DINO vector of a sampled frame. */
  dino(frame: SampledFrame): ObservableInput<Float32Array>;
  /** A kept frame's row: its projected grids (and thumbnail, JPEGs). */
  encode(kept: Scored): ObservableInput<FeatureRow>;
  /** Every sampled frame, before it is scored (counters). */
  onFrame?(frame: SampledFrame): void;
  /** A frame an encoder failed on (left out and reported here; throw to fail the stream at once). */
  onFrameError(frame: SampledFrame, err: unknown): void;
  /** Frames in a row an encoder may fail on before the stream fails with the last error (default 10). */
  maxConsecutiveFailures?: number;
}

/**
 * The write path of one stream: score every frame, reduce windows, encode the kept frames; one FeatureWindow per
 * window. `scoreFailed` is told of each frame the gate left out (it holds no window slot).
 */
export function writePath(
  o: WritePathOptions,
  scoreFailed: () => void = () => {},
): OperatorFunction<SampledFrame, FeatureWindow> {
  const limit = o.maxConsecutiveFailures ?? 10;
  return (source) =>
    defer(() => {
      // a frame an encoder fails on is skipped; `limit` in a row mean the models or the source are broken
      let inARow = 0;
      const ok = <T>(v: T) => {
        inARow = 0;
        return v;
      };
      const failed = (frame: SampledFrame, err: unknown) => {
        o.onFrameError(frame, err);
        if (++inARow >= limit) {
          throw err instanceof LvuError
            ? err
            : new LvuError(
                'INFERENCE_FAILED',
                `${limit} frames in a row failed: ${(err as Error)?.message}`,
                {
                  cause: err,
                },
              );
        }
      };
      return source.pipe(
        tap((f) => {
          if (!f.sessionEnd) o.onFrame?.(f);
        }),
        scoreFrames(
          (f) => from(o.dino(f)).pipe(map(ok)),
          (frame, err) => {
            scoreFailed();
            failed(frame, err);
          },
        ),
        reduceWindows(o.windowFrames, o.threshold),
        encodeKept(o.streamId, (k) => from(o.encode(k)).pipe(map(ok)), failed),
      );
    });
}

/**
 * The write path pulling from a source with backpressure: at most two windows of frames are in flight (a fast
 * replay waits for the models; a live source's own queue drops its oldest frames and counts them). A frame holds
 * its slot until its window is encoded, or until the gate leaves it out. Unsubscribing stops the pulling.
 */
export function runWritePath(
  frames: AsyncIterable<SampledFrame>,
  o: WritePathOptions,
): Observable<FeatureWindow> {
  const credits = new Credits(2 * o.windowFrames);
  return pullMap(frames, async (f) => f, credits).pipe(
    tap((f) => {
      if (f.sessionEnd) credits.release(); // a marker holds no window slot
    }),
    writePath(o, () => credits.release()),
    tap((w) => credits.release(w.frames)),
  );
}
