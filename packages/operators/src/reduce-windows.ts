import type { ClosedWindow } from '@lvu/compress';
import { defer, map, type OperatorFunction, tap } from 'rxjs';
import type { Scored } from './score-frames.js';
import { temporalReduce } from './temporal-reduce.js';

/** A closed temporal-reduction window, with the seq and times of its last frame (what a checkpoint covers). */
export interface ReducedWindow extends ClosedWindow<Scored> {
  lastSeq: number;
  lastPtsMs: number;
  lastWallMs: number;
}

/**
 * LongVU's temporal reduction over scored frames: windows of `windowFrames`, frames kept by `threshold`, each closed
 * window with its kept frames and the seq, pts and wall time of its last frame. A session-end marker closes the
 * open window; the source's completion closes the last one.
 */
export function reduceWindows(
  windowFrames: number,
  threshold: number,
): OperatorFunction<Scored, ReducedWindow> {
  return (source) =>
    defer(() => {
      // the frames that entered the reduction and whose window has not closed, from `base` on
      const open: { seq: number; ptsMs: number; wallMs: number }[] = [];
      let base = 0;
      return source.pipe(
        tap(({ frame: f }) => {
          if (!f.sessionEnd) open.push({ seq: f.seq, ptsMs: f.ptsMs, wallMs: f.wallMs });
        }),
        temporalReduce<Scored>(
          windowFrames,
          threshold,
          (s) => s.dino,
          (s) => s.frame.sessionEnd === true,
        ),
        map((w) => {
          const end = w.start + w.frames - base;
          const last = open[end - 1]!;
          open.splice(0, end);
          base += end;
          return { ...w, lastSeq: last.seq, lastPtsMs: last.ptsMs, lastWallMs: last.wallMs };
        }),
      );
    });
}
