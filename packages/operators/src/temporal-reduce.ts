import { type ClosedWindow, StreamingTemporalReducer } from '@lvu/compress';
import type { FloatArray } from '@lvu/core';
import { Observable, type OperatorFunction } from 'rxjs';

/**
 * LongVU's temporal reduction (docs/longvu.md §a) as an operator: items enter windows of `windowFrames` by their DINO
 * vector; each closed window is emitted with its kept items and scores. The last partial window closes when the
 * source completes, or at an item `isFlush` marks (not a frame: the end of an edge session), after which windows
 * go on. A NaN vector or a size change errors the stream (StreamingTemporalReducer's checks).
 */
export function temporalReduce<T>(
  windowFrames: number,
  threshold: number,
  vectorOf: (item: T) => FloatArray,
  isFlush: (item: T) => boolean = () => false,
): OperatorFunction<T, ClosedWindow<T>> {
  return (source) =>
    new Observable<ClosedWindow<T>>((subscriber) => {
      const reducer = new StreamingTemporalReducer<T>(windowFrames, threshold);
      return source.subscribe({
        next(item) {
          let closed: ClosedWindow<T> | null;
          try {
            closed = isFlush(item) ? reducer.flush() : reducer.push(vectorOf(item), item);
          } catch (err) {
            subscriber.error(err);
            return;
          }
          if (closed) subscriber.next(closed);
        },
        error: (err) => subscriber.error(err),
        complete() {
          const last = reducer.flush();
          if (last) subscriber.next(last);
          subscriber.complete();
        },
      });
    });
}
