import type { FeatureRow } from '@lvu/arrow';
import { describe, expect, it } from 'vitest';
import { askedTime, describeObjects, namedObjects, objectCounts, objectEvidence } from './object-evidence.js';

const CLASSES = [
  'person',
  'bicycle',
  'car',
  'motorcycle',
  'airplane',
  'bus',
  'train',
  'truck',
  'boat',
  'dog',
];
const box = (cls: number, score = 0.9) => [cls, score, 0.1, 0.1, 0.2, 0.4];
const frame = (streamId: string, t: number, objects: number[][] | null): FeatureRow => ({
  streamId,
  seq: t,
  ptsMs: t * 1000,
  wallMs: 1e12 + t * 1000,
  frameH: 576,
  frameW: 768,
  hi: new Float32Array(0),
  lo: new Float32Array(0),
  thumb: new Uint8Array(0),
  ...(objects ? { objects: Float32Array.from(objects.flat()) } : {}),
});

describe('object evidence', () => {
  it('finds the classes a question names: names, plurals, common words, COCO supercategories', () => {
    const names = (q: string) => namedObjects(q, CLASSES).map((n) => n.name);
    expect(names('How many people are there?')).toEqual(['person']);
    expect(names('When did a pedestrian cross?')).toEqual(['person']);
    expect(names('how many cars at 10:32?')).toEqual(['car']);
    expect(names('Any buses or trucks?')).toEqual(['bus', 'truck']);
    expect(namedObjects('Which vehicles passed?', CLASSES)).toEqual([
      {
        name: 'vehicle',
        classes: ['bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck', 'boat'],
      },
    ]);
    expect(names('Is there a bike or a dog?')).toEqual(['bicycle', 'dog']);
    expect(names('Any animals?')).toEqual(['animal']);
    // words inside other words do not count ("carpet" is no car, "scarf" no car)
    expect(names('Is the carpet red?')).toEqual([]);
    expect(names('What colour is the sky?')).toEqual([]);
  });

  it('reads a media time from the question', () => {
    expect(askedTime('how many cars at 10:32?')).toBe(632_000);
    expect(askedTime('people around 1:02:03')).toBe(3_723_000);
    expect(askedTime('how many people?')).toBeNull();
  });

  it('counts, ranges (per stream, runs of frames with at least one) and the count at a named time', () => {
    const frames = [
      frame('a', 0, []),
      frame('a', 1, [box(0), box(0)]),
      frame('b', 1, [box(0)]),
      frame('a', 2, [box(0), box(2)]),
      frame('b', 2, []),
      frame('a', 3, null), // kept without a detector: not counted
      frame('a', 4, [box(0), box(0), box(0)]),
      frame('a', 5, [box(2)]),
    ];
    const [e] = objectEvidence('How many people were there at 00:04?', frames, CLASSES);
    expect(e!.name).toBe('person');
    expect(e!.framesSeen).toBe(7);
    expect(e!.framesWith).toBe(4);
    expect(e!.top.map((f) => [f.streamId, f.ptsMs, f.count])).toEqual([
      ['a', 4000, 3],
      ['a', 1000, 2],
      ['b', 1000, 1],
      ['a', 2000, 1],
    ]);
    // a's frames 1–4 are one run (the frame without detector output does not break it), b's frame 1 another
    expect(e!.ranges.map((r) => [r.streamId, r.fromMs, r.toMs, r.frames, r.max])).toEqual([
      ['a', 1000, 4000, 3, 3],
      ['b', 1000, 1000, 1, 1],
    ]);
    expect(e!.seconds).toBe(3);
    expect(e!.at).toMatchObject({ ptsMs: 4000, count: 3 });
    expect(describeObjects([e!], true)).toBe(
      'person: 3 at 00:04; 3 at most (a 00:04), seen in 4 of 7 frames, a 00:01–00:04 (up to 3), b 00:01',
    );
    expect(objectCounts(frames[3]!.objects!, CLASSES)).toEqual({ person: 1, car: 1 });
    // no detector output at all, or no class named: no object evidence
    expect(objectEvidence('How many people?', [frame('a', 0, null)], CLASSES)).toEqual([]);
    expect(objectEvidence('What happens?', frames, CLASSES)).toEqual([]);
    expect(objectEvidence('How many people?', frames, undefined)).toEqual([]);
    const dog = objectEvidence('Is there a dog?', frames, CLASSES)[0]!;
    expect(describeObjects([dog], false)).toBe('dog: none seen in 7 frames');
  });
});
