import { describe, expect, it } from 'vitest';
import { EdgeSessions } from './edge-sessions.js';

/** Decides and, when taken, records one frame; returns the decision's kind and the stream seq/pts it got. */
function offer(s: EdgeSessions, epoch: number, seq: number, ptsMs: number, wallMs = 0) {
  const d = s.decide('cam', epoch, seq, seq, ptsMs, wallMs);
  if (d.kind !== 'take') return d.kind;
  s.take('cam', epoch, d, seq, ptsMs, wallMs);
  return [seq + d.base, ptsMs + d.ptsShiftMs];
}

describe('EdgeSessions', () => {
  it('one edge: its seqs as they are; redeliveries are duplicates', () => {
    const s = new EdgeSessions();
    expect([0, 1, 2].map((q) => offer(s, 5, q, q * 1000))).toEqual([
      [0, 0],
      [1, 1000],
      [2, 2000],
    ]);
    expect(offer(s, 5, 1, 1000)).toBe('duplicate');
    expect(offer(s, 5, 3, 3000)).toEqual([3, 3000]);
  });

  it('a restarted edge (newer epoch, seq and media time from 0) continues after the last frame', () => {
    const s = new EdgeSessions();
    offer(s, 5, 0, 0, 100);
    offer(s, 5, 1, 1000, 1100);
    expect(offer(s, 9, 0, 0, 5100)).toEqual([2, 1000 + 4000]); // after the last frame, by the wall-clock gap
    expect(offer(s, 9, 1, 1000, 6100)).toEqual([3, 6000]);
    expect(offer(s, 5, 2, 2000)).toBe('stale'); // the old session again
  });

  it('a seq further ahead than media time allows is refused, and does not move the stream', () => {
    const s = new EdgeSessions();
    offer(s, 5, 0, 0);
    expect(offer(s, 5, 1_000_000, 1000)).toBe('jump');
    expect(offer(s, 5, 1, 1000)).toEqual([1, 1000]);
    expect(offer(s, 5, 200, 60_000)).toEqual([200, 60_000]); // 199 frames in a minute: plausible
  });

  it('the state at a checkpoint seq restores the mapping a replay after it needs', () => {
    const a = new EdgeSessions({ history: true });
    for (let q = 0; q < 4; q++) offer(a, 5, q, q * 1000, q * 1000);
    const at = a.stateAt('cam', 1); // a checkpoint covering stream seq 1
    for (let q = 0; q < 3; q++) offer(a, 9, q, q * 1000, 10_000 + q * 1000); // then the edge restarted
    const b = new EdgeSessions({ history: true });
    b.restore('cam', at ?? undefined, 1);
    // what comes after the checkpoint is replayed and maps as the first time
    expect([2, 3].map((q) => offer(b, 5, q, q * 1000, q * 1000))).toEqual([
      [2, 2000],
      [3, 3000],
    ]);
    expect(offer(b, 9, 0, 0, 10_000)).toEqual([4, 10_000]); // as in the first run: after seq 3 at 3 s, 7 s later
  });
});
