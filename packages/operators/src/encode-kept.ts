import type { FeatureRow, FeatureWindow } from '@lvu/arrow';
import type { SampledFrame } from '@lvu/core';
import {
  catchError,
  concatMap,
  EMPTY,
  from,
  map,
  type ObservableInput,
  type OperatorFunction,
  toArray,
} from 'rxjs';
import type { ReducedWindow } from './reduce-windows.js';
import type { Scored } from './score-frames.js';

/**
 * The second half of LongVU's write path (SigLIP + DINO → SVA → projector, docs/longvu.md §b) for the kept frames of each
 * closed window only, in order: each window becomes one FeatureWindow (a FeatureBatch's rows and their scores). A
 * frame `encode` fails on is left out of its window and handed to `onError`, which may throw to fail the stream.
 */
export function encodeKept(
  streamId: string,
  encode: (kept: Scored) => ObservableInput<FeatureRow>,
  onError: (frame: SampledFrame, err: unknown) => void,
): OperatorFunction<ReducedWindow, FeatureWindow> {
  return concatMap((w) =>
    from(w.kept).pipe(
      concatMap((k) =>
        from(encode(k.item)).pipe(
          map((row) => ({ row, score: k.score })),
          catchError((err) => {
            onError(k.item.frame, err);
            return EMPTY;
          }),
        ),
      ),
      toArray(),
      map(
        (kept): FeatureWindow => ({
          streamId,
          window: w.window,
          start: w.start,
          frames: w.frames,
          lastSeq: w.lastSeq,
          lastPtsMs: w.lastPtsMs,
          lastWallMs: w.lastWallMs,
          rows: kept.map((k) => k.row),
          scores: kept.map((k) => k.score),
        }),
      ),
    ),
  );
}
