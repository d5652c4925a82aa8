import { of, throwError } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { encodeKept } from './encode-kept.js';
import type { ReducedWindow } from './reduce-windows.js';
import type { Scored } from './score-frames.js';
import { scored, testRow } from './test-frames.js';

const scheduler = () => new TestScheduler((a, b) => expect(a).toEqual(b));

function window(n: number, keptSeqs: number[]): ReducedWindow {
  return {
    window: n,
    start: n * 4,
    frames: 4,
    kept: keptSeqs.map((s) => ({ index: s, item: scored(s, 0), score: s / 10 })),
    scores: new Float64Array(4),
    lastSeq: n * 4 + 3,
    lastPtsMs: (n * 4 + 3) * 1000,
    lastWallMs: 0,
  };
}

const row = testRow;

describe('encodeKept', () => {
  it('encodes only the kept frames, in order, one window after another, and emits each window once encoded', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const calls: number[] = [];
      const encode = (k: Scored) => {
        calls.push(k.frame.seq);
        return cold('--(r|)', { r: row(k) });
      };
      const out = cold('ab|', { a: window(0, [1, 3]), b: window(1, [5]) }).pipe(
        encodeKept('s', encode, () => {}),
      );
      expectObservable(out).toBe('----x-(y|)', {
        x: expect.objectContaining({
          window: 0,
          lastSeq: 3,
          scores: [0.1, 0.3],
          rows: [row(scored(1, 0)), row(scored(3, 0))],
        }),
        y: expect.objectContaining({ window: 1, rows: [row(scored(5, 0))], scores: [0.5] }),
      });
    });
  });

  it('leaves out a frame it fails on and still emits its window (the checkpoint moves past it)', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const failed: number[] = [];
      const encode = (k: Scored) =>
        k.frame.seq === 1 ? throwError(() => new Error('NaN grid')) : of(row(k));
      const out = cold('a|', { a: window(0, [1, 2]) }).pipe(
        encodeKept('s', encode, (f) => failed.push(f.seq)),
      );
      expectObservable(out).toBe('a|', {
        a: expect.objectContaining({ rows: [row(scored(2, 0))], scores: [0.2], lastSeq: 3 }),
      });
    });
  });

  it('emits an empty window when nothing was kept', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const out = cold('a|', { a: window(2, []) }).pipe(
        encodeKept(
          's',
          () => of(),
          () => {},
        ),
      );
      expectObservable(out).toBe('a|', { a: expect.objectContaining({ window: 2, rows: [], scores: [] }) });
    });
  });
});
