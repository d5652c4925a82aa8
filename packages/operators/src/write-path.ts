import type { FeatureRow, FeatureWindow } from '@lvu/arrow';
import { LvuError, type SampledFrame } from '@lvu/core';
import {
  defer,
  filter,
  firstValueFrom,
  from,
  map,
  type Observable,
  type ObservableInput,
  type OperatorFunction,
  of,
  pipe,
  tap,
} from 'rxjs';
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

/** The stages of one subscription: scoring and encoding share the consecutive-failure rule. */
function stages(o: WritePathOptions, scoreFailed: () => void) {
  const limit = o.maxConsecutiveFailures ?? 10;
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
        : new LvuError('INFERENCE_FAILED', `${limit} frames in a row failed: ${(err as Error)?.message}`, {
            cause: err,
          });
    }
  };
  const score: OperatorFunction<SampledFrame, Scored> = pipe(
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
  );
  const rest: OperatorFunction<Scored, FeatureWindow> = pipe(
    reduceWindows(o.windowFrames, o.threshold),
    encodeKept(o.streamId, (k) => from(o.encode(k)).pipe(map(ok)), failed),
  );
  return { score, rest };
}

/**
 * The write path of one stream: score every frame, reduce windows, encode the kept frames; one FeatureWindow per
 * window. `scoreFailed` is told of each frame the gate left out (it holds no window slot).
 */
export function writePath(
  o: WritePathOptions,
  scoreFailed: () => void = () => {},
): OperatorFunction<SampledFrame, FeatureWindow> {
  return (source) =>
    defer(() => {
      const { score, rest } = stages(o, scoreFailed);
      return source.pipe(score, rest);
    });
}

/**
 * The write path pulling from a source with backpressure: the next frame is taken only once the previous one is
 * scored (so under overload a live source's own queue, and its drop policy, absorbs it), and at most two windows of
 * frames are in flight (a fast replay waits for the models). A frame holds its slot until its window is encoded, or
 * until the gate leaves it out. Unsubscribing stops the pulling.
 */
export function runWritePath(
  frames: AsyncIterable<SampledFrame>,
  o: WritePathOptions,
): Observable<FeatureWindow> {
  return defer(() => {
    const credits = new Credits(2 * o.windowFrames);
    const { score, rest } = stages(o, () => credits.release());
    const scoreOne = (f: SampledFrame): Promise<Scored | null> => {
      if (f.sessionEnd) credits.release(); // a marker holds no window slot
      return firstValueFrom(of(f).pipe(score), { defaultValue: null });
    };
    return pullMap(frames, scoreOne, credits).pipe(
      filter((s): s is Scored => s !== null),
      rest,
      tap((w) => credits.release(w.frames)),
    );
  });
}
