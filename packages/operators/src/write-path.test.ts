import type { SampledFrame } from '@lvu/core';
import { lastValueFrom, of, tap, throwError, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { testFrame, testRow } from './test-frames.js';
import { runWritePath, type WritePathOptions, writePath } from './write-path.js';

/** Frames whose vectors are alike within runs of 4 and differ between runs. */
const axisOf = (seq: number) => Math.floor(seq / 4) % 4;
const vector = (f: SampledFrame) => {
  const v = new Float32Array(4);
  v[axisOf(f.seq)] = 1;
  return v;
};
const row = testRow;

function options(o: Partial<WritePathOptions> = {}): WritePathOptions {
  return {
    streamId: 's',
    windowFrames: 4,
    threshold: 0.83,
    dino: (f) => of(vector(f)),
    encode: (k) => of(row(k)),
    onFrameError: () => {},
    ...o,
  };
}

describe('writePath', () => {
  it('composes score → reduce → encode: one window per 4 frames, the last partial one at completion', () => {
    new TestScheduler((a, b) => expect(a).toEqual(b)).run(({ cold, expectObservable }) => {
      const f = Object.fromEntries([...'abcdefghij'].map((c, i) => [c, testFrame(i)]));
      expectObservable(cold('abcdefghij|', f).pipe(writePath(options()))).toBe('---x---y--(z|)', {
        x: expect.objectContaining({
          window: 0,
          frames: 4,
          lastSeq: 3,
          rows: [expect.objectContaining({ seq: 2 })],
        }),
        y: expect.objectContaining({ window: 1, frames: 4, lastSeq: 7 }),
        z: expect.objectContaining({ window: 2, frames: 2, lastSeq: 9 }),
      });
    });
  });
});

describe('runWritePath', () => {
  it('pulls with backpressure: never more than two windows of frames ahead of the encoder', async () => {
    let pulled = 0;
    let encodedWindows = 0;
    let maxAhead = 0;
    async function* frames() {
      for (let i = 0; i < 40; i++) {
        pulled++;
        maxAhead = Math.max(maxAhead, pulled - encodedWindows * 4);
        yield testFrame(i);
      }
    }
    const windows = await lastValueFrom(
      runWritePath(
        frames(),
        options({
          encode: async (k) => {
            await new Promise((r) => setTimeout(r, 2));
            return row(k);
          },
        }),
      ).pipe(
        tap(() => encodedWindows++),
        toArray(),
      ),
    );
    expect(windows.map((w) => w.lastSeq)).toEqual([3, 7, 11, 15, 19, 23, 27, 31, 35, 39]);
    expect(maxAhead).toBeLessThanOrEqual(2 * 4 + 4); // the credits (2 windows) plus the window being encoded
  });

  it('takes the next frame only once the previous one is scored (a live source keeps its own drop policy)', async () => {
    let pulled = 0;
    let scored = 0;
    let maxAhead = 0;
    async function* frames() {
      for (let i = 0; i < 20; i++) {
        pulled++;
        maxAhead = Math.max(maxAhead, pulled - scored);
        yield testFrame(i);
      }
    }
    await lastValueFrom(
      runWritePath(
        frames(),
        options({
          dino: async (f) => {
            await new Promise((r) => setTimeout(r, 1));
            scored++;
            return vector(f);
          },
        }),
      ).pipe(toArray()),
    );
    expect(scored).toBe(20);
    expect(maxAhead).toBe(1);
  });

  it('counts a frame the gate fails on as free (its slot is returned) and goes on', async () => {
    const failed: number[] = [];
    async function* frames() {
      for (let i = 0; i < 12; i++) yield testFrame(i);
    }
    const ws = await lastValueFrom(
      runWritePath(
        frames(),
        options({
          dino: (f) => (f.seq % 2 ? throwError(() => new Error('corrupt')) : of(vector(f))),
          onFrameError: (f) => failed.push(f.seq),
        }),
      ).pipe(toArray()),
    );
    expect(failed).toEqual([1, 3, 5, 7, 9, 11]);
    expect(ws.reduce((n, w) => n + w.frames, 0)).toBe(6);
  });
});
