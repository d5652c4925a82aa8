import { LvuError } from '@lvu/core';
import { of, throwError } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { scoreFrames } from './score-frames.js';
import { testFrame } from './test-frames.js';

const scheduler = () => new TestScheduler((a, b) => expect(a).toEqual(b));

describe('scoreFrames', () => {
  it('scores each frame in order, one at a time, even when a later one would answer first', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const frames = { a: testFrame(0), b: testFrame(1) };
      // frame 0 takes 3 ms, frame 1 takes 1 ms: still 0 then 1, and 1 starts after 0 is done
      const dino = (f: { seq: number }) =>
        cold(f.seq === 0 ? '---(v|)' : '-(v|)', { v: new Float32Array([f.seq]) });
      const out = cold('ab|', frames).pipe(scoreFrames(dino, () => {}));
      expectObservable(out).toBe('---x(y|)', {
        x: { frame: frames.a, dino: new Float32Array([0]) },
        y: { frame: frames.b, dino: new Float32Array([1]) },
      });
    });
  });

  it('leaves out a frame the encoder fails on and reports it; a throwing handler fails the stream', () => {
    const failed: number[] = [];
    scheduler().run(({ cold, expectObservable }) => {
      const dino = (f: { seq: number }) =>
        f.seq === 1 ? throwError(() => new Error('bad pixels')) : of(new Float32Array([f.seq]));
      const out = cold('abc|', { a: testFrame(0), b: testFrame(1), c: testFrame(2) }).pipe(
        scoreFrames(dino, (f) => failed.push(f.seq)),
      );
      expectObservable(out).toBe('x-y|', {
        x: { frame: testFrame(0), dino: new Float32Array([0]) },
        y: { frame: testFrame(2), dino: new Float32Array([2]) },
      });
    });
    expect(failed).toEqual([1]);
    const fatal = new LvuError('INFERENCE_FAILED', '10 frames in a row failed');
    scheduler().run(({ cold, expectObservable }) => {
      const out = cold('a|', { a: testFrame(0) }).pipe(
        scoreFrames(
          () => throwError(() => new Error('x')),
          () => {
            throw fatal;
          },
        ),
      );
      expectObservable(out).toBe('#', undefined, fatal);
    });
  });

  it('passes a session-end marker with an empty vector, without scoring it', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const end = testFrame(3, { sessionEnd: true });
      const out = cold('e|', { e: end }).pipe(
        scoreFrames(
          () => {
            throw new Error('a marker is not scored');
          },
          () => {},
        ),
      );
      expectObservable(out).toBe('x|', { x: { frame: end, dino: new Float32Array(0) } });
    });
  });
});
