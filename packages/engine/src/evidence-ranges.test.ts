import { describe, expect, it } from 'vitest';
import { contentSimilarity, evidenceRanges } from './starter-encoder.js';

// one frame a second: a 14-second scene (frames 3–16) whose content is one thing, between two others
const dim = 4;
const content = (i: number) => (i < 3 ? [1, 0, 0, 0] : i <= 16 ? [0, 1, 0.05 * (i % 3), 0] : [0, 0, 0, 1]);
const frames = Array.from({ length: 24 }, (_, i) => ({
  lo: Float32Array.from([...content(i), ...content(i)]),
}));
const pts = frames.map((_, i) => i * 1000);
// the question matches only the middle of the scene well (scores are noisy across a scene)
const scores = frames.map((_, i) => (i >= 8 && i <= 9 ? 0.9 : i >= 3 && i <= 16 ? 0.3 : 0.1));

describe('evidence ranges', () => {
  it('the run of high scores alone is the two best seconds', () => {
    expect(evidenceRanges(pts, scores)[0]).toMatchObject({ fromMs: 8000, toMs: 9000 });
  });

  it("with the frames' content, the range covers the scene: 14 seconds, not 2", () => {
    const scene = { similarity: contentSimilarity(frames, dim), threshold: 0.8 };
    const [best, ...rest] = evidenceRanges(pts, scores, scene);
    expect(best).toMatchObject({ fromMs: 3000, toMs: 16000, first: 3, last: 16, best: 8 });
    // no other range overlaps it
    for (const r of rest) expect(r.toMs < 3000 || r.fromMs > 16000).toBe(true);
  });

  it('a threshold nothing reaches leaves the ranges as the scores made them', () => {
    const scene = { similarity: contentSimilarity(frames, dim), threshold: 1.01 };
    expect(evidenceRanges(pts, scores, scene)).toEqual(evidenceRanges(pts, scores));
  });
});
