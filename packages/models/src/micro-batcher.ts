/**
 * Groups single-item calls into batches: a batch runs when `maxBatch` items wait or `maxWaitMs` after the first one
 * arrived, whichever comes first. Each caller gets its own result (or the batch's error).
 */
export function microBatcher<T, R>(
  runBatch: (items: T[]) => Promise<R[]>,
  opts: { maxBatch: number; maxWaitMs: number },
): (item: T) => Promise<R> {
  let queue: { item: T; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  let timer: NodeJS.Timeout | null = null;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    const batch = queue;
    queue = [];
    if (batch.length === 0) return;
    runBatch(batch.map((b) => b.item)).then(
      (results) => {
        batch.forEach((b, i) => {
          b.resolve(results[i]!);
        });
      },
      (err) => {
        for (const b of batch) b.reject(err);
      },
    );
  };
  return (item: T) =>
    new Promise<R>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      if (queue.length >= opts.maxBatch) flush();
      else timer ??= setTimeout(flush, opts.maxWaitMs);
    });
}
