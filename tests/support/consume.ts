import type { LvuEvent, SampledFrame } from '@lvu/core';
import { VideoSource, type VideoSourceInput } from '@lvu/ffmpeg';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Consumes a source in the background, recording frames and events with their arrival times; `sources` collects
 * it so that an afterEach can stop whatever a failed test left running.
 */
export function consume(src: VideoSource, sources: VideoSource[] = []) {
  sources.push(src);
  const frames: (SampledFrame & { at: number })[] = [];
  const events: (LvuEvent & { at: number })[] = [];
  src.events.on((e) => events.push({ ...e, at: Date.now() }));
  let error: unknown = null;
  const done = (async () => {
    try {
      for await (const f of src) frames.push({ ...f, at: Date.now() });
    } catch (e) {
      error = e;
    }
  })();
  const until = async (pred: () => boolean, ms: number, what: string) => {
    const end = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > end)
        throw new Error(`timed out waiting for ${what}; events: ${events.map((e) => e.type).join(', ')}`);
      await sleep(50);
    }
  };
  const count = (type: LvuEvent['type'], since = 0) =>
    events.filter((e) => e.type === type && e.at >= since).length;
  return { frames, events, done, until, count, error: () => error };
}

/** Reads a finite source to its end: its frames, events, error (null when none) and stats. */
export async function collect(source: string, options: VideoSourceInput = {}) {
  const src = new VideoSource(source, options);
  const events: LvuEvent[] = [];
  src.events.on((e) => events.push(e));
  const frames: SampledFrame[] = [];
  let error: unknown = null;
  try {
    for await (const f of src) frames.push(f);
  } catch (e) {
    error = e;
  }
  return { frames, events, error, stats: src.stats };
}
