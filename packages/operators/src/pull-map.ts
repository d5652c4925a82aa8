import { Observable } from 'rxjs';
import type { Credits } from './credits.js';

/**
 * Pulls `source` one item at a time — only when `credits` has a free credit — maps each item with the async
 * `project` (up to `concurrency` at once, results in source order) and emits the results. Unsubscribing stops the
 * pulling and returns the iterator. A rejection of `project` or of the source errors the observable.
 */
export function pullMap<T, R>(
  source: AsyncIterable<T>,
  project: (item: T) => Promise<R>,
  credits: Credits,
  concurrency = 1,
): Observable<R> {
  return new Observable<R>((subscriber) => {
    const it = source[Symbol.asyncIterator]();
    let stopped = false;
    const pending: Promise<R>[] = [];
    (async () => {
      try {
        for (;;) {
          await credits.acquire();
          if (stopped) {
            credits.release();
            return;
          }
          const next = await it.next();
          if (stopped || next.done) {
            credits.release();
            break;
          }
          pending.push(project(next.value));
          if (pending.length >= concurrency) subscriber.next(await pending.shift()!);
        }
        while (pending.length > 0 && !stopped) subscriber.next(await pending.shift()!);
        if (!stopped) subscriber.complete();
      } catch (err) {
        if (!stopped) subscriber.error(err);
      }
    })();
    return () => {
      stopped = true;
      void it.return?.();
    };
  });
}
