import type { SampledFrame } from '@lvu/core';
import {
  catchError,
  concatMap,
  EMPTY,
  from,
  map,
  type ObservableInput,
  type OperatorFunction,
  of,
} from 'rxjs';

/** A sampled frame with its temporal-reduction (DINO) vector. */
export interface Scored {
  frame: SampledFrame;
  dino: Float32Array;
}

const NO_VECTOR = new Float32Array(0);

/**
 * The DINO gate's input (docs/longvu.md §a): each frame's vector, one frame at a time in source order (so model batches
 * depend on timing only across streams and a replay is deterministic). A frame `dino` fails on is left out and
 * handed to `onError`, which may throw to fail the stream. A session-end marker passes with an empty vector.
 */
export function scoreFrames(
  dino: (frame: SampledFrame) => ObservableInput<Float32Array>,
  onError: (frame: SampledFrame, err: unknown) => void,
): OperatorFunction<SampledFrame, Scored> {
  return concatMap((frame) =>
    frame.sessionEnd
      ? of({ frame, dino: NO_VECTOR })
      : from(dino(frame)).pipe(
          map((v) => ({ frame, dino: v })),
          catchError((err) => {
            onError(frame, err);
            return EMPTY;
          }),
        ),
  );
}
