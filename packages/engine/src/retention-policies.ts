import { Registry } from '@lvu/core';

/** What a retention policy sees of a retained frame. */
export interface RetentionCandidate {
  ptsMs: number;
  /** Its rank among every frame the stream kept (eviction leaves gaps). */
  ordinal: number;
}

/**
 * Which retained frame goes when a stream's context is full. `victim` returns an index into `frames` (time order,
 * at least 3; never the newest, so the covered span stays whole: index 0 to n−2).
 */
export interface RetentionPolicy {
  readonly name: string;
  readonly description: string;
  victim(frames: readonly RetentionCandidate[], o: { denseMs: number }): number;
}

/** The interior frame with the lowest `score` (its neighbours' spacing, in the policy's measure). */
function lowestInterior(frames: readonly RetentionCandidate[], score: (i: number) => number): number {
  let best = 1;
  let bestScore = Number.POSITIVE_INFINITY;
  for (let i = 1; i < frames.length - 1; i++) {
    const s = score(i);
    if (s < bestScore) {
      bestScore = s;
      best = i;
    }
  }
  return best;
}

const pyramid: RetentionPolicy = {
  name: 'pyramid',
  description: 'recent frames dense, older ones progressively sparser',
  victim(f, o) {
    const newest = f[f.length - 1]!.ptsMs;
    return lowestInterior(
      f,
      (i) => (f[i + 1]!.ptsMs - f[i - 1]!.ptsMs) / (o.denseMs + (newest - f[i]!.ptsMs)),
    );
  },
};

const uniform: RetentionPolicy = {
  name: 'uniform',
  description: "evenly over the whole history (LongVU's 400-frame cap, applied online)",
  victim: (f) => lowestInterior(f, (i) => f[i + 1]!.ordinal - f[i - 1]!.ordinal),
};

const recent: RetentionPolicy = {
  name: 'recent',
  description: 'a sliding window: the oldest frame goes',
  victim: () => 0,
};

/** The retention policies: a new one is a new entry here (the retention schema and the OpenAPI document list it). */
export const retentionPolicies = new Registry<RetentionPolicy>('retention policy', [
  pyramid,
  uniform,
  recent,
]);
