/** An async iterable the test feeds: items pushed are taken in order; `end()` ends the iteration after them. */
export function pushable<T>() {
  const queue: T[] = [];
  let wake: (() => void) | null = null;
  let done = false;
  return {
    push(...items: T[]) {
      queue.push(...items);
      wake?.();
    },
    end() {
      done = true;
      wake?.();
    },
    async *[Symbol.asyncIterator](): AsyncGenerator<T> {
      for (;;) {
        if (queue.length) yield queue.shift()!;
        else if (done) return;
        else await new Promise<void>((r) => (wake = r));
      }
    },
  };
}
